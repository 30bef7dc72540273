// vbs volume create | list | show | delete | resize | modify.
#include <fmt/format.h>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/errors.h"
#include "cli/output.h"
#include "common/ids.h"

namespace vbs::cli {
namespace {

const std::vector<std::string> kVolumeStates = {"creating", "available", "in-use",
                                                "deleting", "deleted",   "error"};

struct CreateArgs {
  std::string size;
  std::string name;
  std::vector<std::string> tags;
  std::string snapshot;
  std::string pool;
  std::string client_token;
  QosSettings qos;
  bool wait = false;
};

struct ListArgs {
  std::string state;
  std::string tag;
  bool all = false;
};

struct ResizeArgs {
  std::string id;
  std::string size;
  bool wait = false;
};

struct ModifyArgs {
  std::string id;
  QosSettings qos;
  bool wait = false;
};

// --type, --iops, --throughput of create and modify.
void AddQosOptions(CLI::App* cmd, QosSettings* q) {
  cmd->add_option("--type", q->type, "Volume type: standard, gp3, io2, or one the operator made")
      ->type_name("T");
  cmd->add_option("--iops", q->iops, "IOPS limit (gp3, io2)")->type_name("N");
  cmd->add_option("--throughput", q->throughput, "Throughput limit in MiB/s (gp3)")
      ->type_name("MIB");
}

struct IdArgs {
  std::string id;
  bool wait = false;
};

Status Create(Context& ctx, const CreateArgs& a) {
  VolumeCreateRequest req;
  if (a.size.empty()) {
    if (a.snapshot.empty()) return UsageError("--size is required (unless --snapshot is given)");
  } else {
    VBS_RETURN_IF_ERROR(CheckVolumeSize(a.size).status());
    req.size = a.size;  // the server parses it again: send what the user typed
  }
  VBS_ASSIGN_OR_RETURN(req.tags, ParseTags(a.tags, a.name));
  if (!a.snapshot.empty()) req.snapshot_id = a.snapshot;
  if (!a.pool.empty()) req.pool = a.pool;
  req.qos = a.qos;
  // The HTTPS client resends a request to the next endpoint when the server it was talking
  // to went away mid-call; the token makes that resend answer with the same volume.
  req.client_token = a.client_token.empty() ? RandomHex(16) : a.client_token;

  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json volume, api->CreateVolume(req));
  if (!a.wait) {
    ctx.PrintObject(volume, VolumeDetails);
    return Status::Ok();
  }
  std::string id = FieldText(volume, "id");
  WaitSpec spec{.done_states = {"available"}, .failed_states = {"error"}};
  return ctx.WaitAndPrint(
      volume, [api, id] { return api->GetVolume(id); }, spec, /*show_progress=*/false,
      "vbs volume show " + id, VolumeDetails);
}

Status List(Context& ctx, const ListArgs& a) {
  VolumeFilter filter;
  if (!a.state.empty()) {
    VBS_RETURN_IF_ERROR(CheckOneOf("--state", a.state, kVolumeStates));
    filter.state = a.state;
  }
  if (!a.tag.empty()) {
    VBS_RETURN_IF_ERROR(ParseTag(a.tag).status());
    filter.tag = a.tag;
  }
  filter.all = a.all;
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json volumes, api->ListVolumes(filter));
  ctx.out() << (ctx.json() ? PrettyJson(volumes) : VolumesTable(volumes)) << std::flush;
  return Status::Ok();
}

Status Show(Context& ctx, const IdArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json volume, api->GetVolume(a.id));
  ctx.PrintObject(volume, VolumeDetails);
  return Status::Ok();
}

Status Delete(Context& ctx, const IdArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json volume, api->DeleteVolume(a.id));
  if (!a.wait) {
    ctx.PrintObject(volume, VolumeDetails);
    return Status::Ok();
  }
  std::string id = a.id;
  WaitSpec spec{.done_states = {"deleted"}, .failed_states = {"error"}, .not_found_is_done = true};
  return ctx.WaitAndPrint(
      volume, [api, id] { return api->GetVolume(id); }, spec, /*show_progress=*/false,
      "vbs volume show " + id, VolumeDetails);
}

Status Resize(Context& ctx, const ResizeArgs& a) {
  VBS_RETURN_IF_ERROR(CheckVolumeSize(a.size).status());
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json mod, api->ResizeVolume(a.id, a.size));
  return FollowModification(ctx, api, a.id, std::move(mod), a.wait);
}

Status Modify(Context& ctx, const ModifyArgs& a) {
  if (a.qos.empty()) return UsageError("name what to change: --type, --iops or --throughput");
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json mod, api->ModifyVolume(a.id, a.qos));
  return FollowModification(ctx, api, a.id, std::move(mod), a.wait);
}

}  // namespace

Status FollowModification(Context& ctx, ApiClient* api, const std::string& volume_id, Json mod,
                          bool wait) {
  if (!wait) {
    ctx.PrintObject(mod, ModificationDetails);
    return Status::Ok();
  }
  // The volume carries its latest modification: follow that one until it is final.
  std::string id = volume_id, mod_id = FieldText(mod, "id");
  PollFn poll = [api, id, mod_id]() -> Result<Json> {
    VBS_ASSIGN_OR_RETURN(Json v, api->GetVolume(id));
    if (v.contains("modification") && v["modification"].is_object() &&
        FieldText(v["modification"], "id") == mod_id) {
      return v["modification"];
    }
    VBS_ASSIGN_OR_RETURN(Json all, api->ListModifications(id));
    for (const auto& m : all) {
      if (FieldText(m, "id") == mod_id) return m;
    }
    return Status::NotFound("vbs.NotFound", "the modification " + mod_id + " is gone");
  };
  WaitSpec spec{.done_states = {"completed"}, .failed_states = {"failed"}};
  return ctx.WaitAndPrint(mod, poll, spec, /*show_progress=*/false, "vbs volume show " + id,
                          ModificationDetails);
}

void AddVolumeCommands(CLI::App& app, Context& ctx) {
  CLI::App* volume = app.add_subcommand("volume", "Create, list, show, resize and delete volumes");
  volume->require_subcommand(1);

  auto create = std::make_shared<CreateArgs>();
  CLI::App* c = volume->add_subcommand("create", "Create a volume (empty, or from a snapshot)");
  c->add_option("--size", create->size, "Size: 512M, 10G, 1T (multiple of 1 MiB)")
      ->type_name("SIZE");
  c->add_option("--name", create->name, "Name (sent as the tag Name=N)")->type_name("N");
  c->add_option("--tag", create->tags, "Tag, repeatable")
      ->type_name("K=V")
      ->allow_extra_args(false);
  c->add_option("--snapshot", create->snapshot, "Create from this snapshot (size optional)")
      ->type_name("SNAP");
  c->add_option("--pool", create->pool, "Pool to place it in")->type_name("P");
  AddQosOptions(c, &create->qos);
  c->add_option("--client-token", create->client_token,
                "Idempotency token, 1-64 characters (default: a random one per call)")
      ->type_name("T");
  c->add_flag("--wait", create->wait, "Wait until it is available (or failed)");
  c->callback([&ctx, create] { ctx.action = [&ctx, create] { return Create(ctx, *create); }; });

  auto list = std::make_shared<ListArgs>();
  CLI::App* l = volume->add_subcommand("list", "List your volumes");
  l->add_option("--state", list->state, "Only volumes in this state")->type_name("S");
  l->add_option("--tag", list->tag, "Only volumes with this tag")->type_name("K=V");
  l->add_flag("--all", list->all, "Include deleted volumes");
  l->callback([&ctx, list] { ctx.action = [&ctx, list] { return List(ctx, *list); }; });

  auto show = std::make_shared<IdArgs>();
  CLI::App* s = volume->add_subcommand("show", "Show one volume");
  s->add_option("ID", show->id, "Volume id (vol-…)")->required();
  s->callback([&ctx, show] { ctx.action = [&ctx, show] { return Show(ctx, *show); }; });

  auto resize = std::make_shared<ResizeArgs>();
  CLI::App* r = volume->add_subcommand("resize", "Grow a volume (also while it is attached)");
  r->add_option("ID", resize->id, "Volume id (vol-…)")->required();
  r->add_option("SIZE", resize->size, "New size: 20G, 1T (larger than now, multiple of 1 MiB)")
      ->required();
  r->add_flag("--wait", resize->wait, "Wait until attached consumers see the new size");
  r->callback([&ctx, resize] { ctx.action = [&ctx, resize] { return Resize(ctx, *resize); }; });

  auto modify = std::make_shared<ModifyArgs>();
  CLI::App* m = volume->add_subcommand(
      "modify", "Change a volume's type, IOPS or throughput (also while it is attached)");
  m->add_option("ID", modify->id, "Volume id (vol-…)")->required();
  AddQosOptions(m, &modify->qos);
  m->add_flag("--wait", modify->wait, "Wait until every host serving it applies the limits");
  m->callback([&ctx, modify] { ctx.action = [&ctx, modify] { return Modify(ctx, *modify); }; });

  auto del = std::make_shared<IdArgs>();
  CLI::App* d = volume->add_subcommand("delete", "Delete a volume");
  d->add_option("ID", del->id, "Volume id (vol-…)")->required();
  d->add_flag("--wait", del->wait, "Wait until it is deleted");
  d->callback([&ctx, del] { ctx.action = [&ctx, del] { return Delete(ctx, *del); }; });
}

}  // namespace vbs::cli
