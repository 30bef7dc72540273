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
  bool node_up = false;
};

struct NodeView {
  NodeRecord node;
  bool up = false;
};

class AdminService {
 public:
  AdminService(MetadataStore& store, PlacementPolicy policy = {})
      : store_(store), policy_(policy) {}

  // Records a new user; UserAlreadyExists if the name is taken.
  Result<UserRecord> CreateUser(const Caller& caller, const std::string& name, bool admin);
  Result<std::vector<UserRecord>> ListUsers(const Caller& caller);
  // Records a user whose certificate was issued outside the API (the bootstrap admin of
  // `vbsd dev`/`server`), so that the name cannot be issued again. Idempotent.
  Status RecordUser(const std::string& name, bool admin);
  Result<std::vector<PoolView>> ListPools(const Caller& caller);
  Result<std::vector<NodeView>> ListNodes(const Caller& caller);

 private:
  MetadataStore& store_;
  PlacementPolicy policy_;
};

Status RequireAdmin(const Caller& caller);

}  // namespace vbs
