// FileDevice: a BlockDevice over a regular file (pread/pwrite on one fd).
//
// Durability: Flush is fdatasync; a FUA write is pwrite + fdatasync. Trim punches a hole
// (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE); WriteZeroes uses FALLOC_FL_ZERO_RANGE (or a punched hole
// when allowed), falling back to writing zeroes. Extents come from SEEK_DATA/SEEK_HOLE.
// Writes through any FileDevice of the same file share the page cache, so the device is
// coherent across opens (NBD CAN_MULTI_CONN).
//
// Capabilities (block_device.h) come from the file system, checked once at Open: a file on
// tmpfs/ramfs is memory-backed; elsewhere reads may be tried with RWF_NOWAIT and resident
// ranges are found with cachestat(2). With direct_io (a pool's "cache=none" choice: no second
// page cache under the guests' own) aligned reads and writes use a second descriptor opened
// O_DIRECT; unaligned ones, and everything else, go through the buffered one. Linux keeps the
// two coherent (a direct read writes back dirty cached pages first, a direct write drops
// them), and Flush is fdatasync either way. Direct-I/O devices read asynchronously through
// the process's io_uring (io_ring.h) where the kernel allows it: the disk then sees the
// client's whole queue depth.
#pragma once

#include <memory>
#include <string>

#include "backend/block_device.h"
#include "backend/dir/io_ring.h"

namespace vbs {

struct FileDeviceOptions {
  bool direct_io = false;  // O_DIRECT for aligned I/O; Open fails if the file system refuses
};

class FileDevice final : public BlockDevice {
 public:
  // Opens `path` (which must exist) read-write or read-only.
  static Result<std::unique_ptr<FileDevice>> Open(const std::string& path, bool read_only,
                                                  const FileDeviceOptions& options = {});
  ~FileDevice() override;

  uint64_t size() const override { return size_; }
  bool read_only() const override { return read_only_; }
  Status Read(void* buf, uint64_t length, uint64_t offset) override;
  Status Write(const void* buf, uint64_t length, uint64_t offset, bool fua) override;
  Status Flush() override;
  Status Trim(uint64_t length, uint64_t offset) override;
  Status WriteZeroes(uint64_t length, uint64_t offset, bool may_punch_hole) override;
  Result<std::vector<Extent>> Extents(uint64_t length, uint64_t offset) override;
  Status WriteZeroesFast(uint64_t length, uint64_t offset, bool may_punch_hole) override;
  bool coherent_across_opens() const override { return true; }
  DeviceCapabilities capabilities() const override { return caps_; }
  bool Resident(uint64_t length, uint64_t offset) const override;
  void ReadAsync(void* buf, uint64_t length, uint64_t offset, IoDone done) override;

  // The alignment of O_DIRECT I/O: the largest logical block size in use (4 KiB sectors).
  static constexpr uint32_t kDirectAlign = 4096;

 private:
  FileDevice(int fd, int direct_fd, uint64_t size, bool read_only)
      : fd_(fd), direct_fd_(direct_fd), size_(size), read_only_(read_only) {}
  Status WriteAll(int fd, const void* buf, uint64_t length, uint64_t offset);
  // The descriptor for a data transfer: the O_DIRECT one if there is one and it may be used.
  int DataFd(const void* buf, uint64_t length, uint64_t offset) const;

  int fd_;
  int direct_fd_;           // -1 unless direct_io
  IoRing* ring_ = nullptr;  // asynchronous reads (direct I/O only); null: none
  DeviceCapabilities caps_;
  uint64_t size_;
  bool read_only_;
};

}  // namespace vbs
