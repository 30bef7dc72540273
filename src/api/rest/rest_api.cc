#include "api/rest/rest_api.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "api/rest/json_codec.h"
#include "common/ids.h"
#include "common/log_context.h"

namespace vbs {

RestApi::RestApi(RestServices services) : s_(services) {
  AddUserRoutes();
  AddAdminRoutes();
  AddAccountRoutes();
  AddHomeRoutes();
  AddPublicRoutes();
  AddAgentRoutes();
}

HttpResponse RestApi::Handle(const HttpRequest& req) {
  const auto start = std::chrono::steady_clock::now();
  // Every line logged while this request is served carries its id; so does the answer, and
  // the operations it queues (their agent logs it too).
  const std::string request_id = NewRequestId();
  const bool verified = req.peer.verified && req.peer.identity;
  const bool node = verified && req.peer.identity->role == CertRole::kNode;
  LogScope scope({{"request_id", request_id},
                  {node ? "node" : "user", verified ? req.peer.identity->common_name : ""}});
  std::string action = "unknown";
  HttpResponse resp = Serve(req, &action);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (s_.metrics != nullptr) s_.metrics->Record("rest", action, resp.status, seconds);
  resp.headers.emplace_back("X-Request-Id", request_id);
  // One line per call that changes something (agents' polls and reads only at debug level).
  const bool quiet = req.method == "GET" || req.path.rfind("/v1/agent/", 0) == 0;
  spdlog::log(quiet ? spdlog::level::debug : spdlog::level::info, "rest {} -> {} ({:.1f} ms)",
              action == "unknown" ? req.method + " " + req.path : action, resp.status,
              seconds * 1000);
  return resp;
}

// /metrics: for monitor certificates (Prometheus) and admins.
HttpResponse RestApi::Metrics(const HttpRequest& req, const RestContext& ctx) {
  if (req.method != "GET") {
    return ErrorResponse(Status(StatusKind::kMethodNotAllowed, "MethodNotAllowed",
                                req.method + " is not allowed on /metrics"));
  }
  const bool monitor = ctx.identity.role == CertRole::kMonitor;
  if (!monitor && !ctx.caller.admin) {
    return ErrorResponse(Status::PermissionDenied(
        "UnauthorizedOperation", "/metrics is for monitor certificates and administrators"));
  }
  HttpResponse resp;
  resp.content_type = kMetricsContentType;
  resp.body = s_.registry != nullptr ? s_.registry->Render() : std::string();
  return resp;
}

HttpResponse RestApi::Serve(const HttpRequest& req, std::string* action) {
  if (!req.peer.present) {
    return ErrorResponse(Status::Unauthenticated(
        "MissingClientCertificate",
        "this API requires a client certificate issued by the VBS CA (vbs admin user create)"));
  }
  if (!req.peer.verified || !req.peer.identity) {
    return ErrorResponse(Status::Unauthenticated(
        "InvalidClientCertificate",
        "the client certificate was not accepted: " + req.peer.verify_error));
  }
  RestContext ctx;
  ctx.identity = *req.peer.identity;
  const bool agent_path = req.path.rfind("/v1/agent/", 0) == 0;
  const bool metrics_path = req.path == "/metrics";
  if (ctx.identity.role == CertRole::kMonitor) {
    // Prometheus' certificate: it is nobody's user record and may read the metrics only.
    if (!metrics_path) {
      return ErrorResponse(Status::PermissionDenied("UnauthorizedOperation",
                                                    "monitor certificates may read /metrics only"));
    }
  } else if (ctx.identity.role == CertRole::kServer) {
    return ErrorResponse(Status::PermissionDenied("UnauthorizedOperation",
                                                  "server certificates do not call the API"));
  } else if (ctx.identity.role != CertRole::kNode) {
    auto caller =
        s_.auth->ForCertificate(CertificateOf(ctx.identity), ctx.identity.role == CertRole::kAdmin);
    if (!caller.ok()) return ErrorResponse(caller.status());
    ctx.caller = *caller;
  }
  HttpResponse resp;
  if (metrics_path && !agent_path && ctx.identity.role != CertRole::kNode) {
    *action = "GET /metrics";
    resp = Metrics(req, ctx);
  } else {
    resp = Route(req, ctx, agent_path, action);
  }
  resp.authenticated = true;  // the server keeps the connection (http_server.h)
  return resp;
}

HttpResponse RestApi::Route(const HttpRequest& req, RestContext& ctx, bool agent_path,
                            std::string* action) {
  const bool is_node = ctx.identity.role == CertRole::kNode;
  if (agent_path != is_node) {
    return ErrorResponse(Status::PermissionDenied(
        "UnauthorizedOperation", is_node ? "node certificates may call only /v1/agent/ endpoints"
                                         : "agent endpoints need a node certificate"));
  }
  const auto& routes = agent_path ? agent_routes_ : user_routes_;
  PathParams params;
  bool path_known = false;
  const auto* handler = routes.Find(req.method, req.path, &params, &path_known, action);
  if (!handler) {
    if (path_known) {
      return ErrorResponse(Status(StatusKind::kMethodNotAllowed, "MethodNotAllowed",
                                  req.method + " is not allowed on " + req.path));
    }
    return ErrorResponse(Status::NotFound("NotFound", "no such endpoint: " + req.path));
  }
  HttpResponse resp = (*handler)(req, params, ctx);
  if (resp.status >= 500) {
    spdlog::error("{} {} by {} -> {}: {}", req.method, req.path, ctx.identity.common_name,
                  resp.status, resp.body);
  }
  return resp;
}

}  // namespace vbs
