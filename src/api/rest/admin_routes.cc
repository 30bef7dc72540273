// Routes for administrators: users (with their certificates), pools, nodes, forced states.
#include "api/rest/json_codec.h"
#include "api/rest/rest_api.h"
#include "common/clock.h"

namespace vbs {
namespace {

// What a server without the CA key (only ca.crt: design.md §8) says instead of a certificate.
std::string OfflineIssueHint(const std::string& name, bool admin) {
  return "this server holds no CA key; issue the certificate where the CA is kept: vbsd pki "
         "issue --pki-dir DIR --role " +
         std::string(admin ? "admin" : "user") + " --name " + name + " --out-dir OUT";
}

// A certificate this server issued, as recorded.
Result<CertificateRecord> RecordOf(const IssuedCert& cert) {
  VBS_ASSIGN_OR_RETURN(CertIdentity id, IdentityFromPem(cert.cert_pem));
  return CertificateOf(id);
}

HttpResponse CreateUser(const HttpRequest& req, RestContext& ctx, AdminService& admin,
                        const CertificateAuthority* ca) {
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
  std::optional<IssuedCert> cert;
  std::optional<CertificateRecord> record;
  Status issued;
  if (ca != nullptr) {
    auto c = ca->Issue(**name, as_admin ? CertRole::kAdmin : CertRole::kUser);
    if (c.ok()) {
      auto r = RecordOf(*c);
      if (!r.ok()) return ErrorResponse(r.status());
      cert = *c;
      record = *r;
    } else if (c.status().kind() == StatusKind::kInvalidArgument) {
      issued = c.status();  // a bad name: CreateUser below says it better
    } else {
      return ErrorResponse(c.status());
    }
  }
  auto user = admin.CreateUser(caller, **name, as_admin, record);
  if (!user.ok()) return ErrorResponse(user.status());
  if (!issued.ok()) return ErrorResponse(issued);
  nlohmann::json out = {{"user", user->user.name},
                        {"role", user->user.role},
                        {"access_key_id", user->access_key.id},
                        {"secret_access_key", user->access_key.secret}};
  if (cert) {
    out["cert_pem"] = cert->cert_pem;
    out["key_pem"] = cert->key_pem;
    out["ca_pem"] = ca->cert_pem();
    out["certificate_serial"] = record->serial;
  } else {
    out["certificate"] = OfflineIssueHint(**name, as_admin);
  }
  return JsonResponse(201, out);
}

// Revokes the user's certificates and hands out a new one (key included).
HttpResponse Reissue(const Caller& caller, const std::string& name, AdminService& admin,
                     const CertificateAuthority* ca) {
  if (Status st = RequireAdmin(caller); !st.ok()) return ErrorResponse(st);
  auto view = admin.ShowUser(caller, name);
  if (!view.ok()) return ErrorResponse(view.status());
  if (view->user.state == "deleted") return ErrorResponse(UserNotFound(name));
  if (ca == nullptr) {
    return ErrorResponse(Status::Conflict(
        "CertificateAuthorityOffline", OfflineIssueHint(name, view->user.role == "admin") +
                                           " (revoke the old ones first: vbs admin user revoke " +
                                           name + ")"));
  }
  auto cert = ca->Issue(name, view->user.role == "admin" ? CertRole::kAdmin : CertRole::kUser);
  if (!cert.ok()) return ErrorResponse(cert.status());
  auto record = RecordOf(*cert);
  if (!record.ok()) return ErrorResponse(record.status());
  if (Status st = admin.ReplaceCertificates(caller, name, *record); !st.ok()) {
    return ErrorResponse(st);
  }
  return JsonResponse(200, {{"user", name},
                            {"role", view->user.role},
                            {"cert_pem", cert->cert_pem},
                            {"key_pem", cert->key_pem},
                            {"ca_pem", ca->cert_pem()},
                            {"certificate_serial", record->serial}});
}

}  // namespace

CertificateRecord CertificateOf(const CertIdentity& id) {
  return CertificateRecord{id.serial, id.common_name, id.issued_at, id.expires_at, "valid", 0};
}

void RestApi::AddAdminRoutes() {
  auto& r = user_routes_;
  AdminService& admin = *s_.admin;
  VolumeService& volumes = *s_.volumes;
  const CertificateAuthority* ca = s_.ca;
  r.Add("POST", "/v1/users",
        [&admin, ca](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          return CreateUser(req, ctx, admin, ca);
        });
  r.Add("POST", "/v1/users/{name}/reissue",
        [&admin, ca](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          if (auto body = ParseJsonObject(req, {}); !body.ok()) return ErrorResponse(body.status());
          return Reissue(ctx.caller, p.at("name"), admin, ca);
        });
  r.Add("POST", "/v1/users/{name}/revoke",
        [&admin](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          if (auto body = ParseJsonObject(req, {}); !body.ok()) return ErrorResponse(body.status());
          auto revoked = admin.RevokeCertificates(ctx.caller, p.at("name"));
          if (!revoked.ok()) return ErrorResponse(revoked.status());
          return JsonResponse(200, {{"user", p.at("name")}, {"revoked", *revoked}});
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
