#include "nbd/buffer.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace vbs::nbd {
namespace {

// Whether the page at `p` is mapped: mincore fails with ENOMEM on unmapped memory.
bool Mapped(const void* p) {
  unsigned char v = 0;
  return ::mincore(const_cast<void*>(p), 4096, &v) == 0;
}

TEST(BufferTest, LargeBufferIsAMappingOfItsOwnThatFreeingUnmaps) {
  // Free a large malloc first: glibc then raises its mmap threshold, and a 1 MiB buffer from
  // malloc would stay mapped in the heap after being freed.
  void* bump = std::malloc(8 << 20);
  ASSERT_NE(bump, nullptr);
  std::memset(bump, 1, 8 << 20);
  asm volatile("" : : "r"(bump) : "memory");  // the compiler may not elide the pair
  std::free(bump);

  const uint8_t* addr = nullptr;
  {
    Buffer b = Buffer::Alloc(1 << 20);
    addr = b.data();
    ASSERT_NE(addr, nullptr);
    EXPECT_EQ(b.capacity(), size_t{1} << 20);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(addr) % 4096, 0u);
    std::memset(b.data(), 0xab, b.capacity());  // all of it is writable
    EXPECT_TRUE(Mapped(addr));
    EXPECT_TRUE(Mapped(addr + b.capacity() - 4096));
  }
  EXPECT_FALSE(Mapped(addr)) << "freeing the buffer left its memory mapped";
  EXPECT_FALSE(Mapped(addr + (1 << 20) - 4096));
}

TEST(BufferTest, SmallBufferIsPageAlignedAndRoundedToPages) {
  Buffer b = Buffer::Alloc(5000);
  ASSERT_TRUE(b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 4096, 0u);
  EXPECT_EQ(b.capacity(), 8192u);
}

TEST(BufferTest, MoveHandsOverTheMapping) {
  Buffer a = Buffer::Alloc(Buffer::kMappedBytes);
  const uint8_t* p = a.data();
  Buffer b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is the contract
  EXPECT_EQ(b.data(), p);
  b = Buffer::Alloc(4096);  // the mapping is released, not leaked
  EXPECT_FALSE(Mapped(p));
}

TEST(BufferPoolTest, RecyclesBuffersOfTheSameClass) {
  BufferPool pool;
  Buffer b = pool.Get(600 * 1024);  // class 1 MiB
  EXPECT_EQ(b.capacity(), size_t{1} << 20);
  const uint8_t* p = b.data();
  pool.Put(std::move(b));
  Buffer again = pool.Get(1 << 20);
  EXPECT_EQ(again.data(), p);
}

}  // namespace
}  // namespace vbs::nbd
