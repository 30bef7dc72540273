#include "core/scheduler.h"

#include <algorithm>

#include "common/clock.h"
#include "common/units.h"

namespace vbs {

bool NodeIsUp(const NodeRecord& node, int64_t now_ms, const PlacementPolicy& policy) {
  return now_ms - node.last_heartbeat <= policy.node_timeout_ms;
}

bool NodeIsUp(Transaction& tx, const std::string& node, int64_t now_ms,
              const PlacementPolicy& policy) {
  auto n = tx.GetNode(node);
  return n.ok() && n->has_value() && NodeIsUp(**n, now_ms, policy);
}

Status NodeUnavailable(const std::string& node, const std::string& what) {
  return Status(StatusKind::kUnavailable, "NodeUnavailable",
                what + " needs node '" + node + "', which is down (no heartbeat)");
}

Result<std::string> StorageNodeFor(Transaction& tx, const PoolRecord& pool,
                                   const PlacementPolicy& policy) {
  VBS_ASSIGN_OR_RETURN(const int64_t now, tx.ClockMillis());
  if (NodeIsUp(tx, pool.node, now, policy)) return pool.node;
  if (pool.shared) {
    VBS_ASSIGN_OR_RETURN(auto declarers, tx.PoolNodes(pool.name));
    for (const auto& node : declarers) {
      if (NodeIsUp(tx, node, now, policy)) return node;
    }
  }
  return NodeUnavailable(
      pool.node, std::string(pool.shared ? "shared" : "local") + " pool '" + pool.name + "'");
}

static Status NoCapacity(const std::string& where, uint64_t size, uint64_t free) {
  return Status(StatusKind::kInsufficientCapacity, "InsufficientVolumeCapacity",
                "there is not enough capacity " + where + " for a volume of " + FormatSize(size) +
                    " (" + FormatSize(free) + " free)");
}

Result<PoolRecord> PlaceAndReserve(Transaction& tx, const std::optional<std::string>& pool,
                                   uint64_t size, const PlacementPolicy& policy) {
  if (pool) {
    VBS_ASSIGN_OR_RETURN(auto p, tx.GetPool(*pool));
    if (!p)
      return Status::NotFound("InvalidPool.NotFound", "the pool '" + *pool + "' does not exist");
    VBS_RETURN_IF_ERROR(StorageNodeFor(tx, *p, policy).status());
    VBS_ASSIGN_OR_RETURN(bool ok, tx.TryReserve(p->name, size));
    if (!ok) return NoCapacity("in pool '" + p->name + "'", size, p->capacity - p->reserved);
    return *p;
  }
  VBS_ASSIGN_OR_RETURN(auto pools, tx.ListPools());
  if (pools.empty()) {
    return Status(StatusKind::kUnavailable, "NodeUnavailable", "no storage pool is registered yet");
  }
  std::vector<PoolRecord> candidates;
  uint64_t most_free = 0;
  for (auto& p : pools) {
    if (!StorageNodeFor(tx, p, policy).ok()) continue;  // no live node can reach it
    most_free = std::max(most_free, p.capacity - p.reserved);
    candidates.push_back(p);
  }
  if (candidates.empty()) {
    return Status(StatusKind::kUnavailable, "NodeUnavailable",
                  "no storage node is up (no pool has a live node that reaches it)");
  }
  std::sort(candidates.begin(), candidates.end(), [](const PoolRecord& a, const PoolRecord& b) {
    return a.capacity - a.reserved > b.capacity - b.reserved;
  });
  for (auto& p : candidates) {
    VBS_ASSIGN_OR_RETURN(bool ok, tx.TryReserve(p.name, size));
    if (ok) return p;
  }
  return NoCapacity("in any pool", size, most_free);
}

}  // namespace vbs
