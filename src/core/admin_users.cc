// AdminService: disabling, enabling, deleting and re-roling users, and their access keys.
#include "common/clock.h"
#include "core/admin_service.h"
#include "core/authenticator.h"

namespace vbs {
namespace {

std::vector<AccessKeyRecord> Blanked(std::vector<AccessKeyRecord> keys) {
  for (auto& k : keys) k.secret.clear();
  return keys;
}

// Refuses a change that would leave no active admin: nobody could manage users any more.
Status KeepAnAdmin(Transaction& tx, const UserRecord& before, const UserRecord& after) {
  const bool was = before.role == "admin" && before.state == "active";
  const bool is = after.role == "admin" && after.state == "active";
  if (!was || is) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(auto users, tx.ListUsers());
  for (const auto& u : users) {
    if (u.name != before.name && u.role == "admin" && u.state == "active") return Status::Ok();
  }
  return Status::Conflict("LastAdmin", "'" + before.name +
                                           "' is the last active admin; make another user "
                                           "admin first (vbs admin user set-role NAME admin)");
}

}  // namespace

Result<UserView> AdminService::ShowUser(const Caller& caller, const std::string& name) {
  VBS_RETURN_IF_ERROR(RequireSelfOrAdmin(caller, name));
  UserView view;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto user, tx.GetUser(name));
    if (!user) return UserNotFound(name);
    view.user = *user;
    VBS_ASSIGN_OR_RETURN(view.access_keys, tx.ListAccessKeys(name));
    VBS_ASSIGN_OR_RETURN(view.certificates, tx.ListCertificates(name));
    return Status::Ok();
  }));
  view.access_keys = Blanked(std::move(view.access_keys));
  return view;
}

// Applies `change` to a live user under the last-admin rule.
template <typename Change>
Result<UserRecord> UpdateUserRecord(MetadataStore& store, const std::string& name, Change change) {
  UserRecord updated;
  VBS_RETURN_IF_ERROR(store.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(UserRecord before, LiveUser(tx, name));
    updated = before;
    change(updated);
    updated.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(KeepAnAdmin(tx, before, updated));
    return tx.UpdateUser(updated);
  }));
  return updated;
}

Result<UserRecord> AdminService::SetUserState(const Caller& caller, const std::string& name,
                                              const std::string& state) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  if (state != "active" && state != "disabled") {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "state must be active or disabled, not '" + state + "'");
  }
  return UpdateUserRecord(store_, name, [&](UserRecord& u) { u.state = state; });
}

Result<UserRecord> AdminService::SetUserRole(const Caller& caller, const std::string& name,
                                             const std::string& role) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  if (role != "admin" && role != "user") {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "role must be admin or user, not '" + role + "'");
  }
  return UpdateUserRecord(store_, name, [&](UserRecord& u) { u.role = role; });
}

Result<UserRecord> AdminService::DeleteUser(const Caller& caller, const std::string& name) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  UserRecord deleted;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(UserRecord before, LiveUser(tx, name));
    VolumeFilter vf;
    vf.owner = name;
    VBS_ASSIGN_OR_RETURN(auto volumes, tx.ListVolumes(vf));
    SnapshotFilter sf;
    sf.owner = name;
    VBS_ASSIGN_OR_RETURN(auto snapshots, tx.ListSnapshots(sf));
    if (!volumes.empty() || !snapshots.empty()) {
      return Status::Conflict(
          "DeleteConflict", "the user '" + name + "' still owns " + std::to_string(volumes.size()) +
                                " volume(s) and " + std::to_string(snapshots.size()) +
                                " snapshot(s); delete them first, or disable the user");
    }
    deleted = before;
    deleted.state = "deleted";
    deleted.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(KeepAnAdmin(tx, before, deleted));
    VBS_ASSIGN_OR_RETURN(auto keys, tx.ListAccessKeys(name));
    for (const auto& k : keys) VBS_RETURN_IF_ERROR(tx.DeleteAccessKey(k.id).status());
    return tx.UpdateUser(deleted);
  }));
  return deleted;
}

Result<std::vector<AccessKeyRecord>> AdminService::ListAccessKeys(const Caller& caller,
                                                                  const std::string& user) {
  VBS_RETURN_IF_ERROR(RequireSelfOrAdmin(caller, user));
  std::vector<AccessKeyRecord> keys;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_RETURN_IF_ERROR(LiveUser(tx, user).status());
    VBS_ASSIGN_OR_RETURN(keys, tx.ListAccessKeys(user));
    return Status::Ok();
  }));
  return Blanked(std::move(keys));
}

Status AdminService::DeleteAccessKey(const Caller& caller, const std::string& user,
                                     const std::string& id) {
  VBS_RETURN_IF_ERROR(RequireSelfOrAdmin(caller, user));
  return store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto key, tx.GetAccessKey(id));
    if (!key || key->user != user) {
      return Status::NotFound("InvalidAccessKeyId.NotFound",
                              "the user '" + user + "' has no access key '" + id + "'");
    }
    return tx.DeleteAccessKey(id).status();
  });
}

Result<QuotaView> AdminService::ShowQuota(const Caller& caller, const std::string& user) {
  VBS_RETURN_IF_ERROR(RequireSelfOrAdmin(caller, user));
  QuotaView view{user, {}, {}};
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_RETURN_IF_ERROR(LiveUser(tx, user).status());
    VBS_ASSIGN_OR_RETURN(view.limits, EffectiveQuota(tx, quota_, user));
    VBS_ASSIGN_OR_RETURN(view.usage, QuotaUsageOf(tx, user));
    return Status::Ok();
  }));
  return view;
}

Result<QuotaView> AdminService::SetQuota(const Caller& caller, const std::string& user,
                                         const QuotaLimits& change,
                                         const std::vector<std::string>& reset) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  for (const auto* v : {&change.volumes, &change.gigabytes, &change.snapshots}) {
    if (*v && **v < 0) {
      return Status::InvalidArgument(
          "InvalidParameterValue",
          "a quota limit is a count of 0 or more, not " + std::to_string(**v));
    }
  }
  for (const auto& name : reset) {
    if (name != "volumes" && name != "gigabytes" && name != "snapshots") {
      return Status::InvalidArgument(
          "InvalidParameterValue",
          "no quota limit named '" + name + "' (volumes, gigabytes, snapshots)");
    }
  }
  QuotaView view{user, {}, {}};
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_RETURN_IF_ERROR(LiveUser(tx, user).status());
    VBS_ASSIGN_OR_RETURN(auto own, tx.GetQuota(user));
    QuotaRecord q = own.value_or(QuotaRecord{user, {}, {}, {}, 0});
    if (change.volumes) q.volumes = change.volumes;
    if (change.gigabytes) q.gigabytes = change.gigabytes;
    if (change.snapshots) q.snapshots = change.snapshots;
    for (const auto& name : reset) {
      (name == "volumes" ? q.volumes : name == "gigabytes" ? q.gigabytes : q.snapshots).reset();
    }
    q.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.UpsertQuota(q));
    VBS_ASSIGN_OR_RETURN(view.limits, EffectiveQuota(tx, quota_, user));
    VBS_ASSIGN_OR_RETURN(view.usage, QuotaUsageOf(tx, user));
    return Status::Ok();
  }));
  return view;
}

}  // namespace vbs
