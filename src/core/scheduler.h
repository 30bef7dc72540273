// Scheduler: chooses the pool for a new volume and reserves its capacity in the same
// transaction, so concurrent creates never over-commit a pool.
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

}  // namespace vbs
