// RbdDevice: a BlockDevice over an open RBD image, on librbd's asynchronous I/O.
//
// Reads and writes are asynchronous (capabilities().async_reads/async_writes): the NBD server
// starts them from a connection's thread, and librbd's completion, on its own thread, answers
// them; no thread waits per request. librbd copies a write's buffer on the calling thread, into
// heap memory (docs/decisions.md: why the process keeps glibc's adaptive mmap threshold). Other
// calls come synchronously from the server's workers: each submits one librbd aio request and
// waits for its completion. Reads, writes, discards, write-zeroes
// and flushes map one to one onto rbd_aio_*; a FUA write is the write then an aio flush. Extents
// come from rbd_diff_iterate2 (object granularity with the object map, parent data included for
// clones): a data extent may contain zeroes, a hole never contains data.
// Durability: librbd acknowledges a write once the OSDs have it (its cache, if configured,
// is written back on flush), which is what NBD's flush/FUA ask for.
// Not coherent across opens: each open has its own librbd cache, and the exclusive-lock
// feature moves the lock between writers.
#pragma once

#include <memory>
#include <string>

#include "backend/block_device.h"
#include "backend/rbd/rbd_handles.h"

namespace vbs {

class RbdDevice final : public BlockDevice {
 public:
  RbdDevice(std::shared_ptr<RadosPool> pool, RbdImage image, uint64_t size, bool read_only)
      : pool_(std::move(pool)), image_(std::move(image)), size_(size), read_only_(read_only) {}

  uint64_t size() const override { return size_; }
  bool read_only() const override { return read_only_; }
  Status Read(void* buf, uint64_t length, uint64_t offset) override;
  Status Write(const void* buf, uint64_t length, uint64_t offset, bool fua) override;
  Status Flush() override;
  Status Trim(uint64_t length, uint64_t offset) override;
  Status WriteZeroes(uint64_t length, uint64_t offset, bool may_punch_hole) override;
  Result<std::vector<Extent>> Extents(uint64_t length, uint64_t offset) override;
  DeviceCapabilities capabilities() const override {
    DeviceCapabilities c;
    c.async_reads = true;
    c.async_writes = true;
    return c;
  }
  void ReadAsync(void* buf, uint64_t length, uint64_t offset, IoDone done) override;
  void WriteAsync(const void* buf, uint64_t length, uint64_t offset, bool fua,
                  IoDone done) override;

 private:
  std::shared_ptr<RadosPool> pool_;  // keeps the cluster connection alive while open
  RbdImage image_;
  uint64_t size_;
  bool read_only_;
};

}  // namespace vbs
