#include "core/scheduler.h"

#include <algorithm>
#include <map>

#include "common/clock.h"
#include "common/units.h"

namespace vbs {

bool NodeIsUp(const NodeRecord& node, int64_t now_ms, const PlacementPolicy& policy) {
  return now_ms - node.last_heartbeat <= policy.node_timeout_ms;
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
    VBS_ASSIGN_OR_RETURN(bool ok, tx.TryReserve(p->name, size));
    if (!ok) return NoCapacity("in pool '" + p->name + "'", size, p->capacity - p->reserved);
    return *p;
  }
  VBS_ASSIGN_OR_RETURN(auto pools, tx.ListPools());
  VBS_ASSIGN_OR_RETURN(auto nodes, tx.ListNodes());
  if (pools.empty()) return Status::Unavailable("no storage pool is registered yet");
  std::map<std::string, NodeRecord> by_name;
  for (auto& n : nodes) by_name[n.name] = n;
  const int64_t now = NowMillis();
  std::vector<PoolRecord> candidates;
  uint64_t most_free = 0;
  for (auto& p : pools) {
    auto n = by_name.find(p.node);
    bool up = n != by_name.end() && NodeIsUp(n->second, now, policy);
    if (!up && !p.shared) continue;
    most_free = std::max(most_free, p.capacity - p.reserved);
    candidates.push_back(p);
  }
  if (candidates.empty()) return Status::Unavailable("no storage node is up");
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
