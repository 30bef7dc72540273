// RestApi: the native JSON API under /v1/ (docs/rest-api.md) over core/ services.
//
// Authentication is the verified client certificate: no certificate → 401
// MissingClientCertificate, one that does not chain to the CA → 401 InvalidClientCertificate.
// Node certificates may call only /v1/agent/…, monitor certificates only GET /metrics (as
// may admins); users and admins everything else, as the
// users table says on every request (core/authenticator.h: UserDisabled, UserDeleted; the
// role is the database's, not the certificate's OU). Handlers hold no business rules.
#pragma once

#include <memory>

#include "api/api_metrics.h"
#include "api/http_server.h"
#include "api/rest/router.h"
#include "auth/pki.h"
#include "core/admin_service.h"
#include "core/attachment_service.h"
#include "core/authenticator.h"
#include "core/home_service.h"
#include "core/public_service.h"
#include "core/snapshot_service.h"
#include "core/volume_service.h"
#include "core/work_service.h"

namespace vbs {

struct RestServices {
  VolumeService* volumes;
  SnapshotService* snapshots;
  WorkService* work;
  AdminService* admin;
  AttachmentService* attachments;
  const CertificateAuthority* ca;  // issues user certificates; null: the CA key is kept offline
  Authenticator* auth;
  ApiMetrics* metrics = nullptr;              // records every request (null: not recorded)
  const MetricsRegistry* registry = nullptr;  // what GET /metrics renders
  HomeService* homes = nullptr;               // VBSFS homes (null: /v1/homes answers 404)
  PublicService* public_volume = nullptr;     // VBSFS's public volume (null: 404)
};

struct RestContext {
  CertIdentity identity;
  Caller caller;  // for user and admin certificates: as the users table says (not the OU)
};

// A presented or issued certificate as the users table records it (admin_routes.cc).
CertificateRecord CertificateOf(const CertIdentity& id);

class RestApi {
 public:
  explicit RestApi(RestServices services);
  HttpResponse Handle(const HttpRequest& req);

 private:
  void AddUserRoutes();
  void AddAdminRoutes();
  void AddAccountRoutes();
  void AddHomeRoutes();    // home_routes.cc
  void AddPublicRoutes();  // public_routes.cc
  // Handle without the metrics: sets *action to the route ("METHOD /pattern") it took.
  HttpResponse Serve(const HttpRequest& req, std::string* action);
  HttpResponse Metrics(const HttpRequest& req, const RestContext& ctx);
  // After authentication: the route's answer.
  HttpResponse Route(const HttpRequest& req, RestContext& ctx, bool agent_path,
                     std::string* action);
  void AddAgentRoutes();
  RestServices s_;
  Router<RestContext> user_routes_;
  Router<RestContext> agent_routes_;
};

}  // namespace vbs
