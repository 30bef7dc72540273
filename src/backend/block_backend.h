// BlockBackend: the storage engine behind one pool (a directory, a Ceph RBD pool).
//
// Every mutating call is idempotent, because the agent re-runs an operation after a crash:
// creating a volume that exists with the same size succeeds, deleting one that is gone
// succeeds, a snapshot or clone that was half made is made again from scratch. Nothing
// half-made is ever visible under the final name.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/block_device.h"
#include "common/status.h"

namespace vbs {

// Called with 0..100 while a long copy runs. Must be cheap; may be called from any thread.
using ProgressFn = std::function<void(int percent)>;

struct PoolStats {
  uint64_t total_bytes = 0;  // physical size of the storage under the pool
  uint64_t free_bytes = 0;   // physical space left
};

struct BackendObjects {
  std::vector<std::string> volumes;    // ids of volumes present
  std::vector<std::string> snapshots;  // ids of snapshots present
  std::vector<std::string> partials;   // names of half-made objects (leftovers of a crash)
};

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;

  virtual std::string type() const = 0;  // "dir", "rbd"
  // True when every node that can reach the pool can serve its volumes (cluster FS, Ceph).
  virtual bool shared() const = 0;

  // Thin: constant time whatever the size.
  virtual Status CreateVolume(const std::string& volume_id, uint64_t size) = 0;
  virtual Status DeleteVolume(const std::string& volume_id) = 0;
  virtual Status ResizeVolume(const std::string& volume_id, uint64_t new_size) = 0;
  virtual Result<uint64_t> VolumeSize(const std::string& volume_id) = 0;

  // Point-in-time copy of a volume's current content (the caller quiesces writers).
  virtual Status CreateSnapshot(const std::string& volume_id, const std::string& snapshot_id,
                                const ProgressFn& progress) = 0;
  virtual Status DeleteSnapshot(const std::string& snapshot_id) = 0;
  // New volume with the snapshot's content, grown to `size` (>= the snapshot's size).
  virtual Status CreateVolumeFromSnapshot(const std::string& snapshot_id,
                                          const std::string& volume_id, uint64_t size,
                                          const ProgressFn& progress) = 0;

  virtual Result<PoolStats> Stats() = 0;
  virtual Result<BackendObjects> List() = 0;
  // Removes a half-made object named by List().partials.
  virtual Status RemovePartial(const std::string& name) = 0;

  virtual Result<std::unique_ptr<BlockDevice>> Open(const std::string& volume_id,
                                                    bool read_only) = 0;

  // Fencing a node that lost its lease out of the storage itself (design.md §4). The identity
  // under which this process reaches the storage; "" when there is nothing to fence there (a
  // dir pool: a node cut off from its servers is fenced by its lease alone).
  virtual Result<std::string> ClientIdentity() { return std::string(); }
  // Refuses `client` (another process's identity) every further access to the storage and
  // takes from it its hold on `volume_id`; Unfence lets that identity in again.
  virtual Status FenceClient(const std::string& client, const std::string& volume_id) {
    (void)client;
    (void)volume_id;
    return Status::InvalidArgument("InvalidParameterValue",
                                   type() + " pools have no clients to fence");
  }
  virtual Status UnfenceClient(const std::string& client) {
    (void)client;
    return Status::InvalidArgument("InvalidParameterValue",
                                   type() + " pools have no clients to fence");
  }
};

}  // namespace vbs
