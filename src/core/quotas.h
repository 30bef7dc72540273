// Quotas: how many volumes, GiB of volumes and snapshots a user may hold (design.md §8).
//
// The server configuration sets the defaults ([server.quota]); `vbs admin quota set` records a
// user's own limits, each overriding its default. The checks run inside the transaction that
// creates or grows the object, against usage counted in that same transaction, so concurrent
// requests never overshoot (SQLite serializes writers; PostgreSQL's SERIALIZABLE fails one of
// two that read the same usage, and the store retries it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/metadata_store.h"

namespace vbs {

struct QuotaLimits {  // nullopt: no limit
  std::optional<int64_t> volumes;
  std::optional<int64_t> gigabytes;
  std::optional<int64_t> snapshots;
};

struct QuotaUsage {
  int64_t volumes = 0;
  uint64_t volume_bytes = 0;
  int64_t snapshots = 0;
};

// The limits that hold for `user`: their own where set, else the defaults.
Result<QuotaLimits> EffectiveQuota(Transaction& tx, const QuotaLimits& defaults,
                                   const std::string& user);
// What `user` holds now: volumes and snapshots not deleted.
Result<QuotaUsage> QuotaUsageOf(Transaction& tx, const std::string& user);

// VolumeLimitExceeded (400) when `user` adding `add_volumes` volumes and `add_bytes` bytes of
// volume would pass a limit; the message names the limit and the usage.
Status CheckVolumeQuota(Transaction& tx, const QuotaLimits& defaults, const std::string& user,
                        int64_t add_volumes, uint64_t add_bytes);
// SnapshotLimitExceeded (400) when one more snapshot would pass the limit.
Status CheckSnapshotQuota(Transaction& tx, const QuotaLimits& defaults, const std::string& user);

// Sizes in quota GiB: rounded up, as a user reads "10 GiB of 10".
int64_t QuotaGiB(uint64_t bytes);

}  // namespace vbs
