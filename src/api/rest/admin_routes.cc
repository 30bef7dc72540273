// Routes for administrators: users (with their certificates), pools, nodes, forced states.
#include "api/rest/json_codec.h"
#include "api/rest/rest_api.h"
#include "common/clock.h"

namespace vbs {
namespace {

HttpResponse CreateUser(const HttpRequest& req, RestContext& ctx, AdminService& admin,
                        const CertificateAuthority& ca) {
  auto body = ParseJsonObject(req, {"name", "admin"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto name = OptString(*body, "name");
  auto is_admin = OptBool(*body, "admin");
  if (!name.ok()) return ErrorResponse(name.status());
  if (!is_admin.ok()) return ErrorResponse(is_admin.status());
  if (!*name) return ErrorResponse(Status::InvalidArgument("MissingParameter", "name is required"));
  Caller caller = ctx.caller;
  if (Status st = RequireAdmin(caller); !st.ok()) return ErrorResponse(st);
  const bool as_admin = is_admin->value_or(false);
  // Issue first: if recording the user then fails, the certificate is simply never handed out.
  auto cert = ca.Issue(**name, as_admin ? CertRole::kAdmin : CertRole::kUser);
  if (!cert.ok() && cert.status().kind() != StatusKind::kInvalidArgument) {
    return ErrorResponse(cert.status());
  }
  auto user = admin.CreateUser(caller, **name, as_admin);
  if (!user.ok()) return ErrorResponse(user.status());
  if (!cert.ok()) return ErrorResponse(cert.status());
  return JsonResponse(201, {{"user", user->user.name},
                            {"role", user->user.role},
                            {"cert_pem", cert->cert_pem},
                            {"key_pem", cert->key_pem},
                            {"ca_pem", ca.cert_pem()},
                            {"access_key_id", user->access_key.id},
                            {"secret_access_key", user->access_key.secret}});
}

}  // namespace

void RestApi::AddAdminRoutes() {
  auto& r = user_routes_;
  AdminService& admin = *s_.admin;
  VolumeService& volumes = *s_.volumes;
  const CertificateAuthority& ca = *s_.ca;
  r.Add("POST", "/v1/users",
        [&admin, &ca](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          return CreateUser(req, ctx, admin, ca);
        });
  r.Add("GET", "/v1/users", [&admin](const HttpRequest&, const PathParams&, RestContext& ctx) {
    auto users = admin.ListUsers(ctx.caller);
    if (!users.ok()) return ErrorResponse(users.status());
    return JsonResponse(200, UserListJson(*users));
  });
  r.Add("GET", "/v1/pools", [&admin](const HttpRequest&, const PathParams&, RestContext& ctx) {
    auto pools = admin.ListPools(ctx.caller);
    if (!pools.ok()) return ErrorResponse(pools.status());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& pv : *pools) {
      const auto& p = pv.pool;
      arr.push_back({{"name", p.name},
                     {"node", p.node},
                     {"type", p.type},
                     {"shared", p.shared},
                     {"capacity", p.capacity},
                     {"reserved", p.reserved},
                     {"nodes", pv.nodes},
                     {"state", pv.node_up ? "up" : "down"}});
    }
    return JsonResponse(200, {{"pools", arr}});
  });
  r.Add("GET", "/v1/nodes", [&admin](const HttpRequest&, const PathParams&, RestContext& ctx) {
    auto nodes = admin.ListNodes(ctx.caller);
    if (!nodes.ok()) return ErrorResponse(nodes.status());
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& nv : *nodes) {
      arr.push_back({{"name", nv.node.name},
                     {"state", nv.up ? "up" : "down"},
                     {"last_heartbeat", FormatIso8601(nv.node.last_heartbeat)}});
    }
    return JsonResponse(200, {{"nodes", arr}});
  });
  r.Add("POST", "/v1/volumes/{id}/force-state",
        [&volumes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          auto body = ParseJsonObject(req, {"state"});
          if (!body.ok()) return ErrorResponse(body.status());
          auto st = OptString(*body, "state");
          if (!st.ok()) return ErrorResponse(st.status());
          if (!*st)
            return ErrorResponse(Status::InvalidArgument("MissingParameter", "state is required"));
          auto v = volumes.ForceState(ctx.caller, p.at("id"), **st);
          if (!v.ok()) return ErrorResponse(v.status());
          return JsonResponse(200, VolumeJson(*v));  // forced: no live attachments shown
        });
}

}  // namespace vbs
