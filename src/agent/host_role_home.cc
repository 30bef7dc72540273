// HostRole's VBSFS mounts (host_role.h, agent/home_mount.h): homes at <home_root>/<user>, the
// public volume's version read-only at <public_root> and its draft at <public_root>.draft.
// The volume is exported to the agent itself (uid 0) under the fixed name "vbs-<volume id>", so
// that a rerun attach and the exports re-created after an agent restart are the ones the
// mount's NBD client reconnects to; then it is mounted. A detach unmounts before the export
// goes.
#include <spdlog/spdlog.h>

#include <set>

#include "agent/host_op_params.h"
#include "agent/host_role.h"
#include "common/ids.h"

namespace vbs {

Status HostRole::AttachHome(const AgentOp& op, const std::string& volume_id,
                            nlohmann::json* result) {
  const nlohmann::json& mount = op.params["mount"];
  const std::string kind = mount.is_object() ? mount.value("kind", "") : "";
  const bool read_only = op.params.value("mode", "rw") == "ro";
  HomeMountSpec spec;
  if (kind == "home") {
    spec.user = mount.value("user", "");
    if (!IsValidName(spec.user)) {
      return Status::InvalidArgument("InvalidParameterValue", "a home names a valid user");
    }
    if (read_only) {
      return Status::InvalidArgument("InvalidParameterValue", "a home is attached read-write");
    }
    spec.mount_point = options_.home_root + "/" + spec.user;
  } else if (kind == "public" && read_only) {  // a sealed version, for everyone
    spec.mount_point = options_.public_root;
    spec.read_only = true;
  } else if (kind == "public-draft" && !read_only) {  // an admin edits it as root
    spec.mount_point = options_.public_root + ".draft";
    spec.user = "root";
    spec.root_mode = 0755;
  } else {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "unknown mount '" + kind + (read_only ? "' (ro)" : "' (rw)"));
  }
  const std::string name = "vbs-" + volume_id;
  bool exported;
  {
    std::lock_guard<std::mutex> l(mu_);
    exported = exports_.count(name) > 0;
  }
  if (!exported) {
    VBS_RETURN_IF_ERROR(Export(name, op.pool, volume_id, read_only, nbd::Consumer::Uid(0),
                               host_op::LimitsOf(op.params)));
  }
  spec.volume_id = volume_id;
  spec.export_name = name;
  Status st = homes_->Mount(spec);
  if (!st.ok()) {
    Status un = Unexport(name);
    if (!un.ok()) {
      spdlog::warn("agent {}: cannot remove the export of {} after a failed mount: {}",
                   options_.node, volume_id, un.ToString());
    }
    return st;
  }
  (*result)["export_name"] = name;
  (*result)["nbd_uri"] = UriOf(name);
  (*result)["mount_point"] = spec.mount_point;
  if (auto u = homes_->Usage(volume_id); u.ok()) {
    (*result)["fs_size"] = u->size_bytes;
    (*result)["fs_used"] = u->used_bytes;
    (*result)["fs_free"] = u->free_bytes;
  }
  spdlog::info("agent {}: mounted {} ({}{}) at {}", options_.node, volume_id, kind,
               spec.user.empty() ? "" : " of " + spec.user, spec.mount_point);
  return Status::Ok();
}

Status HostRole::UnmountHome(const AgentOp& op, const std::string& volume_id) {
  // Unmounting a volume that is not mounted here succeeds: every host detach may ask.
  Status st = homes_->Unmount(volume_id, host_op::IsParamTrue(op.params, "force"));
  if (!st.ok()) return st;  // busy: still attached and mounted; the user may retry, or force
  return Status::Ok();
}

Result<bool> HostRole::FreezeHome(const std::string& volume_id) {
  if (!homes_->Usage(volume_id).ok()) return false;  // not a file system mounted here
  VBS_RETURN_IF_ERROR(homes_->Freeze(volume_id));
  return true;
}

void HostRole::ThawHome(const std::string& volume_id) {
  Status st = homes_->Thaw(volume_id);
  if (!st.ok()) {
    spdlog::error("agent {}: cannot thaw the file system of {}: {}", options_.node, volume_id,
                  st.ToString());
  }
}

std::map<std::string, MountUsage> HostRole::MountUsages() const {
  std::map<std::string, MountUsage> out;
  for (const AdoptedMount& m : homes_->Adopt()) {
    if (!m.mounted) continue;
    auto u = homes_->Usage(m.volume_id);
    if (u.ok()) out[m.volume_id] = *u;
  }
  return out;
}

void HostRole::AbandonStaleMounts(const std::vector<AgentAttachment>& attachments) {
  std::set<std::string> live;
  for (const auto& a : attachments) live.insert(a.volume_id);  // any state: an attach may run
  for (const AdoptedMount& m : homes_->Adopt()) {
    if (live.count(m.volume_id)) continue;
    Status st = homes_->Abandon(m.volume_id);
    if (st.ok()) {
      spdlog::warn("agent {}: took away the mount of {} at {}: this node no longer has the volume",
                   options_.node, m.volume_id, m.mount_point);
    } else {
      spdlog::error("agent {}: cannot take away the stale mount of {}: {}", options_.node,
                    m.volume_id, st.ToString());
    }
  }
}

void HostRole::ThawAllHomes() {
  for (const AdoptedMount& m : homes_->Adopt()) {
    if (m.mounted) ThawHome(m.volume_id);
  }
}

void HostRole::GrowHome(const std::string& volume_id) {
  if (!homes_->Usage(volume_id).ok()) return;  // not a home mounted here
  Status st = homes_->Grow(volume_id);
  if (st.ok()) {
    spdlog::info("agent {}: grew the file system of {} online", options_.node, volume_id);
  } else {
    spdlog::warn("agent {}: the file system of {} grows at its next mount: {}", options_.node,
                 volume_id, st.ToString());
  }
}

}  // namespace vbs
