// vbs public create | edit | publish | attach | detach | list | delete: VBSFS's public volume
// (core/public_service.h), for admins. attach detaches an older version from the node first
// (waiting until it is detached there), then attaches the newest one.
#include <fmt/format.h>

#include <memory>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/context.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace vbs::cli {
namespace {

struct PublicArgs {
  std::string size;
  std::string pool;
  std::string node;
  std::string version;
  bool draft = false;
  bool wait = false;
};

std::string VersionDetails(const Json& v) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"version", FieldText(v, "version")}, {"volume", FieldText(v, "volume_id")},
      {"size", SizeText(v, "size")},        {"pool", FieldText(v, "pool")},
      {"state", FieldText(v, "state")},
  };
  const std::string error = FieldText(v, "error");
  if (error != "-") rows.emplace_back("error", error);
  return RenderDetails(rows);
}

std::string NodesOf(const Json& v) {
  std::string out;
  if (v.contains("attachments") && v["attachments"].is_array()) {
    for (const Json& a : v["attachments"]) {
      out += (out.empty() ? "" : ",") + FieldText(a, "node");
      if (FieldText(a, "state") != "attached") out += "(" + FieldText(a, "state") + ")";
    }
  }
  return out.empty() ? "-" : out;
}

std::string VersionsTable(const Json& versions) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& v : versions) {
    rows.push_back({FieldText(v, "version"), FieldText(v, "volume_id"), SizeText(v, "size"),
                    FieldText(v, "state"), NodesOf(v)});
  }
  return RenderTable({"VERSION", "VOLUME", "SIZE", "STATE", "NODES"}, rows);
}

// Follows a version's volume until it is available (or failed).
Status FollowVersion(Context& ctx, ApiClient* api, const Json& version) {
  const std::string id = FieldText(version, "volume_id");
  WaitSpec spec{.done_states = {"available", "in-use"}, .failed_states = {"error"}};
  return ctx.WaitAndPrint(
      version,
      [api, id]() -> Result<Json> {
        VBS_ASSIGN_OR_RETURN(Json list, api->Call("GET", "/v1/public"));
        for (const Json& v : list["versions"]) {
          if (FieldText(v, "volume_id") == id) return v;
        }
        return Status::NotFound("PublicVolumeNotFound", "the version's volume is gone");
      },
      spec, /*show_progress=*/false, "vbs public list", VersionDetails);
}

Status Create(Context& ctx, const PublicArgs& a) {
  VBS_ASSIGN_OR_RETURN(uint64_t bytes, CheckVolumeSize(a.size));
  Json body{{"size", bytes}};
  if (!a.pool.empty()) body["pool"] = a.pool;
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json v, api->Call("POST", "/v1/public", body));
  if (!a.wait) {
    ctx.PrintObject(v, VersionDetails);
    return Status::Ok();
  }
  return FollowVersion(ctx, api, v);
}

Status Publish(Context& ctx, const PublicArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json v, api->Call("POST", "/v1/public/publish", Json::object()));
  if (!a.wait) {
    ctx.PrintObject(v, VersionDetails);
    return Status::Ok();
  }
  return FollowVersion(ctx, api, v);
}

Status FollowNodeAttachment(Context& ctx, ApiClient* api, const Json& att, bool attaching) {
  WaitSpec spec = attaching ? WaitSpec{.done_states = {"attached"}, .failed_states = {"detached"}}
                            : WaitSpec{.done_states = {"detached"}, .failed_states = {"attached"}};
  const std::string id = FieldText(att, "volume_id");
  const std::string gone =
      attaching ? fmt::format(
                      "the attach failed: {} is not attached (vbs volume show {} has "
                      "the reason)",
                      id, id)
                : "";
  return ctx.WaitAndPrint(att, FollowAttachment(api, id, att, gone), spec,
                          /*show_progress=*/false, "vbs public list", AttachmentDetails);
}

Status OnNode(Context& ctx, const PublicArgs& a, const std::string& what) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  if (what == "attach") {
    // The node keeps an older version until now: detach it there first.
    VBS_ASSIGN_OR_RETURN(Json list, api->Call("GET", "/v1/public"));
    std::string newest;
    for (const Json& v : list["versions"]) {
      const std::string state = FieldText(v, "state");
      if (FieldText(v, "version") == "draft" || (state != "available" && state != "in-use")) {
        continue;
      }
      if (newest.empty()) newest = FieldText(v, "version");
      if (NodesOf(v).find(a.node) == std::string::npos) continue;
      for (const Json& n : v["attachments"]) {
        if (FieldText(n, "node") != a.node || FieldText(v, "version") == newest) continue;
        VBS_ASSIGN_OR_RETURN(Json att,
                             api->Call("POST", "/v1/public/detach", Json{{"node", a.node}}));
        WaitSpec spec{.done_states = {"detached"}, .failed_states = {"attached"}};
        WaitOutcome out = WaitFor(att, FollowAttachment(api, FieldText(att, "volume_id"), att, ""),
                                  spec, WaitClock::Real(), nullptr);
        VBS_RETURN_IF_ERROR(WaitStatus(out, spec, "vbs public list"));
        ctx.err() << "detached version " << FieldText(v, "version") << " from " << a.node << "\n";
      }
    }
  }
  Json body{{"node", a.node}};
  if (what == "detach" && a.draft) body["draft"] = true;
  VBS_ASSIGN_OR_RETURN(Json att, api->Call("POST", "/v1/public/" + what, body));
  if (!a.wait) {
    ctx.PrintObject(att, AttachmentDetails);
    return Status::Ok();
  }
  return FollowNodeAttachment(ctx, api, att, what != "detach");
}

Status List(Context& ctx) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json list, api->Call("GET", "/v1/public"));
  Json versions = list.is_object() && list.contains("versions") ? list["versions"] : Json::array();
  ctx.out() << (ctx.json() ? PrettyJson(versions) : VersionsTable(versions)) << std::flush;
  return Status::Ok();
}

Status Delete(Context& ctx, const PublicArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json v, api->Call("DELETE", "/v1/public/" + PercentEncode(a.version)));
  if (!a.wait) {
    ctx.PrintObject(v, VersionDetails);
    return Status::Ok();
  }
  const std::string id = FieldText(v, "volume_id");
  WaitSpec spec{.done_states = {"deleted"}, .failed_states = {"error"}, .not_found_is_done = true};
  return ctx.WaitAndPrint(
      v, [api, id] { return api->GetVolume(id); }, spec, /*show_progress=*/false,
      "vbs volume show " + id, VolumeDetails);
}

}  // namespace

void AddPublicCommands(CLI::App& app, Context& ctx) {
  CLI::App* pub = app.add_subcommand(
      "public", "VBSFS's public volume: shared software, read-only on every node (admins)");
  pub->require_subcommand(1);
  auto args = std::make_shared<PublicArgs>();
  auto on = [&ctx, args](CLI::App* cmd, std::function<Status()> run) {
    cmd->callback([&ctx, run] { ctx.action = run; });
  };

  CLI::App* c = pub->add_subcommand("create", "Create the public volume's draft (version 1-to-be)");
  c->add_option("--size", args->size, "Size, e.g. 50G")->required()->type_name("SIZE");
  c->add_option("--pool", args->pool, "Pool (default: placed like any volume)")->type_name("POOL");
  c->add_flag("--wait", args->wait, "Wait until the draft's volume is available");
  on(c, [&ctx, args] { return Create(ctx, *args); });

  CLI::App* e = pub->add_subcommand("edit", "Mount the draft read-write at <public_root>.draft");
  e->add_option("--node", args->node, "The node")->required()->type_name("NODE");
  e->add_flag("--wait", args->wait, "Wait until it is mounted");
  on(e, [&ctx, args] { return OnNode(ctx, *args, "edit"); });

  CLI::App* p = pub->add_subcommand("publish", "Seal the draft as the next version");
  p->add_flag("--wait", args->wait, "Wait until the version is made");
  on(p, [&ctx, args] { return Publish(ctx, *args); });

  CLI::App* a = pub->add_subcommand(
      "attach", "Mount the newest version read-only at <public_root> (replacing an older one)");
  a->add_option("--node", args->node, "The node")->required()->type_name("NODE");
  a->add_flag("--wait", args->wait, "Wait until it is mounted");
  on(a, [&ctx, args] { return OnNode(ctx, *args, "attach"); });

  CLI::App* d = pub->add_subcommand("detach", "Unmount the node's version (or its draft)");
  d->add_option("--node", args->node, "The node")->required()->type_name("NODE");
  d->add_flag("--draft", args->draft, "The draft the node edits, not its version");
  d->add_flag("--wait", args->wait, "Wait until it is detached");
  on(d, [&ctx, args] { return OnNode(ctx, *args, "detach"); });

  on(pub->add_subcommand("list", "Versions, their volumes and the nodes that mount them"),
     [&ctx] { return List(ctx); });

  CLI::App* del = pub->add_subcommand("delete", "Delete a version no node has attached");
  del->add_option("VERSION", args->version, "A version number, or draft")->required();
  del->add_flag("--wait", args->wait, "Wait until its volume is deleted");
  on(del, [&ctx, args] { return Delete(ctx, *args); });
}

}  // namespace vbs::cli
