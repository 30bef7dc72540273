// vbs snapshot create | list | show | delete.
#include <fmt/format.h>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace vbs::cli {
namespace {

const std::vector<std::string> kSnapshotStates = {"pending", "completed", "error", "deleting",
                                                  "deleted"};

struct CreateArgs {
  std::string volume;
  std::string description;
  bool has_description = false;
  std::vector<std::string> tags;
  bool wait = false;
};

struct ListArgs {
  std::string volume;
  std::string state;
  bool all = false;
};

struct IdArgs {
  std::string id;
  bool wait = false;
};

Status Create(Context& ctx, const CreateArgs& a) {
  SnapshotCreateRequest req;
  req.volume_id = a.volume;
  if (a.has_description) req.description = a.description;
  VBS_ASSIGN_OR_RETURN(req.tags, ParseTags(a.tags));

  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json snapshot, api->CreateSnapshot(req));
  if (!a.wait) {
    ctx.PrintObject(snapshot, SnapshotDetails);
    return Status::Ok();
  }
  std::string id = FieldText(snapshot, "id");
  WaitSpec spec{.done_states = {"completed"}, .failed_states = {"error"}};
  return ctx.WaitAndPrint(
      snapshot, [api, id] { return api->GetSnapshot(id); }, spec, /*show_progress=*/true,
      "vbs snapshot show " + id, SnapshotDetails);
}

Status List(Context& ctx, const ListArgs& a) {
  SnapshotFilter filter;
  if (!a.state.empty()) {
    VBS_RETURN_IF_ERROR(CheckOneOf("--state", a.state, kSnapshotStates));
    filter.state = a.state;
  }
  if (!a.volume.empty()) filter.volume_id = a.volume;
  filter.all = a.all;
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json snapshots, api->ListSnapshots(filter));
  ctx.out() << (ctx.json() ? PrettyJson(snapshots) : SnapshotsTable(snapshots)) << std::flush;
  return Status::Ok();
}

Status Show(Context& ctx, const IdArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json snapshot, api->GetSnapshot(a.id));
  ctx.PrintObject(snapshot, SnapshotDetails);
  return Status::Ok();
}

Status Delete(Context& ctx, const IdArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json snapshot, api->DeleteSnapshot(a.id));
  if (!a.wait) {
    ctx.PrintObject(snapshot, SnapshotDetails);
    return Status::Ok();
  }
  std::string id = a.id;
  WaitSpec spec{.done_states = {"deleted"}, .failed_states = {"error"}, .not_found_is_done = true};
  return ctx.WaitAndPrint(
      snapshot, [api, id] { return api->GetSnapshot(id); }, spec, /*show_progress=*/false,
      "vbs snapshot show " + id, SnapshotDetails);
}

}  // namespace

void AddSnapshotCommands(CLI::App& app, Context& ctx) {
  CLI::App* snapshot = app.add_subcommand("snapshot", "Create, list, show and delete snapshots");
  snapshot->require_subcommand(1);

  auto create = std::make_shared<CreateArgs>();
  CLI::App* c = snapshot->add_subcommand("create", "Snapshot a volume");
  c->add_option("VOLUME", create->volume, "Volume id (vol-…)")->required();
  CLI::Option* description =
      c->add_option("--description", create->description, "Free text")->type_name("D");
  c->add_option("--tag", create->tags, "Tag, repeatable")
      ->type_name("K=V")
      ->allow_extra_args(false);
  c->add_flag("--wait", create->wait, "Wait until it is completed (or failed), with progress");
  c->callback([&ctx, create, description] {
    create->has_description = description->count() > 0;  // an empty description is a value
    ctx.action = [&ctx, create] { return Create(ctx, *create); };
  });

  auto list = std::make_shared<ListArgs>();
  CLI::App* l = snapshot->add_subcommand("list", "List your snapshots");
  l->add_option("--volume", list->volume, "Only snapshots of this volume")->type_name("V");
  l->add_option("--state", list->state, "Only snapshots in this state")->type_name("S");
  l->add_flag("--all", list->all, "Include deleted snapshots");
  l->callback([&ctx, list] { ctx.action = [&ctx, list] { return List(ctx, *list); }; });

  auto show = std::make_shared<IdArgs>();
  CLI::App* s = snapshot->add_subcommand("show", "Show one snapshot");
  s->add_option("ID", show->id, "Snapshot id (snap-…)")->required();
  s->callback([&ctx, show] { ctx.action = [&ctx, show] { return Show(ctx, *show); }; });

  auto del = std::make_shared<IdArgs>();
  CLI::App* d = snapshot->add_subcommand("delete", "Delete a snapshot");
  d->add_option("ID", del->id, "Snapshot id (snap-…)")->required();
  d->add_flag("--wait", del->wait, "Wait until it is deleted");
  d->callback([&ctx, del] { ctx.action = [&ctx, del] { return Delete(ctx, *del); }; });
}

}  // namespace vbs::cli
