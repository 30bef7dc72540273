// BlockDevice: an open volume that the data path (NBD) reads and writes.
//
// Contract: offsets and lengths are in bytes; callers (the NBD server) have already checked
// that [offset, offset+length) lies inside size(). Every method is safe to call from several
// threads at once on the same device (the NBD server runs requests in parallel). A Write with
// fua=true, or any Write followed by a successful Flush, is durable: it survives a crash of
// the serving process and of the machine.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace vbs {

struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool hole = false;  // unallocated: reads as zeroes
  bool operator==(const Extent&) const = default;
};

// Status code of WriteZeroesFast when the backend cannot zero quickly.
inline constexpr char kFastZeroUnsupported[] = "FastZeroUnsupported";

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  virtual uint64_t size() const = 0;
  virtual bool read_only() const = 0;

  // Reads exactly `length` bytes (short reads are retried inside; past-EOF reads zeroes).
  virtual Status Read(void* buf, uint64_t length, uint64_t offset) = 0;
  virtual Status Write(const void* buf, uint64_t length, uint64_t offset, bool fua) = 0;
  virtual Status Flush() = 0;
  // Discards the range; later reads return zeroes (a hole where the backend can punch one).
  virtual Status Trim(uint64_t length, uint64_t offset) = 0;
  // Makes the range read as zeroes. may_punch_hole=false (NBD NO_HOLE) keeps it allocated.
  virtual Status WriteZeroes(uint64_t length, uint64_t offset, bool may_punch_hole) = 0;
  // Allocation map of [offset, offset+length): consecutive extents covering at least the
  // first byte of the range, merged where adjacent extents share the hole flag.
  virtual Result<std::vector<Extent>> Extents(uint64_t length, uint64_t offset) = 0;
  // Like WriteZeroes, but only if the backend can zero without writing data (a metadata
  // operation such as fallocate); otherwise fails at once with code kFastZeroUnsupported and
  // changes nothing. Serves NBD's WRITE_ZEROES with FAST_ZERO.
  virtual Status WriteZeroesFast(uint64_t /*length*/, uint64_t /*offset*/,
                                 bool /*may_punch_hole*/) {
    return Status(StatusKind::kUnavailable, kFastZeroUnsupported, "no fast zeroing");
  }

  // True when writes through one open device are visible to reads through any other open
  // device of the same volume at once (a shared page cache or a coherent backend): the
  // condition for NBD's CAN_MULTI_CONN.
  virtual bool coherent_across_opens() const { return false; }
  // A file descriptor whose pread/pwrite is the device, for zero-copy fast paths; -1 if none.
  virtual int fd() const { return -1; }
};

}  // namespace vbs
