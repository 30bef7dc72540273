#include "api/rest/rest_api.h"

#include <spdlog/spdlog.h>

#include "api/rest/json_codec.h"

namespace vbs {

RestApi::RestApi(RestServices services) : s_(services) {
  AddUserRoutes();
  AddAdminRoutes();
  AddAccountRoutes();
  AddAgentRoutes();
}

HttpResponse RestApi::Handle(const HttpRequest& req) {
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
  if (ctx.identity.role != CertRole::kNode) {
    auto caller =
        s_.auth->ForCertificate(CertificateOf(ctx.identity), ctx.identity.role == CertRole::kAdmin);
    if (!caller.ok()) return ErrorResponse(caller.status());
    ctx.caller = *caller;
  }
  HttpResponse resp = Route(req, ctx, agent_path);
  resp.authenticated = true;  // the server keeps the connection (http_server.h)
  return resp;
}

HttpResponse RestApi::Route(const HttpRequest& req, RestContext& ctx, bool agent_path) {
  const bool is_node = ctx.identity.role == CertRole::kNode;
  if (agent_path != is_node) {
    return ErrorResponse(Status::PermissionDenied(
        "UnauthorizedOperation", is_node ? "node certificates may call only /v1/agent/ endpoints"
                                         : "agent endpoints need a node certificate"));
  }
  const auto& routes = agent_path ? agent_routes_ : user_routes_;
  PathParams params;
  bool path_known = false;
  const auto* handler = routes.Find(req.method, req.path, &params, &path_known);
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
