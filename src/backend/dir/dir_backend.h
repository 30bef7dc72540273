// DirBackend: a pool that is a directory of files (design.md §5, the `dir` backend).
//
// Layout under the pool root:
//   volumes/<vol-id>.img            a volume (a sparse regular file, mode 0600)
//   snapshots/<snap-id>.img         a snapshot (same)
//   <dir>/<id>.img.partial          a half-made object; List() reports it by its file name
//                                   ("vol-….img.partial" or "snap-….img.partial")
//
// Contract (on top of BlockBackend's):
// - Every object is built in its .partial file, fsynced, renamed to the final name and the
//   directory fsynced, so a crash never leaves a half object under the final name. A run
//   holds flock(LOCK_EX) on its .partial file: a leftover from a crash (nobody holds the
//   lock) is truncated and rebuilt from scratch; a run of the same id in progress elsewhere
//   (another thread, process or node of a shared pool) answers Unavailable "in progress".
// - Snapshots and clones use a reflink (ioctl FICLONE) when the file system has it (XFS with
//   reflink=1, btrfs): constant time. Elsewhere a sparse-aware copy: only the allocated
//   ranges (SEEK_DATA/SEEK_HOLE) are copied, with copy_file_range (a pread/pwrite loop where
//   that is refused), so holes stay holes; progress is relative to the allocated bytes.
// - Error codes: malformed id → InvalidArgument "InvalidVolumeID.Malformed" /
//   "InvalidSnapshotID.Malformed"; missing object → NotFound "InvalidVolume.NotFound" /
//   "InvalidSnapshot.NotFound"; an existing volume of another size on (re)create, or a
//   shrinking resize → Conflict "IncorrectState" / InvalidArgument "InvalidParameterValue";
//   file system failures → IoError.
// - Sizes are bytes, > 0 and at most INT64_MAX (off_t); the 1 MiB granularity is core's rule.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "backend/block_backend.h"

namespace vbs {

class DirBackend final : public BlockBackend {
 public:
  // Opens the pool at `root`, creating it and its subdirectories (mode 0700) if missing.
  // `shared`: the directory is a cluster file system mounted on every node.
  // (Not named Open: that would clash with BlockBackend::Open(volume_id, read_only).)
  static Result<std::unique_ptr<DirBackend>> OpenPool(const std::string& root, bool shared);

  std::string type() const override { return "dir"; }
  bool shared() const override { return shared_; }

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

  const std::string& root() const { return root_; }
  std::string VolumePath(const std::string& volume_id) const;
  std::string SnapshotPath(const std::string& snapshot_id) const;

  // How snapshots and clones were made so far (for tests, metrics and logs).
  uint64_t reflink_count() const { return reflinks_.load(); }
  uint64_t copy_count() const { return copies_.load(); }
  // Off: always copy (tests of the copy path on a reflink file system; an operator's escape
  // hatch should a file system's reflink misbehave).
  void set_reflink_enabled(bool on) { reflink_enabled_ = on; }
  // Off: copy with pread/pwrite instead of copy_file_range, as on file systems that refuse
  // it (for tests of that fallback).
  void set_copy_range_enabled(bool on) { copy_range_enabled_ = on; }
  // Volumes opened from now on bypass the page cache (FileDeviceOptions::direct_io), after a
  // probe file showed that the pool's file system supports O_DIRECT (InvalidArgument if not).
  Status EnableDirectIo();
  bool direct_io() const { return direct_io_.load(); }
  // Least time between two progress reports (0 and 100 are always reported).
  void set_progress_interval(std::chrono::milliseconds ms) { progress_interval_ = ms; }
  // Fault injection for the crash tests: a pause after every copied chunk (8 MiB), so that a
  // kill can land in the middle of a copy however fast the disk is.
  void set_copy_chunk_delay(std::chrono::milliseconds ms) { copy_chunk_delay_ = ms; }

 private:
  DirBackend(std::string root, bool shared) : root_(std::move(root)), shared_(shared) {}

  // Builds `dst_final` from `src` (reflink or sparse copy) via its .partial file, grown to
  // `size` (0: the source's size).
  Status CopyObject(const std::string& src, const std::string& dst_final, uint64_t size,
                    const ProgressFn& progress);
  Status SparseCopy(int src_fd, int dst_fd, uint64_t src_size, const ProgressFn& progress);

  std::string root_;
  bool shared_;
  std::atomic<bool> reflink_enabled_{true};
  std::atomic<bool> copy_range_enabled_{true};
  std::atomic<bool> direct_io_{false};
  std::chrono::milliseconds progress_interval_{100};
  std::chrono::milliseconds copy_chunk_delay_{0};
  std::atomic<uint64_t> reflinks_{0};
  std::atomic<uint64_t> copies_{0};
};

}  // namespace vbs
