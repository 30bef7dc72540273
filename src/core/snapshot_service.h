// SnapshotService: the rules of snapshots (design.md §3). A snapshot is taken of an
// available (or in-use) volume, lives in the volume's pool, and outlives the volume.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/caller.h"
#include "core/quotas.h"
#include "core/revision_notifier.h"
#include "core/scheduler.h"
#include "store/metadata_store.h"

namespace vbs {

struct CreateSnapshotRequest {
  std::string volume_id;
  std::string description;
  Tags tags;
};

// A copy of a completed snapshot (EC2 CopySnapshot) in the same pool: a new snapshot, pending
// until the pool's agent has made it, with the source's volume id and size.
struct CopySnapshotRequest {
  std::string source_snapshot_id;
  std::string description;
  Tags tags;
};

struct SnapshotListFilter {
  std::optional<std::string> state;
  std::optional<std::string> volume_id;
  std::optional<std::pair<std::string, std::string>> tag;
  bool include_deleted = false;
};

class SnapshotService {
 public:
  SnapshotService(MetadataStore& store, RevisionNotifier& notifier, PlacementPolicy policy = {},
                  QuotaLimits quota = {})
      : store_(store), notifier_(notifier), policy_(policy), quota_(quota) {}

  Result<SnapshotRecord> Create(const Caller& caller, const CreateSnapshotRequest& req);
  Result<SnapshotRecord> Copy(const Caller& caller, const CopySnapshotRequest& req);
  Result<SnapshotRecord> Get(const Caller& caller, const std::string& id);
  Result<std::vector<SnapshotRecord>> List(const Caller& caller, const SnapshotListFilter& f);
  Result<SnapshotRecord> Delete(const Caller& caller, const std::string& id);

 private:
  MetadataStore& store_;
  RevisionNotifier& notifier_;
  PlacementPolicy policy_;
  QuotaLimits quota_;  // the defaults (core/quotas.h)
};

}  // namespace vbs
