#include "core/public_service.h"

#include <algorithm>
#include <climits>

#include "common/ids.h"
#include "core/home_service.h"
#include "core/states.h"
#include "core/validation.h"

namespace vbs {
namespace {

Status AdminsOnly(const Caller& caller) {
  if (caller.admin) return Status::Ok();
  return Status::PermissionDenied("UnauthorizedOperation", "only admins manage the public volume");
}

Status ValidateNode(const std::string& node) {
  if (IsValidName(node)) return Status::Ok();
  return Status::InvalidArgument("InvalidParameterValue", "invalid node name '" + node + "'");
}

// Versions sort by number, newest first; the draft before them.
int64_t Rank(const std::string& version) {
  if (version == "draft") return INT64_MAX;
  return std::stoll(version);
}

bool IsVersionNumber(const std::string& s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), ::isdigit) && s[0] != '0';
}

const PublicVersion* Find(const std::vector<PublicVersion>& all, const std::string& version) {
  for (const auto& v : all) {
    if (v.version == version && v.volume.state != state::kDeleted) return &v;
  }
  return nullptr;
}

Status NoDraft() {
  return Status::NotFound("PublicVolumeNotFound",
                          "there is no public volume draft (vbs public create makes one)");
}

}  // namespace

Result<std::vector<PublicVersion>> PublicService::Load(const Caller& caller, bool include_deleted) {
  VBS_RETURN_IF_ERROR(AdminsOnly(caller));
  std::vector<PublicVersion> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    VolumeFilter f;
    f.include_deleted = include_deleted;
    VBS_ASSIGN_OR_RETURN(auto vols, tx.ListVolumes(f));
    for (const auto& v : vols) {
      auto tag = v.tags.find(kPublicTag);
      if (tag == v.tags.end()) continue;
      if (tag->second != "draft" && !IsVersionNumber(tag->second)) continue;
      PublicVersion pv{tag->second, v, {}};
      AttachmentFilter af;
      af.volume_id = v.id;
      VBS_ASSIGN_OR_RETURN(pv.attachments, tx.ListAttachments(af));
      out.push_back(std::move(pv));
    }
    return Status::Ok();
  }));
  std::stable_sort(out.begin(), out.end(), [](const PublicVersion& a, const PublicVersion& b) {
    return Rank(a.version) > Rank(b.version);
  });
  return out;
}

Result<std::vector<PublicVersion>> PublicService::List(const Caller& caller) {
  return Load(caller, false);
}

Result<PublicVersion> PublicService::Create(const Caller& caller, uint64_t size,
                                            const std::optional<std::string>& pool) {
  VBS_ASSIGN_OR_RETURN(auto all, Load(caller, false));
  if (const PublicVersion* d = Find(all, "draft")) {
    return Status::Conflict("PublicVolumeExists",
                            "the public volume's draft exists already: " + d->volume.id);
  }
  VBS_RETURN_IF_ERROR(CheckFileSystemVolumeSize(size));
  CreateVolumeRequest req;
  req.size = size;
  req.pool = pool;
  req.reserved_tags[kPublicTag] = "draft";
  VBS_ASSIGN_OR_RETURN(auto v, volumes_.Create(caller, req));
  return PublicVersion{"draft", v, {}};
}

Result<AttachmentRecord> PublicService::Edit(const Caller& caller, const std::string& node) {
  VBS_RETURN_IF_ERROR(ValidateNode(node));
  VBS_ASSIGN_OR_RETURN(auto all, Load(caller, false));
  const PublicVersion* d = Find(all, "draft");
  if (d == nullptr) return NoDraft();
  AttachRequest req;
  req.volume_id = d->volume.id;
  req.instance_id = HostInstanceId(node);
  req.mode = "rw";
  req.public_mount = "public-draft";
  return attachments_.Attach(caller, req);
}

Result<PublicVersion> PublicService::Publish(const Caller& caller) {
  VBS_ASSIGN_OR_RETURN(auto all, Load(caller, true));
  const PublicVersion* d = Find(all, "draft");
  if (d == nullptr) return NoDraft();
  int64_t last = 0;
  for (const auto& v : all) {
    if (v.version != "draft") last = std::max(last, Rank(v.version));
  }
  const std::string version = std::to_string(last + 1);
  CreateSnapshotRequest snap;
  snap.volume_id = d->volume.id;
  snap.description = "public volume version " + version;
  VBS_ASSIGN_OR_RETURN(auto s, snapshots_.Create(caller, snap));
  // Owned like the draft, whichever admin publishes.
  CreateVolumeRequest req;
  req.snapshot_id = s.id;
  req.after_snapshot = true;
  req.reserved_tags[kPublicTag] = version;
  VBS_ASSIGN_OR_RETURN(auto v, volumes_.Create(Caller{d->volume.owner, true}, req));
  return PublicVersion{version, v, {}};
}

Result<AttachmentRecord> PublicService::Attach(const Caller& caller, const std::string& node) {
  VBS_RETURN_IF_ERROR(ValidateNode(node));
  VBS_ASSIGN_OR_RETURN(auto all, Load(caller, false));
  const PublicVersion* newest = nullptr;
  for (const auto& v : all) {
    if (v.version == "draft") continue;
    for (const auto& a : v.attachments) {
      if (a.node != node) continue;
      return Status::Conflict("VolumeInUse", "node '" + node + "' has version " + v.version +
                                                 " of the public volume (" + a.state +
                                                 "); detach it first (vbs public attach does)");
    }
    if (newest == nullptr &&
        (v.volume.state == state::kAvailable || v.volume.state == state::kInUse)) {
      newest = &v;
    }
  }
  if (newest == nullptr) {
    return Status::NotFound("PublicVolumeNotFound",
                            "no version of the public volume is published and available");
  }
  AttachRequest req;
  req.volume_id = newest->volume.id;
  req.instance_id = HostInstanceId(node);
  req.mode = "ro";
  req.public_mount = "public";
  return attachments_.Attach(caller, req);
}

Result<AttachmentRecord> PublicService::Detach(const Caller& caller, const std::string& node,
                                               bool draft) {
  VBS_RETURN_IF_ERROR(ValidateNode(node));
  VBS_ASSIGN_OR_RETURN(auto all, Load(caller, false));
  for (const auto& v : all) {
    if ((v.version == "draft") != draft) continue;
    for (const auto& a : v.attachments) {
      if (a.node == node) return attachments_.Detach(caller, v.volume.id, a.instance_id, false);
    }
  }
  return IncorrectState("node '" + node + "' has no " + (draft ? "draft" : "version") +
                        " of the public volume attached");
}

Result<PublicVersion> PublicService::Delete(const Caller& caller, const std::string& version) {
  if (version != "draft" && !IsVersionNumber(version)) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "'" + version + "' is neither 'draft' nor a version number");
  }
  VBS_ASSIGN_OR_RETURN(auto all, Load(caller, false));
  const PublicVersion* v = Find(all, version);
  if (v == nullptr) {
    return Status::NotFound("PublicVolumeNotFound",
                            "the public volume has no version '" + version + "'");
  }
  if (!v->attachments.empty()) {
    std::string nodes;
    for (const auto& a : v->attachments) nodes += (nodes.empty() ? "'" : ", '") + a.node + "'";
    return Status::Conflict("VolumeInUse", "version " + version + " is attached to node " + nodes);
  }
  VBS_ASSIGN_OR_RETURN(auto gone, volumes_.Delete(caller, v->volume.id));
  return PublicVersion{version, gone, {}};
}

}  // namespace vbs
