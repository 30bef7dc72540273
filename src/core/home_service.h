// HomeService: VBSFS homes (design.md §11). A home is a volume owned by its user and marked
// with the reserved tag vbs:home=USER (at most one live home per user); the agent of the node
// it is attached to mounts its ext4 file system at <home_root>/USER for the user's local
// account (agent/home_mount.h).
//
// - Users create, see, attach and detach their own home; admins anyone's ("the user" below).
//   Another user's home answers HomeNotFound, as a missing one does.
// - Create: the default size and pool come from the server configuration ([server.home]);
//   the user must exist and be active. The volume counts against the user's quota.
// - Attach: read-write, to the node itself (host-NODE, which the caller must be allowed on,
//   as for any host attachment). A home attached to another node is VolumeInUse naming that
//   node: a move detaches it there first (the client waits for that: vbs home attach --move).
// - Detach: the node syncs and unmounts first; processes holding the mount make the detach
//   fail (MountBusy, naming them) unless forced.
// - Delete: only a detached home.
// - Snapshot: of the home's volume, by the node that mounts it (if any), which freezes the
//   file system meanwhile (FIFREEZE): a file-system-consistent point.
// - Restore: a detached home is replaced by a new volume made from a snapshot of one of the
//   user's homes (current or former); the old volume is kept, marked vbs:former-home, until
//   the user deletes it (vbs volume delete).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/attachment_service.h"
#include "core/caller.h"
#include "core/snapshot_service.h"
#include "core/volume_service.h"
#include "store/metadata_store.h"

namespace vbs {

// The smallest home or public volume: room for ext4, its journal and a few files.
inline constexpr uint64_t kMinFileSystemVolume = 16ull << 20;
Status CheckFileSystemVolumeSize(uint64_t size);

struct HomeSettings {
  uint64_t default_size = 20ull << 30;  // 20 GiB
  std::optional<std::string> pool;      // unset: placed like any volume
};

struct Home {
  std::string user;
  VolumeRecord volume;
  std::optional<AttachmentRecord> attachment;  // the live one, if any
};

class HomeService {
 public:
  HomeService(MetadataStore& store, VolumeService& volumes, SnapshotService& snapshots,
              AttachmentService& attachments, HomeSettings settings)
      : store_(store),
        volumes_(volumes),
        snapshots_(snapshots),
        attachments_(attachments),
        settings_(settings) {}

  // user unset: the caller's own home.
  Result<Home> Create(const Caller& caller, const std::optional<std::string>& user,
                      std::optional<uint64_t> size, const std::optional<std::string>& pool);
  Result<Home> Get(const Caller& caller, const std::string& user);
  // The caller's home (every user's for admins), by user name.
  Result<std::vector<Home>> List(const Caller& caller);
  Result<Home> Delete(const Caller& caller, const std::string& user);
  Result<AttachmentRecord> Attach(const Caller& caller, const std::string& user,
                                  const std::string& node);
  Result<AttachmentRecord> Detach(const Caller& caller, const std::string& user, bool force);
  Result<SnapshotRecord> Snapshot(const Caller& caller, const std::string& user,
                                  const std::string& description);
  // The new home (creating); `former` is the volume it replaced.
  Result<Home> Restore(const Caller& caller, const std::string& user,
                       const std::string& snapshot_id, std::string* former);

 private:
  Result<Home> Find(const Caller& caller, const std::string& user);
  MetadataStore& store_;
  VolumeService& volumes_;
  SnapshotService& snapshots_;
  AttachmentService& attachments_;
  HomeSettings settings_;
};

Status HomeNotFound(const std::string& user);

}  // namespace vbs
