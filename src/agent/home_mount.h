// HomeMounter: puts a VBSFS volume (a home, or a version of the public volume) that this node
// exports over NBD at a mount point, and takes it away again (design.md §11).
//
// The chain, on hosts without the kernel NBD client: qemu-storage-daemon's NBD client (over the
// node's unix socket, with reconnect-delay, so that an agent restart that re-creates the export
// under the same name does not break the mount) exposes the export as a FUSE file; a loop device
// on that file; ext4 on the loop device, mounted at the mount point. qsd runs daemonized in its
// own session, so it outlives the agent. Each mount keeps its pieces in state_dir/<volume id>/
// (mount.json with the spec, qsd's pid file, the FUSE file, qsd's QMP socket) so that a
// restarted agent finds and adopts them (Adopt).
//   - The loop device does buffered I/O: the kernel accepts direct I/O on the FUSE file, but
//     large writes then reach the volume corrupted (seen on 6.18 with qsd 7.2).
//   - qsd's node passes discards on ("discard": "unmap"): the loop device turns write-zeroes
//     (ext4's lazy inode table init, extent zeroing) into punched holes of the FUSE file, which
//     qsd would otherwise drop, leaving stale data where zeros are expected. That relies on the
//     server zeroing trimmed ranges, as VBS's backends do.
//
// Mount (read-write):
//   - the local account must exist (getpwnam): else NoSuchLocalUser, nothing made;
//   - formats (mkfs.ext4) only when blkid finds no signature on the device and there is no
//     ext2/3/4 backup superblock in group 1 either (a volume whose start was overwritten is
//     FileSystemDamaged, not formatted); a signature other than ext4 is
//     UnsupportedFileSystem; otherwise `e2fsck -p` runs first, and a file system it cannot
//     repair (exit >= 4) is FileSystemDamaged with e2fsck's words: nothing stays mounted, no
//     loop device and no qsd are left behind;
//   - mounts nosuid,nodev at the mount point (made 0755 root-owned if missing); the file
//     system's root directory belongs to the user's uid/gid with mode 0700.
// Mount (read-only, the public volume): `ro,noload`, never formatted, never checked, never
//   chowned; a volume without ext4 is UnsupportedFileSystem.
// A Mount of a volume already mounted here at the same mount point succeeds without change (an
// op rerun after an agent crash); the volume mounted elsewhere is VolumeAlreadyMounted; a mount
// point that something else is mounted on is MountPointInUse. Pieces without a mounted file
// system (a crash half way) are taken away and the mount is made afresh.
// Unmount: thaws, syncs, unmounts, detaches the loop device, stops qsd and removes the state
// dir. A mount that processes hold open (files, working directory, root, executable, mapped
// files) is MountBusy, naming them (pid and command), and stays mounted, unless `force`: they
// are killed (SIGKILL) first. Unmounting what is not mounted succeeds (idempotent).
// Abandon: for a mount whose volume this node no longer has (the node was fenced and the
//   attachment ended without it): kills the processes holding it, detaches it lazily without
//   syncing, kills qsd, frees the loop device. Not mounted: succeeds.
// Freeze/Thaw: FIFREEZE/FITHAW around a snapshot (a file-system-consistent point); freezing a
//   frozen or thawing a thawed file system succeeds. Not mounted: MountNotFound.
// Grow: after the volume grew and the server dropped the export's connections (NBD cannot tell
//   a client that an export grew), asks the server for the export's size (NBD_OPT_INFO), makes
//   qsd reconnect (an O_DIRECT read of the FUSE file) and take the size (QMP block_resize, which
//   qsd's NBD driver accepts only at the size it last negotiated), re-reads the loop device's
//   capacity, then grows ext4 online (resize2fs; needs CAP_SYS_RESOURCE). ExportNotResized when
//   qsd does not see the new size within 30 s; ReadOnlyMount for read-only mounts.
// A failing command is MountFailed with the command and its stderr.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs {

struct HomeMountOptions {
  std::string nbd_socket;                     // the node's NBD unix socket
  std::string state_dir = "/run/vbs/mounts";  // per-mount pieces, <volume id>/
  std::string qemu_storage_daemon = "qemu-storage-daemon";
  int reconnect_delay_seconds = 60;  // how long qsd's NBD client retries
};

struct HomeMountSpec {
  std::string volume_id;
  std::string export_name;  // the export on nbd_socket that this node serves for uid 0
  std::string mount_point;  // absolute
  std::string user;         // rw: the local account that owns the root directory
  bool read_only = false;
  unsigned root_mode = 0700;  // rw: the file system's root directory (0755: the public draft)
};

struct MountUsage {
  uint64_t size_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t free_bytes = 0;  // available to the user
  bool operator==(const MountUsage&) const = default;
};

struct AdoptedMount {
  std::string volume_id;
  std::string mount_point;
  bool mounted = false;  // false: the pieces are there but the file system is not mounted
};

class HomeMounter {
 public:
  explicit HomeMounter(HomeMountOptions options) : options_(std::move(options)) {}

  Status Mount(const HomeMountSpec& spec);
  Status Unmount(const std::string& volume_id, bool force);
  Status Abandon(const std::string& volume_id);
  Status Freeze(const std::string& volume_id);
  Status Thaw(const std::string& volume_id);
  Status Grow(const std::string& volume_id);
  Result<MountUsage> Usage(const std::string& volume_id) const;
  // The mounts whose pieces are in state_dir (after an agent restart).
  std::vector<AdoptedMount> Adopt() const;

 private:
  HomeMountOptions options_;
  std::mutex mu_;  // one mount or unmount at a time
};

}  // namespace vbs
