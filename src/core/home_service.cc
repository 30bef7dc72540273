#include "core/home_service.h"

#include <algorithm>

#include "common/ids.h"
#include "core/states.h"
#include "core/validation.h"

namespace vbs {
namespace {

Status ValidateUser(const std::string& user) {
  if (IsValidName(user)) return Status::Ok();
  return Status::InvalidArgument(
      "InvalidParameterValue",
      "invalid user name '" + user + "': 1-63 of A-Z a-z 0-9 . _ -, starting alphanumeric");
}

bool IsHomeOf(const VolumeRecord& v, const std::string& user) {
  auto tag = v.tags.find(kHomeTag);
  return tag != v.tags.end() && tag->second == user && v.owner == user;
}

}  // namespace

Status CheckFileSystemVolumeSize(uint64_t size) {
  if (size >= kMinFileSystemVolume) return Status::Ok();
  return Status::InvalidArgument("InvalidParameterValue",
                                 "a volume for a file system is at least 16M (ext4 and its "
                                 "journal); " +
                                     std::to_string(size) + " bytes is too small");
}

Status HomeNotFound(const std::string& user) {
  return Status::NotFound("HomeNotFound", "user '" + user + "' has no home");
}

Result<Home> HomeService::Find(const Caller& caller, const std::string& user) {
  VBS_RETURN_IF_ERROR(ValidateUser(user));
  if (!caller.Owns(user)) return HomeNotFound(user);
  Home home;
  bool found = false;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VolumeFilter f;
    f.owner = user;
    VBS_ASSIGN_OR_RETURN(auto owned, tx.ListVolumes(f));
    found = false;
    for (const auto& v : owned) {
      if (!IsHomeOf(v, user)) continue;
      home = Home{user, v, std::nullopt};
      found = true;
      AttachmentFilter af;
      af.volume_id = v.id;
      VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(af));
      if (!live.empty()) home.attachment = live.front();
      break;
    }
    return Status::Ok();
  }));
  if (!found) return HomeNotFound(user);
  return home;
}

Result<Home> HomeService::Create(const Caller& caller, const std::optional<std::string>& user,
                                 std::optional<uint64_t> size,
                                 const std::optional<std::string>& pool) {
  const std::string who = user.value_or(caller.user);
  VBS_RETURN_IF_ERROR(ValidateUser(who));
  if (!caller.Owns(who)) {
    return Status::PermissionDenied("UnauthorizedOperation",
                                    "users create their own home; only admins create others'");
  }
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto u, tx.GetUser(who));
    if (!u || u->state != "active") {
      return Status::NotFound("UserNotFound", "no active user '" + who + "'");
    }
    return Status::Ok();
  }));
  CreateVolumeRequest req;
  req.size = size.value_or(settings_.default_size);
  VBS_RETURN_IF_ERROR(CheckFileSystemVolumeSize(*req.size));
  req.pool = pool ? pool : settings_.pool;
  req.home = true;
  // The home belongs to its user, also when an admin makes it (the user's quota applies).
  VBS_ASSIGN_OR_RETURN(auto v, volumes_.Create(Caller{who, false}, req));
  return Home{who, v, std::nullopt};
}

Result<Home> HomeService::Get(const Caller& caller, const std::string& user) {
  return Find(caller, user);
}

Result<std::vector<Home>> HomeService::List(const Caller& caller) {
  std::vector<Home> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    VolumeFilter f;
    if (!caller.admin) f.owner = caller.user;
    VBS_ASSIGN_OR_RETURN(auto vols, tx.ListVolumes(f));
    for (const auto& v : vols) {
      if (!IsHomeOf(v, v.owner)) continue;
      Home h{v.owner, v, std::nullopt};
      AttachmentFilter af;
      af.volume_id = v.id;
      VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(af));
      if (!live.empty()) h.attachment = live.front();
      out.push_back(std::move(h));
    }
    return Status::Ok();
  }));
  std::sort(out.begin(), out.end(), [](const Home& a, const Home& b) { return a.user < b.user; });
  return out;
}

Result<Home> HomeService::Delete(const Caller& caller, const std::string& user) {
  VBS_ASSIGN_OR_RETURN(Home home, Find(caller, user));
  if (home.attachment) {
    return Status::Conflict("VolumeInUse", "the home of '" + user + "' is " +
                                               home.attachment->state + " on node '" +
                                               home.attachment->node + "'; detach it first");
  }
  VBS_ASSIGN_OR_RETURN(home.volume, volumes_.Delete(caller, home.volume.id));
  return home;
}

Result<AttachmentRecord> HomeService::Attach(const Caller& caller, const std::string& user,
                                             const std::string& node) {
  if (!IsValidName(node)) {
    return Status::InvalidArgument("InvalidParameterValue", "invalid node name '" + node + "'");
  }
  VBS_ASSIGN_OR_RETURN(Home home, Find(caller, user));
  if (home.attachment) {
    if (home.attachment->node == node) {
      return Status::Conflict("VolumeInUse", "the home of '" + user + "' is already " +
                                                 home.attachment->state + " on node '" + node +
                                                 "'");
    }
    return Status::Conflict("VolumeInUse", "the home of '" + user + "' is " +
                                               home.attachment->state + " on node '" +
                                               home.attachment->node +
                                               "'; detach it there first (vbs home attach "
                                               "--move does)");
  }
  AttachRequest req;
  req.volume_id = home.volume.id;
  req.instance_id = HostInstanceId(node);
  req.mode = "rw";
  req.home_of = user;
  return attachments_.Attach(caller, req);
}

Result<AttachmentRecord> HomeService::Detach(const Caller& caller, const std::string& user,
                                             bool force) {
  VBS_ASSIGN_OR_RETURN(Home home, Find(caller, user));
  if (!home.attachment) {
    return IncorrectState("the home of '" + user + "' is not attached");
  }
  return attachments_.Detach(caller, home.volume.id, std::nullopt, force);
}

Result<SnapshotRecord> HomeService::Snapshot(const Caller& caller, const std::string& user,
                                             const std::string& description) {
  VBS_ASSIGN_OR_RETURN(Home home, Find(caller, user));
  CreateSnapshotRequest req;
  req.volume_id = home.volume.id;
  req.description = description.empty() ? "home of " + user : description;
  return snapshots_.Create(caller, req);
}

Result<Home> HomeService::Restore(const Caller& caller, const std::string& user,
                                  const std::string& snapshot_id, std::string* former) {
  VBS_ASSIGN_OR_RETURN(Home home, Find(caller, user));
  if (home.attachment) {
    return Status::Conflict("VolumeInUse", "the home of '" + user + "' is " +
                                               home.attachment->state + " on node '" +
                                               home.attachment->node + "'; detach it first");
  }
  CreateVolumeRequest req;
  req.snapshot_id = snapshot_id;
  req.home = true;
  req.replaces_home = home.volume.id;
  // As the user: the snapshot must be theirs, and the new volume counts against their quota.
  VBS_ASSIGN_OR_RETURN(auto v, volumes_.Create(Caller{user, false}, req));
  if (former != nullptr) *former = home.volume.id;
  return Home{user, v, std::nullopt};
}

}  // namespace vbs
