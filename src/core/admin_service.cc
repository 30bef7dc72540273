#include "core/admin_service.h"

#include "common/clock.h"
#include "common/ids.h"
#include "core/access_keys.h"

namespace vbs {

Status RequireAdmin(const Caller& caller) {
  if (caller.admin) return Status::Ok();
  return Status::PermissionDenied("UnauthorizedOperation",
                                  "this operation is for administrators only");
}

Result<NewUser> AdminService::CreateUser(const Caller& caller, const std::string& name, bool admin,
                                         const std::optional<CertificateRecord>& certificate) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  if (!IsValidName(name)) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "invalid user name '" + name + "': 1-63 of A-Z a-z 0-9 . _ -, starting alphanumeric");
  }
  const int64_t now = NowMillis();
  NewUser created{UserRecord{name, admin ? "admin" : "user", now, "active", now},
                  NewAccessKey(name, now)};
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto prior, tx.GetUser(name));
    if (prior) {
      return Status::AlreadyExists(
          "UserAlreadyExists",
          prior->state == "deleted"
              ? "the user '" + name + "' was deleted, and names are never issued again"
              : "the user '" + name + "' already exists");
    }
    VBS_RETURN_IF_ERROR(tx.InsertUser(created.user));
    if (certificate) VBS_RETURN_IF_ERROR(tx.InsertCertificate(*certificate));
    return tx.InsertAccessKey(StoredAccessKey(created.access_key, box_));
  }));
  return created;
}

Result<AccessKeyRecord> AdminService::IssueAccessKey(const Caller& caller,
                                                     const std::string& user) {
  VBS_RETURN_IF_ERROR(RequireSelfOrAdmin(caller, user));
  AccessKeyRecord key = NewAccessKey(user, NowMillis());
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_RETURN_IF_ERROR(LiveUser(tx, user).status());
    VBS_ASSIGN_OR_RETURN(auto keys, tx.ListAccessKeys(user));
    if (keys.size() >= static_cast<size_t>(kMaxAccessKeysPerUser)) {
      return Status::InvalidArgument(
          "LimitExceeded", "the user '" + user + "' already has " + std::to_string(keys.size()) +
                               " access keys (the most there can be); delete one first");
    }
    return tx.InsertAccessKey(StoredAccessKey(key, box_));
  }));
  return key;
}

Status RequireSelfOrAdmin(const Caller& caller, const std::string& user) {
  if (caller.admin || caller.user == user) return Status::Ok();
  // As for an unknown user: a user learns nothing about who else exists.
  return UserNotFound(user);
}

Status UserNotFound(const std::string& name) {
  return Status::NotFound("InvalidUser.NotFound", "the user '" + name + "' does not exist");
}

Result<UserRecord> LiveUser(Transaction& tx, const std::string& name) {
  VBS_ASSIGN_OR_RETURN(auto user, tx.GetUser(name));
  if (!user || user->state == "deleted") return UserNotFound(name);
  return *user;
}

Status AdminService::RecordUser(const std::string& name, bool admin) {
  return store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto prior, tx.GetUser(name));
    if (prior) return Status::Ok();
    const int64_t now = NowMillis();
    return tx.InsertUser(UserRecord{name, admin ? "admin" : "user", now, "active", now});
  });
}

Result<std::vector<UserRecord>> AdminService::ListUsers(const Caller& caller) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<UserRecord> users;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(users, tx.ListUsers());
    return Status::Ok();
  }));
  return users;
}

Result<std::vector<PoolView>> AdminService::ListPools(const Caller& caller) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  return ListZones(caller);
}

Result<std::vector<PoolView>> AdminService::ListZones(const Caller& caller) {
  std::vector<PoolView> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    VBS_ASSIGN_OR_RETURN(auto pools, tx.ListPools());
    for (auto& p : pools) {
      VBS_ASSIGN_OR_RETURN(auto declarers, tx.PoolNodes(p.name));
      out.push_back({p, StorageNodeFor(tx, p, policy_).ok(), std::move(declarers)});
    }
    return Status::Ok();
  }));
  if (!caller.admin) {
    for (auto& z : out) z.pool.capacity = z.pool.reserved = 0;
  }
  return out;
}

Result<std::vector<NodeView>> AdminService::ListNodes(const Caller& caller) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<NodeView> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    VBS_ASSIGN_OR_RETURN(auto nodes, tx.ListNodes());
    VBS_ASSIGN_OR_RETURN(const int64_t now, tx.ClockMillis());
    for (auto& n : nodes) out.push_back({n, NodeIsUp(n, now, policy_)});
    return Status::Ok();
  }));
  return out;
}

}  // namespace vbs
