#include "nbd/buffer.h"

#include <sys/mman.h>

#include <new>

namespace vbs::nbd {
namespace {

constexpr size_t kMinClass = 4096;

// Size class index for `size` (the smallest class at least that large), or -1 if too big.
int ClassOf(size_t size) {
  size_t c = kMinClass;
  for (int i = 0; i < 14; ++i, c <<= 1) {
    if (size <= c) return i;
  }
  return -1;
}

}  // namespace

Buffer Buffer::Alloc(size_t capacity) {
  Buffer b;
  size_t rounded = (capacity + 4095) & ~size_t{4095};
  if (rounded == 0) rounded = 4096;
  void* p = nullptr;
  if (rounded >= kMappedBytes) {
    p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) p = nullptr;
  } else {
    p = std::aligned_alloc(4096, rounded);
  }
  if (p == nullptr) throw std::bad_alloc();  // stays inside the module: nothing to recover
  b.p_ = static_cast<uint8_t*>(p);
  b.cap_ = rounded;
  return b;
}

void Buffer::Release() {
  if (p_ == nullptr) return;
  if (cap_ >= kMappedBytes) {
    ::munmap(p_, cap_);
  } else {
    std::free(p_);
  }
  p_ = nullptr;
  cap_ = 0;
}

Buffer BufferPool::Get(size_t size) {
  int c = ClassOf(size);
  if (c < 0) return Buffer::Alloc(size);
  {
    std::lock_guard lock(mu_);
    if (!free_[c].empty()) {
      Buffer b = std::move(free_[c].back());
      free_[c].pop_back();
      kept_bytes_ -= b.capacity();
      return b;
    }
  }
  return Buffer::Alloc(kMinClass << c);
}

void BufferPool::Put(Buffer b) {
  if (!b) return;
  int c = ClassOf(b.capacity());
  if (c < 0 || (kMinClass << c) != b.capacity()) return;  // odd size: just free it
  std::lock_guard lock(mu_);
  if (kept_bytes_ + b.capacity() > kMaxKeptBytes || free_[c].size() >= 64) return;
  kept_bytes_ += b.capacity();
  free_[c].push_back(std::move(b));
}

}  // namespace vbs::nbd
