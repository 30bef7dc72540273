// AdminService: users, pools and nodes as an operator sees them. Issuing a user's
// certificate is auth/'s job; this records the user so names stay unique.
#pragma once

#include <string>
#include <vector>

#include "common/secret_box.h"
#include "core/caller.h"
#include "core/quotas.h"
#include "core/scheduler.h"
#include "store/metadata_store.h"

namespace vbs {

struct PoolView {
  PoolRecord pool;
  bool node_up = false;            // some node that can serve the pool is up
  std::vector<std::string> nodes;  // the nodes that declare it
};

struct NodeView {
  NodeRecord node;
  bool up = false;
};

// A user as enrolled: the record and the EC2 access key issued with it (the secret is only
// ever handed out here).
struct NewUser {
  UserRecord user;
  AccessKeyRecord access_key;
};

struct UserView {
  UserRecord user;
  std::vector<AccessKeyRecord> access_keys;  // secrets blanked
  std::vector<CertificateRecord> certificates;
};

inline constexpr int kMaxAccessKeysPerUser = 5;

struct QuotaView {
  std::string user;
  QuotaLimits limits;  // what holds (own or default); nullopt: no limit
  QuotaUsage usage;
};

class AdminService {
 public:
  // `box` seals access-key secrets for storage (null: stored as is, for unit tests).
  AdminService(MetadataStore& store, PlacementPolicy policy = {}, QuotaLimits quota = {},
               const SecretBox* box = nullptr)
      : store_(store), policy_(policy), quota_(quota), box_(box) {}

  // Records a new user (with `certificate`, when the server issued one) and issues its access
  // key in one transaction; UserAlreadyExists if the name is taken.
  Result<NewUser> CreateUser(const Caller& caller, const std::string& name, bool admin,
                             const std::optional<CertificateRecord>& certificate = {});
  Result<std::vector<UserRecord>> ListUsers(const Caller& caller);
  // Issues another access key for an existing user: admins for anyone, users for themselves
  // (so keys rotate without an admin). At most kMaxAccessKeysPerUser each.
  Result<AccessKeyRecord> IssueAccessKey(const Caller& caller, const std::string& user);

  // --- user management (admin_users.cc); the changes hold from the user's next request ---
  // A user with their access keys (secrets blanked). Admins any user; users themselves.
  Result<UserView> ShowUser(const Caller& caller, const std::string& name);
  // state: "active" (enable) or "disabled". Admins only; never the last active admin.
  Result<UserRecord> SetUserState(const Caller& caller, const std::string& name,
                                  const std::string& state);
  // role: "admin" or "user". Admins only; never demotes the last active admin.
  Result<UserRecord> SetUserRole(const Caller& caller, const std::string& name,
                                 const std::string& role);
  // Marks the user deleted (the name is never issued again) and deletes their access keys.
  // DeleteConflict (409) while they own volumes or snapshots.
  Result<UserRecord> DeleteUser(const Caller& caller, const std::string& name);
  // Access keys of `user` (secrets blanked): admins any user, users themselves.
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(const Caller& caller,
                                                      const std::string& user);
  // A user's quota (their limits, defaults filled in) and usage: admins any, users their own.
  Result<QuotaView> ShowQuota(const Caller& caller, const std::string& user);
  // Admins: each limit set in `change` becomes the user's own (>= 0); each named in `reset`
  // ("volumes", "gigabytes", "snapshots") goes back to the default.
  Result<QuotaView> SetQuota(const Caller& caller, const std::string& user,
                             const QuotaLimits& change, const std::vector<std::string>& reset);
  // Deletes a key of `user`; the next request signed with it fails AuthFailure.
  Status DeleteAccessKey(const Caller& caller, const std::string& user, const std::string& id);
  // --- certificates (user_certificates.cc); admins only ---
  // Revokes every certificate of `name` (also those issued offline and never presented: any
  // issued before now), and records `fresh`, issued to replace them, as valid.
  Status ReplaceCertificates(const Caller& caller, const std::string& name,
                             const CertificateRecord& fresh);
  // Revokes every certificate of `name`, as above, without a replacement (a server without
  // the CA key: the next one is issued offline). Returns how many recorded ones it revoked.
  Result<int64_t> RevokeCertificates(const Caller& caller, const std::string& name);
  // Records a user whose certificate was issued outside the API (the bootstrap admin of
  // `vbsd dev`/`server`), so that the name cannot be issued again. Idempotent.
  Status RecordUser(const std::string& name, bool admin);
  Result<std::vector<PoolView>> ListPools(const Caller& caller);
  Result<std::vector<NodeView>> ListNodes(const Caller& caller);
  // The pools as placement zones (EC2 DescribeAvailabilityZones): any authenticated caller
  // may see their names and whether their node is up, not their capacity.
  Result<std::vector<PoolView>> ListZones(const Caller& caller);

 private:
  MetadataStore& store_;
  PlacementPolicy policy_;
  QuotaLimits quota_;  // the defaults
  const SecretBox* box_;
};

Status RequireAdmin(const Caller& caller);
// Admins for anyone, users for themselves; InvalidUser.NotFound otherwise.
Status RequireSelfOrAdmin(const Caller& caller, const std::string& user);
Status UserNotFound(const std::string& name);
// The user `name` unless unknown or deleted (InvalidUser.NotFound).
Result<UserRecord> LiveUser(Transaction& tx, const std::string& name);

}  // namespace vbs
