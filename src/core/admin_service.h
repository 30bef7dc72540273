// AdminService: users, pools and nodes as an operator sees them. Issuing a user's
// certificate is auth/'s job; this records the user so names stay unique.
#pragma once

#include <string>
#include <vector>

#include "core/caller.h"
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

class AdminService {
 public:
  AdminService(MetadataStore& store, PlacementPolicy policy = {})
      : store_(store), policy_(policy) {}

  // Records a new user and issues its access key in one transaction; UserAlreadyExists if the
  // name is taken.
  Result<NewUser> CreateUser(const Caller& caller, const std::string& name, bool admin);
  Result<std::vector<UserRecord>> ListUsers(const Caller& caller);
  // Issues another access key for an existing user (admins only).
  Result<AccessKeyRecord> IssueAccessKey(const Caller& caller, const std::string& user);
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
};

Status RequireAdmin(const Caller& caller);

}  // namespace vbs
