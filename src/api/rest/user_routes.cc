// Routes for users: volumes, snapshots, whoami.
#include "api/rest/json_codec.h"
#include "api/rest/rest_api.h"

namespace vbs {
namespace {

// Parses "K=V" of a ?tag= query parameter.
Result<std::optional<std::pair<std::string, std::string>>> TagQuery(const HttpRequest& req) {
  auto t = req.QueryParam("tag");
  if (!t) return std::optional<std::pair<std::string, std::string>>();
  auto eq = t->find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::InvalidArgument("InvalidParameterValue", "tag filters are written KEY=VALUE");
  }
  return std::optional<std::pair<std::string, std::string>>(
      std::make_pair(t->substr(0, eq), t->substr(eq + 1)));
}

// ?state= must name a state of that kind of object: a typo is an error, not an empty list.
Result<std::optional<std::string>> StateQuery(const HttpRequest& req,
                                              const std::set<std::string>& states) {
  auto st = req.QueryParam("state");
  if (st && !states.count(*st)) {
    std::string all;
    for (const auto& s : states) all += (all.empty() ? "" : ", ") + s;
    return Status::InvalidArgument("InvalidParameterValue",
                                   "unknown state '" + *st + "'; one of: " + all);
  }
  return st;
}

Result<bool> BoolQuery(const HttpRequest& req, const std::string& name) {
  auto v = req.QueryParam(name);
  if (!v || *v == "false" || *v == "0") return false;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  return Status::InvalidArgument("InvalidParameterValue", name + " must be true or false");
}

Status CheckQuery(const HttpRequest& req, const std::set<std::string>& allowed) {
  for (const auto& [k, _] : req.query) {
    if (!allowed.count(k)) {
      return Status::InvalidArgument("UnknownParameter", "unknown query parameter '" + k + "'");
    }
  }
  return Status::Ok();
}

HttpResponse CreateVolume(const HttpRequest& req, const PathParams&, RestContext& ctx,
                          VolumeService& volumes) {
  auto body = ParseJsonObject(req, {"size", "pool", "snapshot_id", "tags", "client_token",
                                    "volume_type", "iops", "throughput"});
  if (!body.ok()) return ErrorResponse(body.status());
  CreateVolumeRequest cr;
  auto size = OptSize(*body, "size");
  auto pool = OptString(*body, "pool");
  auto snap = OptString(*body, "snapshot_id");
  auto tags = OptTags(*body, "tags");
  auto token = OptString(*body, "client_token");
  for (const Status* st :
       {&size.status(), &pool.status(), &snap.status(), &tags.status(), &token.status()}) {
    if (!st->ok()) return ErrorResponse(*st);
  }
  cr.size = *size;
  cr.pool = *pool;
  cr.snapshot_id = *snap;
  cr.tags = *tags;
  cr.client_token = *token;
  auto qos = OptQos(*body);
  if (!qos.ok()) return ErrorResponse(qos.status());
  cr.qos = *qos;
  return Reply(202, volumes.Create(ctx.caller, cr),
               [](const VolumeRecord& v) { return VolumeJson(v); });
}

HttpResponse ListVolumes(const HttpRequest& req, RestContext& ctx, VolumeService& volumes,
                         AttachmentService& attachments) {
  if (Status st = CheckQuery(req, {"state", "tag", "all"}); !st.ok()) return ErrorResponse(st);
  VolumeListFilter f;
  auto state = StateQuery(req, {"creating", "available", "in-use", "deleting", "deleted", "error"});
  if (!state.ok()) return ErrorResponse(state.status());
  f.state = *state;
  auto tag = TagQuery(req);
  auto all = BoolQuery(req, "all");
  if (!tag.ok()) return ErrorResponse(tag.status());
  if (!all.ok()) return ErrorResponse(all.status());
  f.tag = *tag;
  f.include_deleted = *all;
  auto atts = attachments.List(ctx.caller, std::nullopt);
  if (!atts.ok()) return ErrorResponse(atts.status());
  return Reply(200, volumes.List(ctx.caller, f), [&atts](const auto& vs) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& v : vs) arr.push_back(VolumeJson(v, *atts));
    return nlohmann::json{{"volumes", arr}};
  });
}

HttpResponse CreateSnapshot(const HttpRequest& req, RestContext& ctx, SnapshotService& snaps) {
  auto body = ParseJsonObject(req, {"volume_id", "description", "tags"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto vol = OptString(*body, "volume_id");
  auto desc = OptString(*body, "description");
  auto tags = OptTags(*body, "tags");
  for (const Status* st : {&vol.status(), &desc.status(), &tags.status()}) {
    if (!st->ok()) return ErrorResponse(*st);
  }
  if (!*vol)
    return ErrorResponse(Status::InvalidArgument("MissingParameter", "volume_id is required"));
  CreateSnapshotRequest cr{**vol, desc->value_or(""), *tags};
  return Reply(202, snaps.Create(ctx.caller, cr), SnapshotJson);
}

HttpResponse ListSnapshots(const HttpRequest& req, RestContext& ctx, SnapshotService& snaps) {
  if (Status st = CheckQuery(req, {"state", "tag", "all", "volume_id"}); !st.ok()) {
    return ErrorResponse(st);
  }
  SnapshotListFilter f;
  auto state = StateQuery(req, {"pending", "completed", "error", "deleting", "deleted"});
  if (!state.ok()) return ErrorResponse(state.status());
  f.state = *state;
  f.volume_id = req.QueryParam("volume_id");
  auto tag = TagQuery(req);
  auto all = BoolQuery(req, "all");
  if (!tag.ok()) return ErrorResponse(tag.status());
  if (!all.ok()) return ErrorResponse(all.status());
  f.tag = *tag;
  f.include_deleted = *all;
  return Reply(200, snaps.List(ctx.caller, f), [](const auto& ss) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : ss) arr.push_back(SnapshotJson(s));
    return nlohmann::json{{"snapshots", arr}};
  });
}

HttpResponse GetVolume(const std::string& id, RestContext& ctx, VolumeService& volumes,
                       AttachmentService& attachments) {
  auto v = volumes.Get(ctx.caller, id);
  if (!v.ok()) return ErrorResponse(v.status());
  auto atts = attachments.List(ctx.caller, id);
  if (!atts.ok()) return ErrorResponse(atts.status());
  auto mods = volumes.ListModifications(ctx.caller, {id});
  if (!mods.ok()) return ErrorResponse(mods.status());
  auto failed = attachments.LastFailedAttach(ctx.caller, id);
  if (!failed.ok()) return ErrorResponse(failed.status());
  nlohmann::json out = VolumeJson(*v, *atts);
  out["modification"] = mods->empty() ? nlohmann::json(nullptr) : ModificationJson(mods->back());
  out["failed_attachment"] = *failed ? AttachmentJson(**failed) : nlohmann::json(nullptr);
  return JsonResponse(200, out);
}

HttpResponse ResizeVolume(const HttpRequest& req, const std::string& id, RestContext& ctx,
                          VolumeService& volumes) {
  auto body = ParseJsonObject(req, {"size"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto size = OptSize(*body, "size");
  if (!size.ok()) return ErrorResponse(size.status());
  if (!*size) return ErrorResponse(Status::InvalidArgument("MissingParameter", "size is required"));
  return Reply(202, volumes.Resize(ctx.caller, id, **size), ModificationJson);
}

HttpResponse ModifyVolume(const HttpRequest& req, const std::string& id, RestContext& ctx,
                          VolumeService& volumes) {
  auto body = ParseJsonObject(req, {"size", "volume_type", "iops", "throughput"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto size = OptSize(*body, "size");
  if (!size.ok()) return ErrorResponse(size.status());
  auto qos = OptQos(*body);
  if (!qos.ok()) return ErrorResponse(qos.status());
  return Reply(202, volumes.Modify(ctx.caller, id, *size, *qos), ModificationJson);
}

HttpResponse AttachVolume(const HttpRequest& req, const std::string& id, RestContext& ctx,
                          AttachmentService& attachments) {
  auto body = ParseJsonObject(req, {"instance_id", "mode", "device", "uid"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto inst = OptString(*body, "instance_id");
  auto mode = OptString(*body, "mode");
  auto device = OptString(*body, "device");
  for (const Status* st : {&inst.status(), &mode.status(), &device.status()}) {
    if (!st->ok()) return ErrorResponse(*st);
  }
  if (!*inst) {
    return ErrorResponse(Status::InvalidArgument("MissingParameter", "instance_id is required"));
  }
  AttachRequest ar{id, **inst, mode->value_or("rw"), *device, std::nullopt};
  if (body->contains("uid")) {
    const auto& uid = (*body)["uid"];
    if (!uid.is_number_integer()) {
      return ErrorResponse(
          Status::InvalidArgument("InvalidParameterValue", "uid must be an integer"));
    }
    ar.uid = uid.get<int64_t>();
  }
  return Reply(202, attachments.Attach(ctx.caller, ar), AttachmentJson);
}

HttpResponse DetachVolume(const HttpRequest& req, const std::string& id, RestContext& ctx,
                          AttachmentService& attachments) {
  auto body = ParseJsonObject(req, {"instance_id", "force"});
  if (!body.ok()) return ErrorResponse(body.status());
  auto inst = OptString(*body, "instance_id");
  auto force = OptBool(*body, "force");
  if (!inst.ok()) return ErrorResponse(inst.status());
  if (!force.ok()) return ErrorResponse(force.status());
  return Reply(202, attachments.Detach(ctx.caller, id, *inst, force->value_or(false)),
               AttachmentJson);
}

}  // namespace

void RestApi::AddUserRoutes() {
  auto& r = user_routes_;
  VolumeService& volumes = *s_.volumes;
  SnapshotService& snaps = *s_.snapshots;
  AttachmentService& atts = *s_.attachments;
  r.Add("POST", "/v1/volumes",
        [&volumes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return CreateVolume(req, p, ctx, volumes);
        });
  r.Add("GET", "/v1/volumes",
        [&volumes, &atts](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          return ListVolumes(req, ctx, volumes, atts);
        });
  r.Add("GET", "/v1/volumes/{id}",
        [&volumes, &atts](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return GetVolume(p.at("id"), ctx, volumes, atts);
        });
  r.Add("DELETE", "/v1/volumes/{id}",
        [&volumes](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return Reply(202, volumes.Delete(ctx.caller, p.at("id")),
                       [](const VolumeRecord& v) { return VolumeJson(v); });
        });
  r.Add("POST", "/v1/volumes/{id}/resize",
        [&volumes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return ResizeVolume(req, p.at("id"), ctx, volumes);
        });
  r.Add("POST", "/v1/volumes/{id}/modify",
        [&volumes](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return ModifyVolume(req, p.at("id"), ctx, volumes);
        });
  r.Add("GET", "/v1/volumes/{id}/modifications",
        [&volumes](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return Reply(200, volumes.ListModifications(ctx.caller, {p.at("id")}),
                       [](const auto& list) {
                         nlohmann::json arr = nlohmann::json::array();
                         for (const auto& m : list) arr.push_back(ModificationJson(m));
                         return nlohmann::json{{"modifications", arr}};
                       });
        });
  r.Add("POST", "/v1/volumes/{id}/attach",
        [&atts](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return AttachVolume(req, p.at("id"), ctx, atts);
        });
  r.Add("POST", "/v1/volumes/{id}/detach",
        [&atts](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          return DetachVolume(req, p.at("id"), ctx, atts);
        });
  r.Add("GET", "/v1/instances", [&atts](const HttpRequest&, const PathParams&, RestContext& ctx) {
    return Reply(200, atts.ListInstances(ctx.caller), [](const auto& list) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& i : list) arr.push_back(InstanceJson(i));
      return nlohmann::json{{"instances", arr}};
    });
  });
  r.Add("POST", "/v1/snapshots",
        [&snaps](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          return CreateSnapshot(req, ctx, snaps);
        });
  r.Add("GET", "/v1/snapshots",
        [&snaps](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          return ListSnapshots(req, ctx, snaps);
        });
  r.Add("GET", "/v1/snapshots/{id}",
        [&snaps](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return Reply(200, snaps.Get(ctx.caller, p.at("id")), SnapshotJson);
        });
  r.Add("DELETE", "/v1/snapshots/{id}",
        [&snaps](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          return Reply(202, snaps.Delete(ctx.caller, p.at("id")), SnapshotJson);
        });
  r.Add("GET", "/v1/whoami", [](const HttpRequest&, const PathParams&, RestContext& ctx) {
    return JsonResponse(200,
                        {{"user", ctx.caller.user}, {"role", ctx.caller.admin ? "admin" : "user"}});
  });
}

}  // namespace vbs
