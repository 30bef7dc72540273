#include "backend/dir/file_device.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace vbs {
namespace {

// errno → Status, keeping the kinds the NBD layer maps to its error values (ENOSPC, EPERM).
Status IoStatus(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    return Status(StatusKind::kInsufficientCapacity, "NoSpace", what + ": " + std::strerror(err));
  }
  if (err == EPERM || err == EROFS || err == EACCES) {
    return Status::PermissionDenied("ReadOnly", what + ": " + std::strerror(err));
  }
  return Status::FromErrno(what, err);
}

// cachestat(2) (Linux 6.5): how many of a range's pages are in the page cache. Debian 12's
// headers predate it, so its number and structures are spelled out here.
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
struct CachestatRange {
  uint64_t off;
  uint64_t len;
};
struct Cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};
std::atomic<bool> cachestat_missing{false};  // ENOSYS once: an older kernel

// What the file system under fd lets the data path do (see DeviceCapabilities).
DeviceCapabilities BufferedCapabilities(int fd) {
  DeviceCapabilities c;
  c.fd = fd;
  c.page_cache = true;
  struct statfs fs;
  if (::fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
    c.memory_backed = true;
  }
  uint8_t byte;
  struct iovec iov = {&byte, 1};
  c.nowait_reads = !(::preadv2(fd, &iov, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP);
  return c;
}

}  // namespace

Result<std::unique_ptr<FileDevice>> FileDevice::Open(const std::string& path, bool read_only,
                                                     const FileDeviceOptions& options) {
  const int mode = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  int fd = ::open(path.c_str(), mode);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("fstat " + path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IoError(path + " is not a regular file");
  }
  int direct_fd = -1;
  if (options.direct_io) {
    direct_fd = ::open(path.c_str(), mode | O_DIRECT);
    if (direct_fd < 0) {
      int err = errno;
      ::close(fd);
      if (err == EINVAL) {
        return Status::InvalidArgument(
            "DirectIoUnsupported",
            "the file system under " + path + " does not support direct I/O (O_DIRECT)");
      }
      return Status::FromErrno("open " + path + " with O_DIRECT", err);
    }
  }
  std::unique_ptr<FileDevice> dev(
      new FileDevice(fd, direct_fd, static_cast<uint64_t>(st.st_size), read_only));
  if (direct_fd >= 0) {
    // No page cache to splice, map or read without waiting from: every request is plain I/O,
    // and reads are handed to the kernel without a thread waiting for each.
    dev->caps_.direct_align = kDirectAlign;
    dev->ring_ = IoRing::Shared();
    dev->caps_.async_reads = dev->ring_ != nullptr;
  } else {
    dev->caps_ = BufferedCapabilities(fd);
  }
  return dev;
}

FileDevice::~FileDevice() {
  ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
}

int FileDevice::DataFd(const void* buf, uint64_t length, uint64_t offset) const {
  if (direct_fd_ < 0) return fd_;
  const uint64_t mask = kDirectAlign - 1;
  const bool aligned =
      ((reinterpret_cast<uintptr_t>(buf) | length | offset) & mask) == 0 && length > 0;
  return aligned ? direct_fd_ : fd_;
}

bool FileDevice::Resident(uint64_t length, uint64_t offset) const {
  if (!caps_.page_cache || length == 0 || cachestat_missing.load(std::memory_order_relaxed)) {
    return false;
  }
  CachestatRange range{offset, length};
  Cachestat cs{};
  if (::syscall(SYS_cachestat, fd_, &range, &cs, 0) != 0) {
    if (errno == ENOSYS) cachestat_missing.store(true, std::memory_order_relaxed);
    return false;
  }
  const uint64_t page = 4096;
  const uint64_t pages = (offset + length + page - 1) / page - offset / page;
  return cs.nr_cache >= pages;
}

Status FileDevice::Read(void* buf, uint64_t length, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  const int fd = DataFd(buf, length, offset);
  while (length > 0) {
    ssize_t n = ::pread(fd, p, length, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoStatus("pread", errno);
    }
    if (n == 0) {  // past EOF (a file shrunk under us): reads as zeroes
      std::memset(p, 0, length);
      return Status::Ok();
    }
    p += n;
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

void FileDevice::ReadAsync(void* buf, uint64_t length, uint64_t offset, IoDone done) {
  if (ring_ == nullptr) return BlockDevice::ReadAsync(buf, length, offset, std::move(done));
  ring_->Read(DataFd(buf, length, offset), buf, length, offset, [done = std::move(done)](int err) {
    done(err == 0 ? Status::Ok() : IoStatus("read", err));
  });
}

Status FileDevice::WriteAll(int fd, const void* buf, uint64_t length, uint64_t offset) {
  const auto* p = static_cast<const char*>(buf);
  while (length > 0) {
    ssize_t n = ::pwrite(fd, p, length, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoStatus("pwrite", errno);
    }
    p += n;
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

Status FileDevice::Write(const void* buf, uint64_t length, uint64_t offset, bool fua) {
  if (read_only_) return Status::PermissionDenied("ReadOnly", "device is read-only");
  VBS_RETURN_IF_ERROR(WriteAll(DataFd(buf, length, offset), buf, length, offset));
  return fua ? Flush() : Status::Ok();
}

Status FileDevice::Flush() {
  if (::fdatasync(fd_) != 0) return IoStatus("fdatasync", errno);
  return Status::Ok();
}

Status FileDevice::Trim(uint64_t length, uint64_t offset) {
  if (read_only_) return Status::PermissionDenied("ReadOnly", "device is read-only");
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) != 0) {
    if (errno == EOPNOTSUPP) return WriteZeroes(length, offset, false);
    return IoStatus("fallocate(punch)", errno);
  }
  return Status::Ok();
}

Status FileDevice::WriteZeroes(uint64_t length, uint64_t offset, bool may_punch_hole) {
  if (read_only_) return Status::PermissionDenied("ReadOnly", "device is read-only");
  int mode = may_punch_hole ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
                            : (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
  if (::fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) {
    return Status::Ok();
  }
  if (errno != EOPNOTSUPP && errno != EINVAL) return IoStatus("fallocate(zero)", errno);
  // The file system cannot zero in place: write zero buffers.
  static const std::vector<char> kZeroes(1 << 20, 0);
  while (length > 0) {
    uint64_t n = std::min<uint64_t>(length, kZeroes.size());
    VBS_RETURN_IF_ERROR(WriteAll(fd_, kZeroes.data(), n, offset));
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

Status FileDevice::WriteZeroesFast(uint64_t length, uint64_t offset, bool may_punch_hole) {
  if (read_only_) return Status::PermissionDenied("ReadOnly", "device is read-only");
  int mode = may_punch_hole ? (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
                            : (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE);
  if (::fallocate(fd_, mode, static_cast<off_t>(offset), static_cast<off_t>(length)) == 0) {
    return Status::Ok();
  }
  if (errno == EOPNOTSUPP || errno == EINVAL) {
    return Status(StatusKind::kUnavailable, kFastZeroUnsupported, "file system cannot zero fast");
  }
  return IoStatus("fallocate(zero)", errno);
}

Result<std::vector<Extent>> FileDevice::Extents(uint64_t length, uint64_t offset) {
  std::vector<Extent> out;
  const uint64_t end = std::min(size_, offset + length);
  uint64_t pos = offset;
  while (pos < end) {
    off_t data = ::lseek(fd_, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno != ENXIO) return Status::FromErrno("lseek(SEEK_DATA)", errno);
    uint64_t data_start = data < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(data), end);
    if (data_start > pos) {
      out.push_back({pos, data_start - pos, true});
      pos = data_start;
      if (pos >= end) break;
    }
    off_t hole = ::lseek(fd_, static_cast<off_t>(pos), SEEK_HOLE);
    if (hole < 0) return Status::FromErrno("lseek(SEEK_HOLE)", errno);
    uint64_t data_end = std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    if (data_end <= pos) data_end = end;  // defensive: never loop forever
    out.push_back({pos, data_end - pos, false});
    pos = data_end;
  }
  return out;
}

}  // namespace vbs
