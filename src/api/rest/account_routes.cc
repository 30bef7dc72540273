// Routes for users and their access keys: an admin manages anyone (/v1/users/NAME…), a user
// their own keys (/v1/keys, or /v1/users/THEIR-NAME/keys).
#include "api/rest/json_codec.h"
#include "api/rest/rest_api.h"
#include "common/clock.h"

namespace vbs {
namespace {

nlohmann::json UserJson(const UserRecord& u) {
  return {{"name", u.name},
          {"role", u.role},
          {"state", u.state},
          {"created_at", FormatIso8601(u.created_at)},
          {"updated_at", FormatIso8601(u.updated_at != 0 ? u.updated_at : u.created_at)}};
}

nlohmann::json KeyJson(const AccessKeyRecord& k) {
  return {{"access_key_id", k.id},
          {"user", k.user},
          {"state", k.state},
          {"created_at", FormatIso8601(k.created_at)}};
}

nlohmann::json CertificateJson(const CertificateRecord& c) {
  nlohmann::json out = {{"serial", c.serial},
                        {"state", c.state},
                        {"issued_at", FormatIso8601(c.issued_at * 1000)},
                        {"expires_at", FormatIso8601(c.expires_at * 1000)}};
  if (c.revoked_at != 0) out["revoked_at"] = FormatIso8601(c.revoked_at);
  return out;
}

// The body {"KEY":"…"}, KEY required.
Result<std::string> RequiredString(const HttpRequest& req, const std::string& key) {
  VBS_ASSIGN_OR_RETURN(auto body, ParseJsonObject(req, {key}));
  VBS_ASSIGN_OR_RETURN(auto value, OptString(body, key));
  if (!value) return Status::InvalidArgument("MissingParameter", key + " is required");
  return *value;
}

HttpResponse UserResponse(const Result<UserRecord>& u) {
  if (!u.ok()) return ErrorResponse(u.status());
  return JsonResponse(200, UserJson(*u));
}

HttpResponse ListKeys(AdminService& admin, const Caller& caller, const std::string& user) {
  auto keys = admin.ListAccessKeys(caller, user);
  if (!keys.ok()) return ErrorResponse(keys.status());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& k : *keys) arr.push_back(KeyJson(k));
  return JsonResponse(200, {{"access_keys", arr}});
}

HttpResponse CreateKey(AdminService& admin, const HttpRequest& req, const Caller& caller,
                       const std::string& user) {
  if (auto body = ParseJsonObject(req, {}); !body.ok()) return ErrorResponse(body.status());
  auto key = admin.IssueAccessKey(caller, user);
  if (!key.ok()) return ErrorResponse(key.status());
  nlohmann::json out = KeyJson(*key);
  out["secret_access_key"] = key->secret;  // the only time it is ever handed out
  return JsonResponse(201, out);
}

HttpResponse DeleteKey(AdminService& admin, const Caller& caller, const std::string& user,
                       const std::string& id) {
  Status st = admin.DeleteAccessKey(caller, user, id);
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, {{"access_key_id", id}, {"state", "deleted"}});
}

nlohmann::json QuotaJson(const QuotaView& q) {
  auto limit = [](const std::optional<int64_t>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"user", q.user},
          {"volumes", {{"limit", limit(q.limits.volumes)}, {"used", q.usage.volumes}}},
          {"gigabytes",
           {{"limit", limit(q.limits.gigabytes)}, {"used", QuotaGiB(q.usage.volume_bytes)}}},
          {"snapshots", {{"limit", limit(q.limits.snapshots)}, {"used", q.usage.snapshots}}}};
}

HttpResponse QuotaResponse(const Result<QuotaView>& q) {
  if (!q.ok()) return ErrorResponse(q.status());
  return JsonResponse(200, QuotaJson(*q));
}

// {"volumes":N|null,"gigabytes":N|null,"snapshots":N|null}: a number sets the user's own
// limit, null puts the default back, an absent key leaves it.
HttpResponse SetQuota(AdminService& admin, const HttpRequest& req, const Caller& caller,
                      const std::string& user) {
  auto body = ParseJsonObject(req, {"volumes", "gigabytes", "snapshots"});
  if (!body.ok()) return ErrorResponse(body.status());
  QuotaLimits change;
  std::vector<std::string> reset;
  for (auto [key, field] :
       {std::pair{"volumes", &change.volumes}, std::pair{"gigabytes", &change.gigabytes},
        std::pair{"snapshots", &change.snapshots}}) {
    if (!body->contains(key)) continue;
    if ((*body)[key].is_null()) {
      reset.emplace_back(key);
      continue;
    }
    auto n = OptInt(*body, key);
    if (!n.ok()) return ErrorResponse(n.status());
    *field = *n;
  }
  if (!change.volumes && !change.gigabytes && !change.snapshots && reset.empty()) {
    return ErrorResponse(Status::InvalidArgument(
        "MissingParameter", "name at least one of volumes, gigabytes, snapshots"));
  }
  return QuotaResponse(admin.SetQuota(caller, user, change, reset));
}

}  // namespace

nlohmann::json UserListJson(const std::vector<UserRecord>& users) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& u : users) arr.push_back(UserJson(u));
  return {{"users", arr}};
}

void RestApi::AddAccountRoutes() {
  auto& r = user_routes_;
  AdminService& admin = *s_.admin;
  using Ctx = RestContext;
  r.Add("GET", "/v1/users/{name}", [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
    auto view = admin.ShowUser(ctx.caller, p.at("name"));
    if (!view.ok()) return ErrorResponse(view.status());
    nlohmann::json out = UserJson(view->user);
    out["access_keys"] = nlohmann::json::array();
    for (const auto& k : view->access_keys) out["access_keys"].push_back(KeyJson(k));
    out["certificates"] = nlohmann::json::array();
    for (const auto& c : view->certificates) out["certificates"].push_back(CertificateJson(c));
    return JsonResponse(200, out);
  });
  r.Add("DELETE", "/v1/users/{name}", [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
    return UserResponse(admin.DeleteUser(ctx.caller, p.at("name")));
  });
  r.Add("POST", "/v1/users/{name}/disable",
        [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
          return UserResponse(admin.SetUserState(ctx.caller, p.at("name"), "disabled"));
        });
  r.Add("POST", "/v1/users/{name}/enable",
        [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
          return UserResponse(admin.SetUserState(ctx.caller, p.at("name"), "active"));
        });
  r.Add("POST", "/v1/users/{name}/role",
        [&admin](const HttpRequest& req, const PathParams& p, Ctx& ctx) {
          auto role = RequiredString(req, "role");
          if (!role.ok()) return ErrorResponse(role.status());
          return UserResponse(admin.SetUserRole(ctx.caller, p.at("name"), *role));
        });
  r.Add("GET", "/v1/users/{name}/keys",
        [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
          return ListKeys(admin, ctx.caller, p.at("name"));
        });
  r.Add("POST", "/v1/users/{name}/keys",
        [&admin](const HttpRequest& req, const PathParams& p, Ctx& ctx) {
          return CreateKey(admin, req, ctx.caller, p.at("name"));
        });
  r.Add("DELETE", "/v1/users/{name}/keys/{id}",
        [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
          return DeleteKey(admin, ctx.caller, p.at("name"), p.at("id"));
        });
  r.Add("GET", "/v1/users/{name}/quota",
        [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
          return QuotaResponse(admin.ShowQuota(ctx.caller, p.at("name")));
        });
  r.Add("PUT", "/v1/users/{name}/quota",
        [&admin](const HttpRequest& req, const PathParams& p, Ctx& ctx) {
          return SetQuota(admin, req, ctx.caller, p.at("name"));
        });
  r.Add("GET", "/v1/quota", [&admin](const HttpRequest&, const PathParams&, Ctx& ctx) {
    return QuotaResponse(admin.ShowQuota(ctx.caller, ctx.caller.user));
  });
  AttachmentService& atts = *s_.attachments;
  r.Add("POST", "/v1/instances/{id}/owner",
        [&atts](const HttpRequest& req, const PathParams& p, Ctx& ctx) {
          auto owner = RequiredString(req, "owner");
          if (!owner.ok()) return ErrorResponse(owner.status());
          auto inst = atts.AssignInstance(ctx.caller, p.at("id"), *owner);
          if (!inst.ok()) return ErrorResponse(inst.status());
          return JsonResponse(200, InstanceJson(*inst));
        });
  auto node_users = [](const std::string& node, const Result<std::vector<std::string>>& users) {
    if (!users.ok()) return ErrorResponse(users.status());
    return JsonResponse(200, {{"node", node}, {"users", *users}});
  };
  r.Add("POST", "/v1/nodes/{node}/users",
        [&atts, node_users](const HttpRequest& req, const PathParams& p, Ctx& ctx) {
          auto user = RequiredString(req, "user");
          if (!user.ok()) return ErrorResponse(user.status());
          return node_users(p.at("node"), atts.AllowOnNode(ctx.caller, p.at("node"), *user, true));
        });
  r.Add("DELETE", "/v1/nodes/{node}/users/{user}",
        [&atts, node_users](const HttpRequest&, const PathParams& p, Ctx& ctx) {
          return node_users(p.at("node"),
                            atts.AllowOnNode(ctx.caller, p.at("node"), p.at("user"), false));
        });
  // One's own keys, without knowing one's name.
  r.Add("GET", "/v1/keys", [&admin](const HttpRequest&, const PathParams&, Ctx& ctx) {
    return ListKeys(admin, ctx.caller, ctx.caller.user);
  });
  r.Add("POST", "/v1/keys", [&admin](const HttpRequest& req, const PathParams&, Ctx& ctx) {
    return CreateKey(admin, req, ctx.caller, ctx.caller.user);
  });
  r.Add("DELETE", "/v1/keys/{id}", [&admin](const HttpRequest&, const PathParams& p, Ctx& ctx) {
    return DeleteKey(admin, ctx.caller, ctx.caller.user, p.at("id"));
  });
}

}  // namespace vbs
