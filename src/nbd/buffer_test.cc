#include "nbd/buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace vbs::nbd {
namespace {

// The [start, end) of the mapping in /proc/self/maps that begins exactly at `p`, or {0, 0}.
std::pair<uintptr_t, uintptr_t> MappingAt(const void* p) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    uintptr_t start = 0, end = 0;
    char dash = 0;
    in >> std::hex >> start >> dash >> end;
    if (start == reinterpret_cast<uintptr_t>(p)) return {start, end};
  }
  return {0, 0};
}

TEST(BufferTest, LargeBufferIsAMappingOfItsOwnThatFreeingUnmaps) {
  const void* addr = nullptr;
  {
    Buffer b = Buffer::Alloc(1 << 20);
    addr = b.data();
    ASSERT_NE(addr, nullptr);
    EXPECT_EQ(b.capacity(), size_t{1} << 20);
    auto [start, end] = MappingAt(addr);
    ASSERT_NE(start, 0u) << "no mapping starts at the buffer";
    EXPECT_GE(end - start, size_t{1} << 20);
    std::memset(b.data(), 0xab, b.capacity());  // all of it is writable
  }
  EXPECT_EQ(MappingAt(addr).first, 0u) << "the buffer's mapping outlived it";
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
  EXPECT_EQ(MappingAt(p).first, 0u);
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
