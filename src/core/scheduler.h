// Scheduler: chooses the pool for a new volume and reserves its capacity in the same
// transaction, so concurrent creates never over-commit a pool; and chooses the node that runs
// a pool's storage work: a local pool's own node, or any live node that declares a shared one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "store/metadata_store.h"

namespace vbs {

// Node liveness (design.md §4, docs/decisions.md "Node leases"). A heartbeat grants the node
// a lease of lease_ms, which its agent counts on its own monotonic clock from before it sent
// the heartbeat and at whose end it stops writing; servers count the node down only when
// node_timeout_ms have passed since the heartbeat was stamped (after it was sent), so the
// agent has stopped writing at least node_timeout_ms - lease_ms (the margin) before.
struct PlacementPolicy {
  int64_t node_timeout_ms = 30000;  // a node silent this long is down
  int64_t lease_ms() const { return node_timeout_ms * 2 / 3; }
  int64_t renew_interval_ms() const { return std::max<int64_t>(lease_ms() / 4, 100); }
};

// With `pool` set: reserve there or fail. Without: among pools whose node is up, the one
// with the most unreserved capacity that fits. InsufficientVolumeCapacity when none fits.
Result<PoolRecord> PlaceAndReserve(Transaction& tx, const std::optional<std::string>& pool,
                                   uint64_t size, const PlacementPolicy& policy);

bool NodeIsUp(const NodeRecord& node, int64_t now_ms, const PlacementPolicy& policy);
bool NodeIsUp(Transaction& tx, const std::string& node, int64_t now_ms,
              const PlacementPolicy& policy);

// NodeUnavailable (503): `what` needs node `node`, which has not been heard from.
Status NodeUnavailable(const std::string& node, const std::string& what);

// The live node that runs storage work for `pool` now: a local pool's node; for a shared pool
// its recorded node if that is up, else another live node that declares the pool (by name).
// NodeUnavailable when no node that can reach the pool is up.
Result<std::string> StorageNodeFor(Transaction& tx, const PoolRecord& pool,
                                   const PlacementPolicy& policy);

}  // namespace vbs
