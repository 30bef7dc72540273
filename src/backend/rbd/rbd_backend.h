// RbdBackend: a pool that is a Ceph RBD pool (design.md §5, the `rbd` backend). Always shared:
// every node that reaches the cluster can serve any of its volumes.
//
// Layout in the RBD pool (the pool may hold other images; anything not named so is ignored):
//   image <vol-id>                 a volume (thin: RBD allocates objects on first write)
//   image <vol-id>.partial         a volume being made (a create or a clone); renamed when whole
//   image <vol-id>.deleted         a deleted volume that still carries snapshots
//   snapshot <vol>@<snap-id>       a snapshot: an RBD snapshot of the volume's image, protected
//   snapshot <vol>@<snap-id>.partial   one being made: created, protected, then renamed
//   snapshot <vol>@<snap-id>.deleting  a deleted snapshot whose clones are being flattened
//   pool metadata vbs_snap_<snap-id> = the image id carrying the snapshot (ids survive renames)
//
// Contract (on top of BlockBackend's):
// - A clone (CreateVolumeFromSnapshot) is an RBD copy-on-write clone: constant time. It is
//   flattened only when needed: when its parent snapshot is deleted, the snapshot is renamed
//   to .deleting (no longer listed, no longer clonable) and a background thread flattens its
//   clones (progress in flatten_progress() and the log), then removes the snapshot, and the
//   source image too if it is a .deleted volume with no snapshot left. Deleting a volume that
//   has snapshots renames it to .deleted; the snapshots stay usable.
// - Interrupted background work (a crash) is found again by OpenPool and List() and finished.
// - List().partials names: "<vol-id>.partial" and "<image>@<snap-id>.partial".
// - Error codes as DirBackend's (InvalidVolumeID.Malformed, InvalidVolume.NotFound,
//   InvalidSnapshot.NotFound, IncorrectState, InvalidParameterValue); Ceph failures map by
//   errno (RbdStatus).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "backend/block_backend.h"
#include "backend/rbd/rbd_handles.h"

namespace vbs {

class RbdBackend final : public BlockBackend {
 public:
  static Result<std::unique_ptr<RbdBackend>> OpenPool(const RbdPoolOptions& options);
  ~RbdBackend() override;  // stops the background thread (pending work resumes on next open)

  std::string type() const override { return "rbd"; }
  bool shared() const override { return true; }

  Status CreateVolume(const std::string& volume_id, uint64_t size) override;
  Status DeleteVolume(const std::string& volume_id) override;
  Status ResizeVolume(const std::string& volume_id, uint64_t new_size) override;
  Result<uint64_t> VolumeSize(const std::string& volume_id) override;

  Status CreateSnapshot(const std::string& volume_id, const std::string& snapshot_id,
                        const ProgressFn& progress) override;
  Status DeleteSnapshot(const std::string& snapshot_id) override;
  Status CreateVolumeFromSnapshot(const std::string& snapshot_id, const std::string& volume_id,
                                  uint64_t size, const ProgressFn& progress) override;

  Result<PoolStats> Stats() override;
  Result<BackendObjects> List() override;
  Status RemovePartial(const std::string& name) override;

  Result<std::unique_ptr<BlockDevice>> Open(const std::string& volume_id, bool read_only) override;
  // The Ceph client address of this process (rbd_fencing.h); blocklisting, lock breaking.
  Result<std::string> ClientIdentity() override;
  Status FenceClient(const std::string& client, const std::string& volume_id) override;
  Status UnfenceClient(const std::string& client) override;

  // Background flattening: percent of the current flatten (-1: idle), and a wait until no
  // work is queued or running (for tests and orderly shutdown).
  int flatten_progress() const { return flatten_progress_.load(); }
  uint64_t flattened_count() const { return flattened_.load(); }
  void WaitIdle();

 private:
  explicit RbdBackend(std::shared_ptr<RadosPool> pool);

  Result<std::string> SnapshotImageId(const std::string& snapshot_id);
  Status RemoveImage(const std::string& name);  // missing → OK
  // Finds leftovers of interrupted background work and queues it.
  Status ScanForWork();
  void Enqueue(const std::string& image_id, const std::string& snap_name);
  void Loop();
  // Flattens the clones of image_id@snap_name, removes the snapshot, then the image if it is
  // a deleted volume without snapshots.
  Status FinishDeletion(const std::string& image_id, const std::string& snap_name);

  std::shared_ptr<RadosPool> pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> queue_;
  std::set<std::pair<std::string, std::string>> queued_;
  bool busy_ = false;
  bool stopping_ = false;
  std::atomic<int> flatten_progress_{-1};
  std::atomic<uint64_t> flattened_{0};
  std::thread thread_;
};

}  // namespace vbs
