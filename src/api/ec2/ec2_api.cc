#include "api/ec2/ec2_api.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "api/ec2/errors.h"
#include "common/ids.h"
#include "common/log_context.h"

namespace vbs::ec2 {
namespace {

// Keys that do not change which items a Describe call selects: not part of a token's scope.
bool OutsidePageScope(const std::string& key) {
  return key == "NextToken" || key == "MaxResults" || key == "DryRun" || key == "Version" ||
         key.rfind("X-Amz-", 0) == 0;
}

}  // namespace

Ec2Api::Ec2Api(Ec2Services services, Ec2Options options)
    : s_(std::move(services)), options_(std::move(options)), paginator_(options_.token_key) {
  if (!options_.now_unix)
    options_.now_unix = [] { return static_cast<int64_t>(std::time(nullptr)); };
  AddVolumeHandlers(handlers_, s_, paginator_);
  AddSnapshotHandlers(handlers_, s_, paginator_);
  AddTagHandlers(handlers_, s_, paginator_);
  AddPlacementHandlers(handlers_, s_, paginator_);
  AddModificationHandlers(handlers_, s_, paginator_);
}

Result<Caller> Ec2Api::Authenticate(const HttpRequest& req, const Params&, std::string* region) {
  SigV4Request sr{req.method, req.path, req.query, req.headers, req.body};
  VBS_ASSIGN_OR_RETURN(SigV4Auth auth, ParseSigV4(sr, options_.sigv4));
  VBS_ASSIGN_OR_RETURN(auto owner, s_.resolve_key(auth.access_key_id));
  if (!owner) return CredentialsNotValidated();  // as a wrong signature: no key enumeration
  if (req.headers.count("x-amz-security-token")) {
    return Status::Unauthenticated("AuthFailure",
                                   "session tokens are not supported: use an access key from "
                                   "`vbs admin user create` without AWS_SESSION_TOKEN");
  }
  VBS_RETURN_IF_ERROR(VerifySigV4(sr, auth, owner->secret, options_.now_unix(), options_.sigv4));
  VBS_RETURN_IF_ERROR(owner->standing);  // UserDisabled: only to whom holds the secret
  *region = auth.region;
  return owner->caller;
}

HttpResponse Ec2Api::Handle(const HttpRequest& req) {
  const auto start = std::chrono::steady_clock::now();
  std::string action = "unknown";
  HttpResponse resp = Serve(req, &action);
  if (options_.metrics != nullptr) {
    options_.metrics->Record(
        "ec2", action, resp.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return resp;
}

HttpResponse Ec2Api::Serve(const HttpRequest& req, std::string* action_name) {
  const std::string request_id = NewRequestId();
  LogScope log_scope({{"request_id", request_id}});
  bool authenticated = false;  // tells the server to keep the connection (http_server.h)
  auto fail = [&](const Status& st, const std::string& who) {
    HttpResponse r = Ec2ErrorResponse(st, request_id);
    r.authenticated = authenticated;
    if (r.status >= 500) {
      spdlog::error("ec2 {} by {} -> {}: {}", request_id, who, r.status, st.ToString());
    }
    return r;
  };
  if (req.method != "POST" && req.method != "GET") {
    return fail(Status::InvalidArgument("InvalidRequest",
                                        "the EC2 API takes POST / (form body) or GET /?Action=…"),
                "-");
  }
  std::multimap<std::string, std::string> raw = req.query;
  if (req.method == "POST" && !req.body.empty()) {
    auto form = ParseQuery(req.body);
    if (!form.ok()) return fail(form.status(), "-");
    raw.insert(form->begin(), form->end());
  }
  Params params(raw);
  std::string region;
  auto caller = Authenticate(req, params, &region);
  if (!caller.ok()) return fail(caller.status(), "-");
  authenticated = true;
  LogScope who({{"user", caller->user}});

  auto action = params.Get("Action");
  if (!action || action->empty()) {
    return fail(
        Status::InvalidArgument("MissingAction", "The request must contain the parameter Action"),
        caller->user);
  }
  auto handler = handlers_.find(*action);
  if (handler == handlers_.end()) {
    return fail(Status::InvalidArgument("InvalidAction", "The action " + *action +
                                                             " is not valid for this web service."),
                caller->user);
  }
  *action_name = *action;  // a known one: the metrics' label set stays bounded
  auto dry_run = params.Bool("DryRun");
  if (!dry_run.ok()) return fail(dry_run.status(), caller->user);

  std::string scope = caller->user + "\n" + *action;
  for (const auto& [k, v] : raw) {
    if (!OutsidePageScope(k)) scope += "\n" + k + "=" + v;
  }
  Ec2Request call{params, *caller, *action, region, scope, *dry_run};
  XmlWriter x(*action + "Response");
  x.Text("requestId", request_id);
  Status st = handler->second(call, x);
  spdlog::log(action->rfind("Describe", 0) == 0 ? spdlog::level::debug : spdlog::level::info,
              "ec2 {} -> {}", *action, st.ok() ? "ok" : st.code());
  if (!st.ok()) return fail(st, caller->user);
  HttpResponse ok = XmlResponse(200, x.Finish(), request_id);
  ok.authenticated = true;
  return ok;
}

}  // namespace vbs::ec2
