// Scheduler: chooses the pool for a new volume and reserves its capacity in the same
// transaction, so concurrent creates never over-commit a pool; and chooses the node that runs
// a pool's storage work: a local pool's own node, or any live node that declares a shared one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/metadata_store.h"

namespace vbs {

struct PlacementPolicy {
  int64_t node_timeout_ms = 30000;  // a node silent this long is down
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
