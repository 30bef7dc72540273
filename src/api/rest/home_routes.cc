// Routes for VBSFS homes (core/home_service.h):
// /v1/homes[/USER[/attach|/detach|/snapshot|/restore]].
#include "api/rest/json_codec.h"
#include "api/rest/rest_api.h"

namespace vbs {
namespace {

nlohmann::json HomeJson(const Home& h) {
  nlohmann::json out = {
      {"user", h.user},         {"volume_id", h.volume.id}, {"size", h.volume.size},
      {"pool", h.volume.pool},  {"state", h.volume.state},  {"node", nullptr},
      {"mount_point", nullptr}, {"attachment", nullptr},    {"filesystem", nullptr}};
  if (h.attachment) {
    out["node"] = h.attachment->node;
    out["mount_point"] = h.attachment->mount_point ? nlohmann::json(*h.attachment->mount_point)
                                                   : nlohmann::json(nullptr);
    out["attachment"] = AttachmentJson(*h.attachment);
    const AttachmentRecord& a = *h.attachment;
    if (a.fs_size && a.fs_used && a.fs_free) {
      out["filesystem"] = {{"size", *a.fs_size},
                           {"used", *a.fs_used},
                           {"free", *a.fs_free},
                           {"reported_at", a.fs_reported_at.value_or(0)}};
    }
  }
  return out;
}

HttpResponse CreateHome(const HttpRequest& req, RestContext& ctx, HomeService& homes) {
  auto body = ParseJsonObject(req, {"user", "size", "pool"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto user = OptString(*body, "user");
  auto size = OptSize(*body, "size");
  auto pool = OptString(*body, "pool");
  for (const Status* st : {&user.status(), &size.status(), &pool.status()}) {
    if (!st->ok()) return ErrorResponse(*st);
  }
  return Reply(202, homes.Create(ctx.caller, *user, *size, *pool), HomeJson);
}

HttpResponse AttachHome(const HttpRequest& req, const std::string& user, RestContext& ctx,
                        HomeService& homes) {
  auto body = ParseJsonObject(req, {"node"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto node = OptString(*body, "node");
  if (!node.ok()) return ErrorResponse(node.status());
  if (!*node) return ErrorResponse(Status::InvalidArgument("MissingParameter", "node is required"));
  return Reply(202, homes.Attach(ctx.caller, user, **node), AttachmentJson);
}

HttpResponse DetachHome(const HttpRequest& req, const std::string& user, RestContext& ctx,
                        HomeService& homes) {
  auto body = ParseJsonObject(req, {"force"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto force = OptBool(*body, "force");
  if (!force.ok()) return ErrorResponse(force.status());
  return Reply(202, homes.Detach(ctx.caller, user, force->value_or(false)), AttachmentJson);
}

HttpResponse SnapshotHome(const HttpRequest& req, const std::string& user, RestContext& ctx,
                          HomeService& homes) {
  auto body = ParseJsonObject(req, {"description"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto description = OptString(*body, "description");
  if (!description.ok()) return ErrorResponse(description.status());
  return Reply(202, homes.Snapshot(ctx.caller, user, description->value_or("")), SnapshotJson);
}

HttpResponse RestoreHome(const HttpRequest& req, const std::string& user, RestContext& ctx,
                         HomeService& homes) {
  auto body = ParseJsonObject(req, {"snapshot_id"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto snapshot = OptString(*body, "snapshot_id");
  if (!snapshot.ok()) return ErrorResponse(snapshot.status());
  if (!*snapshot) {
    return ErrorResponse(Status::InvalidArgument("MissingParameter", "snapshot_id is required"));
  }
  std::string former;
  return Reply(202, homes.Restore(ctx.caller, user, **snapshot, &former), [&former](const Home& h) {
    nlohmann::json out = HomeJson(h);
    out["former_volume_id"] = former;
    return out;
  });
}

}  // namespace

void RestApi::AddHomeRoutes() {
  if (s_.homes == nullptr) return;
  auto& r = user_routes_;
  HomeService& homes = *s_.homes;
  r.Add("POST", "/v1/homes", [&homes](const HttpRequest& req, const PathParams&, RestContext& ctx) {
    return CreateHome(req, ctx, homes);
  });
  r.Add("GET", "/v1/homes", [&homes](const HttpRequest&, const PathParams&, RestContext& ctx) {
    return Reply(200, homes.List(ctx.caller), [](const auto& list) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& h : list) arr.push_back(HomeJson(h));
      return nlohmann::json{{"homes", arr}};
    });
  });
  r.Add("GET", "/v1/homes/{user}",
        [&homes](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return Reply(200, homes.Get(ctx.caller, p.at("user")), HomeJson);
        });
  r.Add("DELETE", "/v1/homes/{user}",
        [&homes](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return Reply(202, homes.Delete(ctx.caller, p.at("user")), HomeJson);
        });
  r.Add("POST", "/v1/homes/{user}/attach",
        [&homes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return AttachHome(req, p.at("user"), ctx, homes);
        });
  r.Add("POST", "/v1/homes/{user}/detach",
        [&homes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return DetachHome(req, p.at("user"), ctx, homes);
        });
  r.Add("POST", "/v1/homes/{user}/snapshot",
        [&homes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return SnapshotHome(req, p.at("user"), ctx, homes);
        });
  r.Add("POST", "/v1/homes/{user}/restore",
        [&homes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return RestoreHome(req, p.at("user"), ctx, homes);
        });
}

}  // namespace vbs
