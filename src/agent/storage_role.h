// StorageRole: performs storage operations on the agent's pools. Each kind maps to one
// idempotent backend call ("make volume X of size S exist in pool P"), so an operation that
// was interrupted by a crash is simply performed again.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "agent/server_client.h"
#include "backend/block_backend.h"

namespace vbs {

struct AgentPool {
  AgentPoolInfo info;
  std::unique_ptr<BlockBackend> backend;
};

class StorageRole {
 public:
  explicit StorageRole(std::map<std::string, AgentPool>* pools) : pools_(pools) {}

  // Runs `op`; progress (0..100) is reported through `progress`. A transient failure that
  // should be retried comes back with a message starting "retry:".
  Status Execute(const AgentOp& op, const ProgressFn& progress);

  // After a restart: removes half-made objects, and objects the server has deleted.
  void Reconcile(const std::string& pool, const AgentInventory& inventory);

 private:
  Result<BlockBackend*> Backend(const std::string& pool);
  Status CopySnapshot(BlockBackend& backend, const AgentOp& op, const ProgressFn& progress);
  std::map<std::string, AgentPool>* pools_;
};

}  // namespace vbs
