#include "backend/dir/dir_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "backend/backend_checks.h"
#include "backend/dir/file_device.h"
#include "common/ids.h"

namespace vbs {
namespace {

constexpr char kVolumesDir[] = "volumes";
constexpr char kSnapshotsDir[] = "snapshots";
constexpr char kImgSuffix[] = ".img";
constexpr char kPartialSuffix[] = ".img.partial";
constexpr uint64_t kCopyChunk = 8 << 20;  // per copy call: bounds the progress granularity

// Owns a file descriptor; closes it on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// ENOSPC is the pool being full, which callers treat differently from a broken disk.
Status ErrnoStatus(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return Status(StatusKind::kInsufficientCapacity, "InsufficientVolumeCapacity",
                  what + ": " + std::strerror(err));
  }
  return Status::FromErrno(what, err);
}

using backend::CheckSize;
using backend::CheckSnapshotId;
using backend::CheckVolumeId;
using backend::SnapshotNotFound;
using backend::VolumeNotFound;

// The stat of `path`, or nullopt when it does not exist.
Result<std::optional<struct stat>> StatIfExists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return std::optional<struct stat>(st);
  if (errno == ENOENT) return std::optional<struct stat>();
  return Status::FromErrno("stat " + path, errno);
}

std::string DirOf(const std::string& path) {
  return path.substr(0, path.rfind('/'));
}

// Makes a create, rename or unlink in `dir` durable. Some network file systems refuse fsync
// on a directory (EINVAL); they commit namespace changes synchronously anyway.
Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return Status::FromErrno("open " + dir, errno);
  if (::fsync(fd.get()) != 0 && errno != EINVAL) return Status::FromErrno("fsync " + dir, errno);
  return Status::Ok();
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    if (!S_ISDIR(st.st_mode)) return Status::IoError(path + " is not a directory");
    return Status::Ok();
  }
  return Status::FromErrno("mkdir " + path, errno);
}

// Takes flock(LOCK_EX|LOCK_NB) on the file at `path`, created if `create`. Returns an invalid
// Fd when the file does not exist (and !create). A lock held elsewhere → Unavailable. File
// systems without flock (e.g. Lustre mounted without -o flock) proceed unlocked: the agent
// serialises operations on one object, the lock only guards against a confused duplicate.
Result<Fd> LockFile(const std::string& path, bool create) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600));
    if (fd.get() < 0) {
      if (errno == ENOENT && !create) return Fd();
      return ErrnoStatus("open " + path, errno);
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return Status::Unavailable("an operation on " + path + " is in progress");
      }
      if (errno != ENOLCK && errno != ENOSYS && errno != EOPNOTSUPP) {
        return Status::FromErrno("flock " + path, errno);
      }
    }
    // The holder we waited behind may have renamed or removed the file meanwhile: the lock
    // counts only if `path` still names the inode we locked.
    struct stat by_fd, by_path;
    if (::fstat(fd.get(), &by_fd) != 0) return Status::FromErrno("fstat " + path, errno);
    if (::stat(path.c_str(), &by_path) != 0) {
      if (errno != ENOENT) return Status::FromErrno("stat " + path, errno);
      if (!create) return Fd();  // gone meanwhile: nothing left to lock
    } else if (by_path.st_dev == by_fd.st_dev && by_path.st_ino == by_fd.st_ino) {
      return fd;
    }
  }
  return Status::Unavailable("could not lock " + path + ": it keeps changing");
}

// Removes the half-made file at `path` unless a live run holds it. Missing → OK.
Status RemoveUnlocked(const std::string& path) {
  VBS_ASSIGN_OR_RETURN(Fd fd, LockFile(path, /*create=*/false));
  if (fd.get() < 0) return Status::Ok();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("unlink " + path, errno);
  }
  return FsyncDir(DirOf(path));
}

// Builds the object `final_path` atomically: `build` fills the locked, emptied .partial file,
// which is then fsynced, renamed and the directory fsynced. Returns false (and builds
// nothing) when `final_path` already exists, possibly made by a concurrent run just now.
Result<bool> BuildAtomically(const std::string& final_path,
                             const std::function<Status(int fd)>& build) {
  const std::string partial = final_path + ".partial";
  VBS_ASSIGN_OR_RETURN(Fd fd, LockFile(partial, /*create=*/true));
  auto discard = [&]() { ::unlink(partial.c_str()); };  // while locked: nobody else races us
  auto existing = StatIfExists(final_path);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    discard();
    return false;
  }
  // A leftover of a crashed run: start over from an empty file.
  Status st;
  if (::ftruncate(fd.get(), 0) != 0) st = ErrnoStatus("ftruncate " + partial, errno);
  if (st.ok()) st = build(fd.get());
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus("fsync " + partial, errno);
  if (st.ok() && ::rename(partial.c_str(), final_path.c_str()) != 0) {
    st = Status::FromErrno("rename " + partial, errno);
  }
  if (!st.ok()) {
    discard();  // frees the space a failed copy took; a crash instead leaves it to List()
    return st;
  }
  VBS_RETURN_IF_ERROR(FsyncDir(DirOf(final_path)));
  return true;
}

// Calls fn(offset, length) for each allocated range of the first `size` bytes of `fd`.
Status ForEachDataRange(int fd, uint64_t size,
                        const std::function<Status(uint64_t, uint64_t)>& fn) {
  uint64_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole up to EOF is left
      return Status::FromErrno("lseek(SEEK_DATA)", errno);
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return Status::FromErrno("lseek(SEEK_HOLE)", errno);
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (end <= static_cast<uint64_t>(data)) end = size;  // defensive: never loop forever
    VBS_RETURN_IF_ERROR(fn(static_cast<uint64_t>(data), end - static_cast<uint64_t>(data)));
    pos = end;
  }
  return Status::Ok();
}

// Rate-limits progress reports: only increasing percentages, at most one per `interval`
// except the final 100, so a fast copy does not flood the metadata store with updates.
class ProgressReporter {
 public:
  ProgressReporter(const ProgressFn& fn, std::chrono::milliseconds interval)
      : fn_(fn), interval_(interval) {}
  void Report(int percent) {
    if (!fn_ || percent <= last_) return;
    auto now = std::chrono::steady_clock::now();
    if (last_ >= 0 && percent < 100 && now - last_time_ < interval_) return;
    fn_(percent);
    last_ = percent;
    last_time_ = now;
  }

 private:
  const ProgressFn& fn_;
  std::chrono::milliseconds interval_;
  int last_ = -1;
  std::chrono::steady_clock::time_point last_time_;
};

bool ReflinkUnsupported(int err) {
  return err == EOPNOTSUPP || err == ENOTTY || err == EXDEV || err == EINVAL || err == ENOSYS ||
         err == EBADF;
}

// copy_file_range refuses some file pairs (older kernels across file systems, some FUSE and
// network file systems); the pread/pwrite loop works everywhere.
bool CopyRangeUnsupported(int err) {
  return err == EOPNOTSUPP || err == ENOSYS || err == EXDEV || err == EINVAL || err == EBADF;
}

// Copies [off, off+len) by pread/pwrite, skipping all-zero blocks so they stay holes.
Status CopyByBuffer(int src, int dst, uint64_t off, uint64_t len, std::vector<char>& buf) {
  constexpr size_t kBlock = 4096;
  while (len > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(len, buf.size()));
    ssize_t n = ::pread(src, buf.data(), want, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("pread", errno);
    }
    if (n == 0) return Status::IoError("source shrank during the copy");
    for (size_t b = 0; b < static_cast<size_t>(n); b += kBlock) {
      size_t blen = std::min(kBlock, static_cast<size_t>(n) - b);
      const char* p = buf.data() + b;
      if (std::all_of(p, p + blen, [](char c) { return c == 0; })) continue;
      size_t done = 0;
      while (done < blen) {
        ssize_t w = ::pwrite(dst, p + done, blen - done, static_cast<off_t>(off + b + done));
        if (w < 0) {
          if (errno == EINTR) continue;
          return ErrnoStatus("pwrite", errno);
        }
        done += static_cast<size_t>(w);
      }
    }
    off += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<DirBackend>> DirBackend::OpenPool(const std::string& root, bool shared) {
  if (root.empty()) return Status::InvalidArgument("InvalidParameterValue", "empty pool path");
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  // mkdir -p: the embedded default pool lives in a data dir that may not exist yet.
  for (size_t i = 1; i <= r.size(); ++i) {
    if (i == r.size() || r[i] == '/') VBS_RETURN_IF_ERROR(MakeDir(r.substr(0, i)));
  }
  VBS_RETURN_IF_ERROR(MakeDir(r + "/" + kVolumesDir));
  VBS_RETURN_IF_ERROR(MakeDir(r + "/" + kSnapshotsDir));
  VBS_RETURN_IF_ERROR(FsyncDir(r));
  return std::unique_ptr<DirBackend>(new DirBackend(r, shared));
}

Status DirBackend::EnableDirectIo() {
  const std::string probe = root_ + "/.direct-io-probe";
  int fd = ::open(probe.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_DIRECT, 0600);
  const int err = errno;
  ::unlink(probe.c_str());
  if (fd < 0) {
    if (err == EINVAL) {
      return Status::InvalidArgument(
          "DirectIoUnsupported",
          "the file system under " + root_ + " does not support direct I/O (O_DIRECT)");
    }
    return Status::FromErrno("open " + probe + " with O_DIRECT", err);
  }
  ::close(fd);
  direct_io_ = true;
  return Status::Ok();
}

std::string DirBackend::VolumePath(const std::string& volume_id) const {
  return root_ + "/" + kVolumesDir + "/" + volume_id + kImgSuffix;
}

std::string DirBackend::SnapshotPath(const std::string& snapshot_id) const {
  return root_ + "/" + kSnapshotsDir + "/" + snapshot_id + kImgSuffix;
}

Status DirBackend::CreateVolume(const std::string& volume_id, uint64_t size) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSize(size));
  const std::string path = VolumePath(volume_id);
  VBS_ASSIGN_OR_RETURN(auto done, StatIfExists(path));  // the usual re-run: no temp file
  if (!done) {
    VBS_ASSIGN_OR_RETURN(bool built, BuildAtomically(path, [&](int fd) {
                           if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
                             return ErrnoStatus("ftruncate " + path, errno);
                           }
                           return Status::Ok();
                         }));
    if (built) return Status::Ok();
  }
  VBS_ASSIGN_OR_RETURN(uint64_t existing, VolumeSize(volume_id));
  if (existing == size) return Status::Ok();
  return Status::Conflict("IncorrectState", "volume " + volume_id + " exists with size " +
                                                std::to_string(existing) + ", not " +
                                                std::to_string(size));
}

Status DirBackend::DeleteVolume(const std::string& volume_id) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  const std::string path = VolumePath(volume_id);
  // A half-made file of the same id (a create that crashed) goes too; one being built right
  // now makes the delete fail with Unavailable rather than be resurrected by its rename.
  VBS_RETURN_IF_ERROR(RemoveUnlocked(path + ".partial"));
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("unlink " + path, errno);
  }
  return FsyncDir(DirOf(path));
}

Status DirBackend::ResizeVolume(const std::string& volume_id, uint64_t new_size) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSize(new_size));
  const std::string path = VolumePath(volume_id);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return VolumeNotFound(volume_id);
    return Status::FromErrno("open " + path, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("fstat " + path, errno);
  const auto cur = static_cast<uint64_t>(st.st_size);
  if (new_size == cur) return Status::Ok();  // a re-run after a crash
  if (new_size < cur) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "volumes only grow: " + std::to_string(new_size) + " < " + std::to_string(cur));
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(new_size)) != 0) {
    return ErrnoStatus("ftruncate " + path, errno);
  }
  if (::fsync(fd.get()) != 0) return Status::FromErrno("fsync " + path, errno);
  return Status::Ok();
}

Result<uint64_t> DirBackend::VolumeSize(const std::string& volume_id) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_ASSIGN_OR_RETURN(auto st, StatIfExists(VolumePath(volume_id)));
  if (!st) return VolumeNotFound(volume_id);
  return static_cast<uint64_t>(st->st_size);
}

Status DirBackend::CreateSnapshot(const std::string& volume_id, const std::string& snapshot_id,
                                  const ProgressFn& progress) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSnapshotId(snapshot_id));
  VBS_ASSIGN_OR_RETURN(auto done, StatIfExists(SnapshotPath(snapshot_id)));
  if (!done) {
    VBS_ASSIGN_OR_RETURN(auto src, StatIfExists(VolumePath(volume_id)));
    if (!src) return VolumeNotFound(volume_id);
    VBS_RETURN_IF_ERROR(CopyObject(VolumePath(volume_id), SnapshotPath(snapshot_id), 0, progress));
  }
  if (progress) progress(100);
  return Status::Ok();
}

Status DirBackend::DeleteSnapshot(const std::string& snapshot_id) {
  VBS_RETURN_IF_ERROR(CheckSnapshotId(snapshot_id));
  const std::string path = SnapshotPath(snapshot_id);
  VBS_RETURN_IF_ERROR(RemoveUnlocked(path + ".partial"));
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("unlink " + path, errno);
  }
  return FsyncDir(DirOf(path));
}

Status DirBackend::CreateVolumeFromSnapshot(const std::string& snapshot_id,
                                            const std::string& volume_id, uint64_t size,
                                            const ProgressFn& progress) {
  VBS_RETURN_IF_ERROR(CheckSnapshotId(snapshot_id));
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSize(size));
  VBS_ASSIGN_OR_RETURN(auto done, StatIfExists(VolumePath(volume_id)));
  if (!done) {
    VBS_ASSIGN_OR_RETURN(auto snap, StatIfExists(SnapshotPath(snapshot_id)));
    if (!snap) return SnapshotNotFound(snapshot_id);
    if (size < static_cast<uint64_t>(snap->st_size)) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "size " + std::to_string(size) +
                                         " is smaller than the snapshot's " +
                                         std::to_string(snap->st_size));
    }
    VBS_RETURN_IF_ERROR(
        CopyObject(SnapshotPath(snapshot_id), VolumePath(volume_id), size, progress));
  }
  VBS_ASSIGN_OR_RETURN(uint64_t existing, VolumeSize(volume_id));
  if (existing != size) {
    return Status::Conflict("IncorrectState", "volume " + volume_id + " exists with size " +
                                                  std::to_string(existing) + ", not " +
                                                  std::to_string(size));
  }
  if (progress) progress(100);
  return Status::Ok();
}

Status DirBackend::CopyObject(const std::string& src_path, const std::string& dst_final,
                              uint64_t size, const ProgressFn& progress) {
  Fd src(::open(src_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return Status::FromErrno("open " + src_path, errno);
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return Status::FromErrno("fstat " + src_path, errno);
  const auto src_size = static_cast<uint64_t>(st.st_size);
  if (size == 0) size = src_size;
  auto built = BuildAtomically(dst_final, [&](int dst) {
    bool cloned = false;
    if (reflink_enabled_) {
      if (::ioctl(dst, FICLONE, src.get()) == 0) {
        cloned = true;
        ++reflinks_;
      } else if (!ReflinkUnsupported(errno)) {
        return ErrnoStatus("ioctl(FICLONE) " + dst_final, errno);
      }
    }
    if (!cloned) {
      ++copies_;
      // Size first, so that everything not copied below is a hole.
      if (::ftruncate(dst, static_cast<off_t>(src_size)) != 0) {
        return ErrnoStatus("ftruncate " + dst_final, errno);
      }
      VBS_RETURN_IF_ERROR(SparseCopy(src.get(), dst, src_size, progress));
    }
    if (size > src_size && ::ftruncate(dst, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus("ftruncate " + dst_final, errno);
    }
    return Status::Ok();
  });
  return built.status();
}

Status DirBackend::SparseCopy(int src, int dst, uint64_t src_size, const ProgressFn& progress) {
  // Two walks of the allocation map (one to total it, one to copy) rather than a stored
  // list: a badly fragmented 1 TiB file can have millions of extents.
  uint64_t total = 0;
  VBS_RETURN_IF_ERROR(ForEachDataRange(src, src_size, [&](uint64_t, uint64_t len) {
    total += len;
    return Status::Ok();
  }));
  ProgressReporter reporter(progress, progress_interval_);
  reporter.Report(0);
  uint64_t copied = 0;
  bool use_copy_range = copy_range_enabled_;
  std::vector<char> buf;
  return ForEachDataRange(src, src_size, [&](uint64_t off, uint64_t len) {
    const uint64_t end = off + len;
    while (off < end) {
      const uint64_t n = std::min(end - off, kCopyChunk);
      uint64_t moved = 0;
      if (use_copy_range) {
        loff_t in = static_cast<loff_t>(off), out = static_cast<loff_t>(off);
        ssize_t r = ::copy_file_range(src, &in, dst, &out, n, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (!CopyRangeUnsupported(errno)) return ErrnoStatus("copy_file_range", errno);
          use_copy_range = false;
          continue;
        }
        if (r == 0) return Status::IoError("source shrank during the copy");
        moved = static_cast<uint64_t>(r);
      } else {
        if (buf.empty()) buf.resize(1 << 20);
        VBS_RETURN_IF_ERROR(CopyByBuffer(src, dst, off, n, buf));
        moved = n;
      }
      off += moved;
      copied += moved;
      if (copy_chunk_delay_.count() > 0) std::this_thread::sleep_for(copy_chunk_delay_);
      // The data may have grown since the first walk if a writer was not quiesced: cap at 99
      // until the object is complete.
      reporter.Report(total == 0 ? 99
                                 : static_cast<int>(std::min<uint64_t>(99, copied * 100 / total)));
    }
    return Status::Ok();
  });
}

Result<PoolStats> DirBackend::Stats() {
  struct statvfs vfs;
  if (::statvfs(root_.c_str(), &vfs) != 0) return Status::FromErrno("statvfs " + root_, errno);
  PoolStats s;
  s.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  s.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  return s;
}

Result<BackendObjects> DirBackend::List() {
  BackendObjects out;
  struct Area {
    const char* dir;
    const char* prefix;
    std::vector<std::string>* objects;
  };
  for (const Area& a :
       {Area{kVolumesDir, "vol", &out.volumes}, Area{kSnapshotsDir, "snap", &out.snapshots}}) {
    const std::string dir = root_ + "/" + a.dir;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno("opendir " + dir, errno);
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      // Anything that is not one of our names (an operator's stray file) is ignored.
      if (name.ends_with(kPartialSuffix)) {
        std::string_view id = name.substr(0, name.size() - std::strlen(kPartialSuffix));
        if (IsValidId(id, a.prefix)) out.partials.emplace_back(name);
      } else if (name.ends_with(kImgSuffix)) {
        std::string_view id = name.substr(0, name.size() - std::strlen(kImgSuffix));
        if (IsValidId(id, a.prefix)) a.objects->emplace_back(id);
      }
      errno = 0;
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return Status::FromErrno("readdir " + dir, err);
  }
  std::sort(out.volumes.begin(), out.volumes.end());
  std::sort(out.snapshots.begin(), out.snapshots.end());
  std::sort(out.partials.begin(), out.partials.end());
  return out;
}

Status DirBackend::RemovePartial(const std::string& name) {
  std::string_view n(name);
  if (n.ends_with(kPartialSuffix)) {
    std::string id(n.substr(0, n.size() - std::strlen(kPartialSuffix)));
    if (IsValidId(id, "vol")) return RemoveUnlocked(VolumePath(id) + ".partial");
    if (IsValidId(id, "snap")) return RemoveUnlocked(SnapshotPath(id) + ".partial");
  }
  return Status::InvalidArgument("InvalidParameterValue",
                                 "'" + name + "' is not the name of a half-made object");
}

Result<std::unique_ptr<BlockDevice>> DirBackend::Open(const std::string& volume_id,
                                                      bool read_only) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  const std::string path = VolumePath(volume_id);
  VBS_ASSIGN_OR_RETURN(auto st, StatIfExists(path));
  if (!st) return VolumeNotFound(volume_id);
  VBS_ASSIGN_OR_RETURN(
      std::unique_ptr<FileDevice> dev,
      FileDevice::Open(path, read_only, FileDeviceOptions{.direct_io = direct_io_}));
  return std::unique_ptr<BlockDevice>(std::move(dev));
}

}  // namespace vbs
