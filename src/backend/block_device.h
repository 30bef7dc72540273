// BlockDevice: an open volume that the data path (NBD) reads and writes.
//
// Contract: offsets and lengths are in bytes; callers (the NBD server) have already checked
// that [offset, offset+length) lies inside size(). Every method is safe to call from several
// threads at once on the same device (the NBD server runs requests in parallel). A Write with
// fua=true, or any Write followed by a successful Flush, is durable: it survives a crash of
// the serving process and of the machine.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/status.h"

namespace vbs {

struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool hole = false;  // unallocated: reads as zeroes
  bool operator==(const Extent&) const = default;
};

// What a device offers the data path beyond Read/Write. The NBD server asks for these instead
// of recognizing kinds of files or file systems (the nbdkit split of protocol core and
// plugins): each fast path there is switched on by one of these fields.
struct DeviceCapabilities {
  // A file descriptor whose data is the device's (pread/pwrite, splice, mmap at the same
  // offsets), for zero-copy paths; -1 if there is none.
  int fd = -1;
  // Nothing ever waits for a disk or a network (a file on tmpfs or ramfs): any request may
  // run on a connection's own thread, and the file may be mapped and written in place. The
  // file's size never changes behind the device's back.
  bool memory_backed = false;
  // preadv2(fd, RWF_NOWAIT) answers cached data without waiting, and fails with EAGAIN
  // otherwise: cached reads may run on a connection's thread.
  bool nowait_reads = false;
  // The device's data goes through the page cache, so Resident() answers and resident data
  // may be spliced from fd.
  bool page_cache = false;
  // Nonzero: I/O bypasses the page cache (O_DIRECT), and requests whose buffer address,
  // offset and length are multiples of this go straight to the disk (others take a slower,
  // buffered path).
  uint32_t direct_align = 0;
  // ReadAsync (async_reads) or WriteAsync (async_writes) complete on the backend's own
  // threads (librbd, io_uring): the data path starts them from a connection's thread, and no thread
  // of its own waits for them.
  bool async_reads = false;
  bool async_writes = false;
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

  // Start a read or a write and call `done` once with its result: on another thread, or on
  // this one before returning. The buffer stays valid and untouched until then. By default
  // they run Read/Write; devices offering async_reads/async_writes hand them to their backend.
  using IoDone = std::function<void(Status)>;
  virtual void ReadAsync(void* buf, uint64_t length, uint64_t offset, IoDone done) {
    done(Read(buf, length, offset));
  }
  virtual void WriteAsync(const void* buf, uint64_t length, uint64_t offset, bool fua,
                          IoDone done) {
    done(Write(buf, length, offset, fua));
  }

  // True when writes through one open device are visible to reads through any other open
  // device of the same volume at once (a shared page cache or a coherent backend): the
  // condition for NBD's CAN_MULTI_CONN.
  virtual bool coherent_across_opens() const { return false; }
  // What the device can do fast (see DeviceCapabilities). Fixed for the device's lifetime.
  virtual DeviceCapabilities capabilities() const { return {}; }
  // True if every byte of [offset, offset+length) is in memory right now, so that reading it
  // (or splicing it from capabilities().fd) does not wait for a disk. Only meaningful with
  // capabilities().page_cache; a hint that can be stale by the time the data is read.
  virtual bool Resident(uint64_t /*length*/, uint64_t /*offset*/) const { return false; }
};

}  // namespace vbs
