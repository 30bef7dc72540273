// FileDevice: a BlockDevice over a regular file (pread/pwrite on one fd).
//
// Durability: Flush is fdatasync; a FUA write is pwrite + fdatasync. Trim punches a hole
// (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE); WriteZeroes uses FALLOC_FL_ZERO_RANGE (or a punched hole
// when allowed), falling back to writing zeroes. Extents come from SEEK_DATA/SEEK_HOLE.
// Writes through any FileDevice of the same file share the page cache, so the device is
// coherent across opens (NBD CAN_MULTI_CONN).
#pragma once

#include <memory>
#include <string>

#include "backend/block_device.h"

namespace vbs {

class FileDevice final : public BlockDevice {
 public:
  // Opens `path` (which must exist) read-write or read-only.
  static Result<std::unique_ptr<FileDevice>> Open(const std::string& path, bool read_only);
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
  int fd() const override { return fd_; }

 private:
  FileDevice(int fd, uint64_t size, bool read_only) : fd_(fd), size_(size), read_only_(read_only) {}
  Status WriteAll(const void* buf, uint64_t length, uint64_t offset);

  int fd_;
  uint64_t size_;
  bool read_only_;
};

}  // namespace vbs
