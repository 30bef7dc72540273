// vbs home create | list | show | delete | resize | attach | detach | snapshot | restore: VBSFS
// homes (core/home_service.h). resize grows the home's volume (as `vbs volume resize` does).
// snapshot is taken with the file system frozen on the node that mounts the home; restore
// replaces a detached home with a volume from a snapshot and keeps the former one.
//
// A home's --wait follows the volume (create, delete) or the attachment (attach, detach) the
// way `vbs volume` and `vbs attach` do. attach --move detaches the home from the node that has
// it, waits until it is detached there, then attaches it to the new node.
#include <fmt/format.h>

#include <memory>
#include <optional>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/context.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace vbs::cli {
namespace {

struct CreateArgs {
  std::string user;
  std::string size;
  std::string pool;
  bool wait = false;
};

struct NodeArgs {
  std::string user;
  std::string node;
  bool move = false;
  bool force = false;
  bool wait = false;
};

std::string HomePath(const std::string& user) {
  return "/v1/homes/" + PercentEncode(user);
}

std::string HomeDetails(const Json& h) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"user", FieldText(h, "user")},
      {"volume", FieldText(h, "volume_id")},
      {"size", SizeText(h, "size")},
      {"pool", FieldText(h, "pool")},
      {"state", FieldText(h, "state")},
      {"node", FieldText(h, "node")},
      {"mount point", FieldText(h, "mount_point")},
  };
  if (h.contains("filesystem") && h["filesystem"].is_object()) {
    rows.emplace_back("used", SizeText(h["filesystem"], "used"));
    rows.emplace_back("free", SizeText(h["filesystem"], "free"));
  }
  if (h.contains("attachment") && h["attachment"].is_object()) {
    rows.emplace_back("attachment", FieldText(h["attachment"], "state"));
    const std::string error = FieldText(h["attachment"], "error");
    if (error != "-") rows.emplace_back("error", error);
  }
  return RenderDetails(rows);
}

std::string HomesTable(const Json& homes) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& h : homes) {
    std::string att = "-";
    if (h.contains("attachment") && h["attachment"].is_object()) {
      att = FieldText(h["attachment"], "state");
    }
    const bool fs = h.contains("filesystem") && h["filesystem"].is_object();
    rows.push_back({FieldText(h, "user"), FieldText(h, "volume_id"), SizeText(h, "size"),
                    fs ? SizeText(h["filesystem"], "used") : "-",
                    fs ? SizeText(h["filesystem"], "free") : "-", FieldText(h, "state"),
                    FieldText(h, "node"), att, FieldText(h, "mount_point")});
  }
  return RenderTable(
      {"USER", "VOLUME", "SIZE", "USED", "FREE", "STATE", "NODE", "ATTACHMENT", "MOUNT POINT"},
      rows);
}

// The user named, or the caller.
Result<std::string> UserOrSelf(ApiClient* api, const std::string& user) {
  if (!user.empty()) return user;
  VBS_ASSIGN_OR_RETURN(Json me, api->WhoAmI());
  return FieldText(me, "user");
}

Status Create(Context& ctx, const CreateArgs& a) {
  Json body = Json::object();
  if (!a.user.empty()) body["user"] = a.user;
  if (!a.size.empty()) {
    VBS_ASSIGN_OR_RETURN(uint64_t bytes, CheckVolumeSize(a.size));
    body["size"] = bytes;
  }
  if (!a.pool.empty()) body["pool"] = a.pool;
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json home, api->Call("POST", "/v1/homes", body));
  if (!a.wait) {
    ctx.PrintObject(home, HomeDetails);
    return Status::Ok();
  }
  const std::string user = FieldText(home, "user");
  WaitSpec spec{.done_states = {"available"}, .failed_states = {"error"}};
  return ctx.WaitAndPrint(
      home, [api, user] { return api->Call("GET", HomePath(user)); }, spec,
      /*show_progress=*/false, "vbs home show " + user, HomeDetails);
}

Status List(Context& ctx) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json list, api->Call("GET", "/v1/homes"));
  Json homes = list.is_object() && list.contains("homes") ? list["homes"] : Json::array();
  ctx.out() << (ctx.json() ? PrettyJson(homes) : HomesTable(homes)) << std::flush;
  return Status::Ok();
}

Status Show(Context& ctx, const std::string& who) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(std::string user, UserOrSelf(api, who));
  VBS_ASSIGN_OR_RETURN(Json home, api->Call("GET", HomePath(user)));
  ctx.PrintObject(home, HomeDetails);
  return Status::Ok();
}

Status Delete(Context& ctx, const std::string& user, bool wait) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json home, api->Call("DELETE", HomePath(user)));
  if (!wait) {
    ctx.PrintObject(home, HomeDetails);
    return Status::Ok();
  }
  const std::string id = FieldText(home, "volume_id");
  WaitSpec spec{.done_states = {"deleted"}, .failed_states = {"error"}, .not_found_is_done = true};
  return ctx.WaitAndPrint(
      home, [api, id] { return api->GetVolume(id); }, spec, /*show_progress=*/false,
      "vbs volume show " + id, VolumeDetails);
}

// Follows the attachment `att` of `volume_id` until it is in `done` (or failed).
Status FollowHomeAttachment(Context& ctx, ApiClient* api, const std::string& user,
                            const std::string& volume_id, const Json& att, bool attaching) {
  WaitSpec spec = attaching ? WaitSpec{.done_states = {"attached"}, .failed_states = {"detached"}}
                            : WaitSpec{.done_states = {"detached"}, .failed_states = {"attached"}};
  const std::string gone =
      attaching ? fmt::format(
                      "the attach failed: the home of {} is not attached (vbs volume "
                      "show {} has the reason)",
                      user, volume_id)
                : "";
  return ctx.WaitAndPrint(att, FollowAttachment(api, volume_id, att, gone), spec,
                          /*show_progress=*/false, "vbs home show " + user, AttachmentDetails);
}

Status Detach(Context& ctx, const NodeArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  Json body = Json::object();
  if (a.force) body["force"] = true;
  VBS_ASSIGN_OR_RETURN(Json att, api->Call("POST", HomePath(a.user) + "/detach", body));
  if (!a.wait) {
    ctx.PrintObject(att, AttachmentDetails);
    return Status::Ok();
  }
  return FollowHomeAttachment(ctx, api, a.user, FieldText(att, "volume_id"), att, false);
}

Status Resize(Context& ctx, const NodeArgs& a, const std::string& size) {
  VBS_RETURN_IF_ERROR(CheckVolumeSize(size).status());
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json home, api->Call("GET", HomePath(a.user)));
  const std::string id = FieldText(home, "volume_id");
  VBS_ASSIGN_OR_RETURN(Json mod, api->ResizeVolume(id, size));
  return FollowModification(ctx, api, id, std::move(mod), a.wait);
}

Status Snapshot(Context& ctx, const NodeArgs& a, const std::string& description) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  Json body = Json::object();
  if (!description.empty()) body["description"] = description;
  VBS_ASSIGN_OR_RETURN(Json snapshot, api->Call("POST", HomePath(a.user) + "/snapshot", body));
  if (!a.wait) {
    ctx.PrintObject(snapshot, SnapshotDetails);
    return Status::Ok();
  }
  const std::string id = FieldText(snapshot, "id");
  WaitSpec spec{.done_states = {"completed"}, .failed_states = {"error"}};
  return ctx.WaitAndPrint(
      snapshot, [api, id] { return api->GetSnapshot(id); }, spec, /*show_progress=*/false,
      "vbs snapshot show " + id, SnapshotDetails);
}

Status Restore(Context& ctx, const NodeArgs& a, const std::string& snapshot) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(
      Json home, api->Call("POST", HomePath(a.user) + "/restore", Json{{"snapshot_id", snapshot}}));
  ctx.err() << "the former home " << FieldText(home, "former_volume_id")
            << " is kept; delete it with: vbs volume delete " << FieldText(home, "former_volume_id")
            << "\n";
  if (!a.wait) {
    ctx.PrintObject(home, HomeDetails);
    return Status::Ok();
  }
  WaitSpec spec{.done_states = {"available"}, .failed_states = {"error"}};
  return ctx.WaitAndPrint(
      home, [api, user = a.user] { return api->Call("GET", HomePath(user)); }, spec,
      /*show_progress=*/false, "vbs home show " + a.user, HomeDetails);
}

Status Attach(Context& ctx, const NodeArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  if (a.move) {
    VBS_ASSIGN_OR_RETURN(Json home, api->Call("GET", HomePath(a.user)));
    const std::string node = FieldText(home, "node");
    if (node != "-" && node != a.node) {
      VBS_ASSIGN_OR_RETURN(Json att,
                           api->Call("POST", HomePath(a.user) + "/detach", Json::object()));
      WaitSpec spec{.done_states = {"detached"}, .failed_states = {"attached"}};
      WaitOutcome out = WaitFor(att, FollowAttachment(api, FieldText(att, "volume_id"), att, ""),
                                spec, WaitClock::Real(), nullptr);
      VBS_RETURN_IF_ERROR(WaitStatus(out, spec, "vbs home show " + a.user));
      ctx.err() << "detached the home of " << a.user << " from " << node << "\n";
    }
  }
  VBS_ASSIGN_OR_RETURN(Json att,
                       api->Call("POST", HomePath(a.user) + "/attach", Json{{"node", a.node}}));
  if (!a.wait) {
    ctx.PrintObject(att, AttachmentDetails);
    return Status::Ok();
  }
  return FollowHomeAttachment(ctx, api, a.user, FieldText(att, "volume_id"), att, true);
}

}  // namespace

void AddHomeCommands(CLI::App& app, Context& ctx) {
  CLI::App* home = app.add_subcommand("home",
                                      "VBSFS homes: each user's own volume, mounted "
                                      "as their home directory on a node");
  home->require_subcommand(1);

  auto create = std::make_shared<CreateArgs>();
  CLI::App* c = home->add_subcommand("create", "Create a home (yours, or USER's as an admin)");
  c->add_option("USER", create->user, "Whose home (default: yours)");
  c->add_option("--size", create->size, "Size, e.g. 20G (default: the server's)")
      ->type_name("SIZE");
  c->add_option("--pool", create->pool, "Pool (default: the server's)")->type_name("POOL");
  c->add_flag("--wait", create->wait, "Wait until the home's volume is available");
  c->callback([&ctx, create] { ctx.action = [&ctx, create] { return Create(ctx, *create); }; });

  home->add_subcommand("list", "List homes (yours; every user's for admins)")->callback([&ctx] {
    ctx.action = [&ctx] { return List(ctx); };
  });

  auto show_user = std::make_shared<std::string>();
  CLI::App* s = home->add_subcommand("show", "Show a home: volume, node, mount point, state");
  s->add_option("USER", *show_user, "Whose home (default: yours)");
  s->callback(
      [&ctx, show_user] { ctx.action = [&ctx, show_user] { return Show(ctx, *show_user); }; });

  auto del = std::make_shared<NodeArgs>();
  CLI::App* d = home->add_subcommand("delete", "Delete a detached home and its data");
  d->add_option("USER", del->user, "Whose home")->required();
  d->add_flag("--wait", del->wait, "Wait until the volume is deleted");
  d->callback(
      [&ctx, del] { ctx.action = [&ctx, del] { return Delete(ctx, del->user, del->wait); }; });

  auto grow = std::make_shared<NodeArgs>();
  auto grow_size = std::make_shared<std::string>();
  CLI::App* g = home->add_subcommand(
      "resize", "Grow a home (its file system grows online, or at its next attach)");
  g->add_option("USER", grow->user, "Whose home")->required();
  g->add_option("SIZE", *grow_size, "The new size, e.g. 40G")->required();
  g->add_flag("--wait", grow->wait, "Wait until the volume has grown");
  g->callback([&ctx, grow, grow_size] {
    ctx.action = [&ctx, grow, grow_size] { return Resize(ctx, *grow, *grow_size); };
  });

  auto snap = std::make_shared<NodeArgs>();
  auto snap_text = std::make_shared<std::string>();
  CLI::App* sn = home->add_subcommand(
      "snapshot", "Snapshot a home (its file system frozen meanwhile if it is mounted)");
  sn->add_option("USER", snap->user, "Whose home")->required();
  sn->add_option("--description", *snap_text, "What the snapshot is for");
  sn->add_flag("--wait", snap->wait, "Wait until the snapshot is completed");
  sn->callback([&ctx, snap, snap_text] {
    ctx.action = [&ctx, snap, snap_text] { return Snapshot(ctx, *snap, *snap_text); };
  });

  auto rest = std::make_shared<NodeArgs>();
  auto rest_snap = std::make_shared<std::string>();
  CLI::App* rs = home->add_subcommand(
      "restore", "Replace a detached home with a volume from SNAPSHOT (the old one is kept)");
  rs->add_option("USER", rest->user, "Whose home")->required();
  rs->add_option("SNAPSHOT", *rest_snap, "A snapshot of one of the user's homes")->required();
  rs->add_flag("--wait", rest->wait, "Wait until the new home's volume is available");
  rs->callback([&ctx, rest, rest_snap] {
    ctx.action = [&ctx, rest, rest_snap] { return Restore(ctx, *rest, *rest_snap); };
  });

  auto att = std::make_shared<NodeArgs>();
  CLI::App* a = home->add_subcommand("attach", "Mount a home on a node (at <home_root>/USER)");
  a->add_option("USER", att->user, "Whose home")->required();
  a->add_option("--node", att->node, "The node that runs the user's work")
      ->required()
      ->type_name("NODE");
  a->add_flag("--move", att->move, "Detach it from the node that has it first");
  a->add_flag("--wait", att->wait, "Wait until it is mounted");
  a->callback([&ctx, att] { ctx.action = [&ctx, att] { return Attach(ctx, *att); }; });

  auto det = std::make_shared<NodeArgs>();
  CLI::App* dt = home->add_subcommand("detach", "Unmount a home from its node and detach it");
  dt->add_option("USER", det->user, "Whose home")->required();
  dt->add_flag("--force", det->force, "End the processes that hold the mount");
  dt->add_flag("--wait", det->wait, "Wait until it is detached");
  dt->callback([&ctx, det] { ctx.action = [&ctx, det] { return Detach(ctx, *det); }; });
}

}  // namespace vbs::cli
