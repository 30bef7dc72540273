// Ec2Api: the EC2 Query face (reference/ec2-ebs-api.md; design.md §9) at "/" on the same
// HTTPS listener as the REST API: POST / with a form body, or GET /?Action=…; XML answers and
// the EC2 error envelope. Every request is authenticated with AWS Signature V4 against an
// access key that `vbs admin user create` issued; the key stands for the same user as that
// user's certificate, so the core/ services apply the same ownership rules as on the REST
// face. Handlers (one file per resource) only translate: no business rule lives here.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "api/api_metrics.h"
#include "api/ec2/pagination.h"
#include "api/ec2/params.h"
#include "api/ec2/xml_writer.h"
#include "api/http_server.h"
#include "auth/sigv4.h"
#include "core/admin_service.h"
#include "core/attachment_service.h"
#include "core/authenticator.h"
#include "core/snapshot_service.h"
#include "core/tag_service.h"
#include "core/volume_service.h"

namespace vbs::ec2 {

struct Ec2Services {
  VolumeService* volumes;
  SnapshotService* snapshots;
  AttachmentService* attachments;
  AdminService* admin;
  TagService* tags;
  // The user an access key stands for, and its secret (core/authenticator.h).
  std::function<Result<std::optional<AccessKeyOwner>>(const std::string&)> resolve_key;
};

struct Ec2Options {
  std::string token_key;  // HMAC key of pagination tokens (the same on every server)
  SigV4Policy sigv4;
  std::function<int64_t()> now_unix;  // the clock (seconds); tests may fix it
  ApiMetrics* metrics = nullptr;      // records every request (null: not recorded)
};

// One authenticated call as a handler sees it.
struct Ec2Request {
  const Params& params;
  Caller caller;
  std::string action;
  std::string region;      // from the signature's scope: the region the client names
  std::string page_scope;  // binds pagination tokens to this caller and query
  bool dry_run = false;
};

// A handler writes the members of the answer under the <ActionResponse> root.
using Ec2Handler = std::function<Status(const Ec2Request&, XmlWriter&)>;
using Ec2Handlers = std::map<std::string, Ec2Handler>;

class Ec2Api {
 public:
  Ec2Api(Ec2Services services, Ec2Options options);
  HttpResponse Handle(const HttpRequest& req);

 private:
  // Handle without the metrics: sets *action to the action it ran (one it knows).
  HttpResponse Serve(const HttpRequest& req, std::string* action);
  Result<Caller> Authenticate(const HttpRequest& req, const Params& params, std::string* region);
  Ec2Services s_;
  Ec2Options options_;
  Paginator paginator_;
  Ec2Handlers handlers_;
};

// Registration, one per resource file.
void AddVolumeHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages);
void AddSnapshotHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages);
void AddTagHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages);
void AddPlacementHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages);
void AddModificationHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages);

}  // namespace vbs::ec2
