// Buffer and BufferPool: page-aligned byte buffers recycled per connection.
//
// Reads and writes of up to 32 MiB each would otherwise go through malloc/mmap/munmap and
// fresh page faults on every request; the pool keeps a few buffers of each power-of-two size
// class. Thread-safe (workers hand buffers back through the connection).
// Buffers of kMappedBytes and more are mapped with mmap and unmapped when freed, so that the
// server's memory follows its request budget. This is done here, not with a process-wide
// mallopt(M_MMAP_THRESHOLD): that would also send the libraries' own large buffers (librbd
// receives every 1 MiB read into a fresh one) through mmap, page faults and munmap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

namespace vbs::nbd {

class Buffer {
 public:
  Buffer() = default;
  static constexpr size_t kMappedBytes = 256 * 1024;
  static Buffer Alloc(size_t capacity);
  ~Buffer() { Release(); }
  Buffer(Buffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), cap_(std::exchange(o.cap_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      Release();
      p_ = std::exchange(o.p_, nullptr);
      cap_ = std::exchange(o.cap_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  uint8_t* data() const { return p_; }
  size_t capacity() const { return cap_; }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  void Release();

  uint8_t* p_ = nullptr;
  size_t cap_ = 0;
};

class BufferPool {
 public:
  // A buffer of at least `size` bytes.
  Buffer Get(size_t size);
  void Put(Buffer b);

 private:
  static constexpr int kClasses = 14;                // 4 KiB << 0 .. 4 KiB << 13 (32 MiB)
  static constexpr size_t kMaxKeptBytes = 16 << 20;  // per pool (counts in a node's memory)
  std::mutex mu_;
  std::vector<Buffer> free_[kClasses];
  size_t kept_bytes_ = 0;
};

}  // namespace vbs::nbd
