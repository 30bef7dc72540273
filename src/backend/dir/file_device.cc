#include "backend/dir/file_device.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

}  // namespace

Result<std::unique_ptr<FileDevice>> FileDevice::Open(const std::string& path, bool read_only) {
  int fd = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
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
  return std::unique_ptr<FileDevice>(
      new FileDevice(fd, static_cast<uint64_t>(st.st_size), read_only));
}

FileDevice::~FileDevice() {
  ::close(fd_);
}

Status FileDevice::Read(void* buf, uint64_t length, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (length > 0) {
    ssize_t n = ::pread(fd_, p, length, static_cast<off_t>(offset));
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

Status FileDevice::WriteAll(const void* buf, uint64_t length, uint64_t offset) {
  const auto* p = static_cast<const char*>(buf);
  while (length > 0) {
    ssize_t n = ::pwrite(fd_, p, length, static_cast<off_t>(offset));
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
  VBS_RETURN_IF_ERROR(WriteAll(buf, length, offset));
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
    VBS_RETURN_IF_ERROR(WriteAll(kZeroes.data(), n, offset));
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
