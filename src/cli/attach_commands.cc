// vbs attach | detach | instance list.
//
// There is no GET for one attachment: --wait polls the volume and follows the attachment (by
// id) among the volume's live attachments. An attachment that is no longer there has been
// detached: that is the goal of `detach --wait`, and the end of a failed `attach --wait`,
// whose reason the volume carries in `failed_attachment`.
#include <fmt/format.h>

#include <memory>
#include <optional>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace vbs::cli {
namespace {

struct AttachArgs {
  std::string volume;
  std::string instance;
  std::string mode;
  std::string device;
  std::optional<int64_t> uid;
  bool wait = false;
};

struct DetachArgs {
  std::string volume;
  std::string instance;
  bool force = false;
  bool wait = false;
};

}  // namespace

PollFn FollowAttachment(ApiClient* api, const std::string& volume_id, const Json& initial,
                        const std::string& gone_error) {
  auto last = std::make_shared<Json>(initial);
  std::string id = FieldText(initial, "id");
  return [api, volume_id, id, last, gone_error]() -> Result<Json> {
    VBS_ASSIGN_OR_RETURN(Json volume, api->GetVolume(volume_id));
    if (volume.is_object() && volume.contains("attachments") && volume["attachments"].is_array()) {
      for (const Json& a : volume["attachments"]) {
        if (FieldText(a, "id") == id) return *last = a;
      }
    }
    if (volume.is_object() && volume.contains("failed_attachment") &&
        volume["failed_attachment"].is_object() &&
        FieldText(volume["failed_attachment"], "id") == id) {
      return *last = volume["failed_attachment"];  // detached, with the reason
    }
    Json gone = *last;
    if (!gone.is_object()) gone = Json::object();
    gone["state"] = "detached";
    gone["error"] = gone_error.empty() ? Json(nullptr) : Json(gone_error);
    return gone;
  };
}

namespace {

Status Attach(Context& ctx, const AttachArgs& a) {
  AttachRequest req;
  req.volume_id = a.volume;
  req.instance_id = a.instance;
  if (!a.mode.empty()) {
    VBS_RETURN_IF_ERROR(CheckOneOf("--mode", a.mode, {"rw", "ro"}));
    req.mode = a.mode;
  }
  if (!a.device.empty()) req.device = a.device;
  req.uid = a.uid;
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json att, api->AttachVolume(req));
  if (!a.wait) {
    ctx.PrintObject(att, AttachmentDetails);
    return Status::Ok();
  }
  // Given up on (detaching) or failed (gone): both end the wait as a failure.
  WaitSpec spec{.done_states = {"attached"}, .failed_states = {"detached", "detaching"}};
  std::string gone = fmt::format(
      "the attach failed: the attachment is no longer on {} (the node's log has the reason)",
      a.volume);
  return ctx.WaitAndPrint(att, FollowAttachment(api, a.volume, att, gone), spec,
                          /*show_progress=*/false, "vbs volume show " + a.volume,
                          AttachmentDetails);
}

Status Detach(Context& ctx, const DetachArgs& a) {
  DetachRequest req;
  req.volume_id = a.volume;
  req.force = a.force;
  if (!a.instance.empty()) req.instance_id = a.instance;
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json att, api->DetachVolume(req));
  if (!a.wait) {
    ctx.PrintObject(att, AttachmentDetails);
    return Status::Ok();
  }
  // A detach that fails puts the attachment back to `attached` with the reason in `error`.
  WaitSpec spec{.done_states = {"detached"}, .failed_states = {"attached"}};
  return ctx.WaitAndPrint(att, FollowAttachment(api, a.volume, att, ""), spec,
                          /*show_progress=*/false, "vbs volume show " + a.volume,
                          AttachmentDetails);
}

Status ListInstances(Context& ctx) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json instances, api->ListInstances());
  ctx.out() << (ctx.json() ? PrettyJson(instances) : InstancesTable(instances)) << std::flush;
  return Status::Ok();
}

}  // namespace

void AddAttachCommands(CLI::App& app, Context& ctx) {
  auto att = std::make_shared<AttachArgs>();
  CLI::App* a = app.add_subcommand("attach", "Attach a volume to an instance (host-NODE: NBD)");
  a->add_option("VOLUME", att->volume, "Volume id (vol-…)")->required();
  a->add_option("INSTANCE", att->instance, "Instance id (i-…, or host-NODE)")->required();
  a->add_option("--mode", att->mode, "rw (default; exclusive) or ro (shareable)")
      ->type_name("rw|ro");
  a->add_option("--device", att->device, "Device name in the instance")->type_name("NAME");
  a->add_option("--uid", att->uid,
                "host-NODE: the local uid whose processes may open the export (default 0)")
      ->type_name("UID")
      ->check(CLI::Range(int64_t{0}, int64_t{4294967294}));
  a->add_flag("--wait", att->wait, "Wait until attached (prints the NBD URI of host targets)");
  a->callback([&ctx, att] { ctx.action = [&ctx, att] { return Attach(ctx, *att); }; });

  auto det = std::make_shared<DetachArgs>();
  CLI::App* d = app.add_subcommand("detach", "Detach a volume (from its only instance, or one)");
  d->add_option("VOLUME", det->volume, "Volume id (vol-…)")->required();
  d->add_option("INSTANCE", det->instance, "Instance to detach from (needed if several)");
  d->add_flag("--force", det->force, "Detach even if the instance does not release it");
  d->add_flag("--wait", det->wait, "Wait until the attachment is gone from the volume");
  d->callback([&ctx, det] { ctx.action = [&ctx, det] { return Detach(ctx, *det); }; });

  CLI::App* instance = app.add_subcommand("instance", "Instances volumes attach to");
  instance->require_subcommand(1);
  instance->add_subcommand("list", "List instances (VMs and hosts)")->callback([&ctx] {
    ctx.action = [&ctx] { return ListInstances(ctx); };
  });
}

}  // namespace vbs::cli
