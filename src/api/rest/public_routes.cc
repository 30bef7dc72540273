// Routes for VBSFS's public volume (core/public_service.h), admins only:
// /v1/public[/edit|/publish|/attach|/detach|/{version}].
#include "api/rest/json_codec.h"
#include "api/rest/rest_api.h"

namespace vbs {
namespace {

nlohmann::json VersionJson(const PublicVersion& v) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const auto& a : v.attachments) nodes.push_back({{"node", a.node}, {"state", a.state}});
  return {{"version", v.version},  {"volume_id", v.volume.id}, {"size", v.volume.size},
          {"pool", v.volume.pool}, {"state", v.volume.state},  {"error", nullptr},
          {"attachments", nodes}};
}

nlohmann::json VersionJsonWithError(const PublicVersion& v) {
  nlohmann::json out = VersionJson(v);
  if (v.volume.error) out["error"] = *v.volume.error;
  return out;
}

HttpResponse CreatePublic(const HttpRequest& req, RestContext& ctx, PublicService& pub) {
  auto body = ParseJsonObject(req, {"size", "pool"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto size = OptSize(*body, "size");
  auto pool = OptString(*body, "pool");
  for (const Status* st : {&size.status(), &pool.status()}) {
    if (!st->ok()) return ErrorResponse(*st);
  }
  if (!*size) return ErrorResponse(Status::InvalidArgument("MissingParameter", "size is required"));
  return Reply(202, pub.Create(ctx.caller, **size, *pool), VersionJson);
}

// {"node": …} (and for a detach "draft"): the node's attachment.
HttpResponse OnNode(const HttpRequest& req, RestContext& ctx, PublicService& pub,
                    const std::string& what) {
  auto body = ParseJsonObject(req, what == "detach" ? std::set<std::string>{"node", "draft"}
                                                    : std::set<std::string>{"node"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto node = OptString(*body, "node");
  if (!node.ok()) return ErrorResponse(node.status());
  if (!*node) return ErrorResponse(Status::InvalidArgument("MissingParameter", "node is required"));
  if (what == "edit") return Reply(202, pub.Edit(ctx.caller, **node), AttachmentJson);
  if (what == "attach") return Reply(202, pub.Attach(ctx.caller, **node), AttachmentJson);
  auto draft = OptBool(*body, "draft");
  if (!draft.ok()) return ErrorResponse(draft.status());
  return Reply(202, pub.Detach(ctx.caller, **node, draft->value_or(false)), AttachmentJson);
}

}  // namespace

void RestApi::AddPublicRoutes() {
  if (s_.public_volume == nullptr) return;
  auto& r = user_routes_;
  PublicService& pub = *s_.public_volume;
  r.Add("POST", "/v1/public", [&pub](const HttpRequest& req, const PathParams&, RestContext& ctx) {
    return CreatePublic(req, ctx, pub);
  });
  r.Add("GET", "/v1/public", [&pub](const HttpRequest&, const PathParams&, RestContext& ctx) {
    return Reply(200, pub.List(ctx.caller), [](const auto& list) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& v : list) arr.push_back(VersionJsonWithError(v));
      return nlohmann::json{{"versions", arr}};
    });
  });
  r.Add("POST", "/v1/public/publish",
        [&pub](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          auto body = ParseJsonObject(req, {});
          if (!body.ok()) return ErrorResponse(body.status());
          return Reply(202, pub.Publish(ctx.caller), VersionJson);
        });
  for (const char* what : {"edit", "attach", "detach"}) {
    r.Add("POST", std::string("/v1/public/") + what,
          [&pub, what](const HttpRequest& req, const PathParams&, RestContext& ctx) {
            return OnNode(req, ctx, pub, what);
          });
  }
  r.Add("DELETE", "/v1/public/{version}",
        [&pub](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return Reply(202, pub.Delete(ctx.caller, p.at("version")), VersionJson);
        });
}

}  // namespace vbs
