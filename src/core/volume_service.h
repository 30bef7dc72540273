// VolumeService: the rules of volumes (design.md §3), shared by the REST and EC2 faces.
//
// Each call is one store transaction that checks the caller's ownership (another user's
// volume answers "not found"), validates input before changing anything, writes the intent
// (state + an operation for an agent) and returns at once; agents move the state on.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/caller.h"
#include "core/quotas.h"
#include "core/revision_notifier.h"
#include "core/scheduler.h"
#include "core/volume_types.h"
#include "store/metadata_store.h"

namespace vbs {

struct CreateVolumeRequest {
  std::optional<uint64_t> size;  // bytes; may be omitted with a snapshot
  std::optional<std::string> pool;
  std::optional<std::string> snapshot_id;
  Tags tags;
  std::optional<std::string> client_token;  // idempotency: same token → same volume
  QosRequest qos;                           // type, IOPS, throughput (volume_types.h)
  // Set by HomeService only: the volume becomes the caller's home (tag kHomeTag = the
  // caller), refused with HomeExists when the caller already has a live one.
  bool home = false;
  // With `home`: the volume replaces this one as the caller's home (vbs home restore). It
  // must be the caller's current home and detached; it is kept, marked kFormerHomeTag. The
  // snapshot must be of one of the caller's homes (current or former).
  std::optional<std::string> replaces_home{};
  // Set by services only (the public volume's draft: core/public_service.h): reserved tags
  // the volume gets besides the caller's.
  Tags reserved_tags{};
  // With snapshot_id: a snapshot still pending is taken too; the volume stays `creating` and
  // its storage step is queued when the snapshot completes (fails when it fails: operations.h).
  bool after_snapshot = false;
};

// The reserved tag that makes a volume its owner's VBSFS home (core/home_service.h).
inline constexpr char kHomeTag[] = "vbs:home";
// The mark of a volume that was its owner's home until a restore replaced it.
inline constexpr char kFormerHomeTag[] = "vbs:former-home";
// The reserved tag of VBSFS's public volume: its draft ("draft") and versions ("1", "2", …)
// (core/public_service.h).
inline constexpr char kPublicTag[] = "vbs:public";

struct VolumeListFilter {
  std::optional<std::string> state;
  std::optional<std::pair<std::string, std::string>> tag;  // key, value
  bool include_deleted = false;
};

class VolumeService {
 public:
  VolumeService(MetadataStore& store, RevisionNotifier& notifier, PlacementPolicy policy = {},
                VolumeTypes types = VolumeTypes(), QuotaLimits quota = {})
      : store_(store),
        notifier_(notifier),
        policy_(policy),
        types_(std::move(types)),
        quota_(quota) {}

  Result<VolumeRecord> Create(const Caller& caller, const CreateVolumeRequest& req);
  Result<VolumeRecord> Get(const Caller& caller, const std::string& id);
  Result<std::vector<VolumeRecord>> List(const Caller& caller, const VolumeListFilter& filter);
  Result<VolumeRecord> Delete(const Caller& caller, const std::string& id);
  // Grows the volume to `new_size` bytes (available or in-use volumes; one modification in
  // flight per volume). The growth is reserved in the pool at once; the returned
  // modification moves modifying → optimizing → completed (or failed, giving the
  // reservation back) as the storage node grows the volume and hosts pass the new size on.
  Result<VolumeModificationRecord> Resize(const Caller& caller, const std::string& volume_id,
                                          uint64_t new_size);
  // Changes the size and/or the QoS settings (volume_types.h), online. New limits take effect
  // at once in the volume's record; a volume attached somewhere stays `optimizing` until
  // every host serving it applies them (completed), or one could not (failed, named).
  Result<VolumeModificationRecord> Modify(const Caller& caller, const std::string& volume_id,
                                          std::optional<uint64_t> new_size, const QosRequest& qos);
  // Modifications of the given volumes (empty: every volume of the caller; admins: all),
  // oldest first.
  Result<std::vector<VolumeModificationRecord>> ListModifications(
      const Caller& caller, const std::vector<std::string>& volume_ids);
  // Admin: end a stuck volume in a final state (available, error or deleted).
  Result<VolumeRecord> ForceState(const Caller& caller, const std::string& id,
                                  const std::string& new_state);

 private:
  MetadataStore& store_;
  RevisionNotifier& notifier_;
  PlacementPolicy policy_;
  VolumeTypes types_;
  QuotaLimits quota_;  // the defaults (core/quotas.h)
};

}  // namespace vbs
