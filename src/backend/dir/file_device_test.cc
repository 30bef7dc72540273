#include "backend/dir/file_device.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vbs {
namespace {

class FileDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = "/tmp/vbs-file-device-test-XXXXXX";
    int fd = ::mkstemp(path_.data());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4 << 20), 0);
    ::close(fd);
    auto d = FileDevice::Open(path_, false);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dev_ = std::move(d).value();
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  std::string path_;
  std::unique_ptr<FileDevice> dev_;
};

TEST_F(FileDeviceTest, ReadWriteRoundTripAndFua) {
  EXPECT_EQ(dev_->size(), 4u << 20);
  std::string data(10000, 'k');
  ASSERT_TRUE(dev_->Write(data.data(), data.size(), 12345, /*fua=*/true).ok());
  std::string back(data.size(), '\0');
  ASSERT_TRUE(dev_->Read(back.data(), back.size(), 12345).ok());
  EXPECT_EQ(back, data);
  EXPECT_TRUE(dev_->Flush().ok());
  EXPECT_TRUE(dev_->coherent_across_opens());
  const DeviceCapabilities caps = dev_->capabilities();
  EXPECT_GE(caps.fd, 0);
  EXPECT_TRUE(caps.page_cache);
  EXPECT_FALSE(caps.memory_backed);  // /tmp is a disk file system here, not tmpfs
  EXPECT_EQ(caps.direct_align, 0u);
}

// Resident answers from the page cache: written data is, data dropped from it is not.
TEST_F(FileDeviceTest, ResidentFollowsThePageCache) {
  std::string data(1 << 20, 'r');
  ASSERT_TRUE(dev_->Write(data.data(), data.size(), 0, /*fua=*/true).ok());
  EXPECT_TRUE(dev_->Resident(data.size(), 0));
  EXPECT_TRUE(dev_->Resident(4096, 4095));  // unaligned: still the pages just written
  // Clean now (fdatasync above): the kernel drops the pages when asked.
  ASSERT_EQ(::posix_fadvise(dev_->capabilities().fd, 0, data.size(), POSIX_FADV_DONTNEED), 0);
  EXPECT_FALSE(dev_->Resident(data.size(), 0));
  EXPECT_FALSE(dev_->Resident(0, 0));
}

// direct_io: aligned I/O bypasses the page cache, unaligned I/O takes the buffered path, and
// both see each other's writes.
TEST_F(FileDeviceTest, DirectIoMixesAlignedAndUnaligned) {
  auto d = FileDevice::Open(path_, false, FileDeviceOptions{.direct_io = true});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto& dev = **d;
  EXPECT_EQ(dev.capabilities().direct_align, FileDevice::kDirectAlign);
  EXPECT_LT(dev.capabilities().fd, 0);  // nothing to splice or map from
  EXPECT_FALSE(dev.capabilities().page_cache);
  void* mem = nullptr;
  ASSERT_EQ(::posix_memalign(&mem, 4096, 1 << 20), 0);
  std::unique_ptr<char, decltype(&std::free)> aligned(static_cast<char*>(mem), &std::free);
  std::memset(aligned.get(), 'A', 1 << 20);
  ASSERT_TRUE(dev.Write(aligned.get(), 1 << 20, 1 << 20, /*fua=*/true).ok());
  // The aligned write did not go through the page cache.
  EXPECT_FALSE(dev.Resident(1 << 20, 1 << 20));
  EXPECT_FALSE(dev_->Resident(1 << 20, 1 << 20));
  std::string patch(1000, 'u');  // unaligned: buffered, in the middle of the direct data
  ASSERT_TRUE(dev.Write(patch.data(), patch.size(), (1 << 20) + 333, false).ok());
  std::memset(aligned.get(), 0, 1 << 20);
  ASSERT_TRUE(dev.Read(aligned.get(), 1 << 20, 1 << 20).ok());  // direct read sees it
  EXPECT_EQ(std::string(aligned.get() + 333, 1000), patch);
  EXPECT_EQ(aligned.get()[332], 'A');
  EXPECT_EQ(aligned.get()[1333], 'A');
  std::string back(4096, '\0');
  ASSERT_TRUE(dev_->Read(back.data(), back.size(), (1 << 20) + 4096).ok());
  EXPECT_EQ(back, std::string(4096, 'A'));  // another opener sees the direct write
}

// Direct I/O reads asynchronously (io_uring), aligned and unaligned, and both see data written
// through another opener.
TEST_F(FileDeviceTest, DirectIoReadsAsynchronously) {
  auto d = FileDevice::Open(path_, false, FileDeviceOptions{.direct_io = true});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto& dev = **d;
  ASSERT_TRUE(dev.capabilities().async_reads);
  std::string data(64 * 1024, 'z');
  ASSERT_TRUE(dev_->Write(data.data(), data.size(), 64 * 1024, /*fua=*/true).ok());
  void* mem = nullptr;
  ASSERT_EQ(::posix_memalign(&mem, 4096, 64 * 1024), 0);
  std::unique_ptr<char, decltype(&std::free)> aligned(static_cast<char*>(mem), &std::free);
  std::string unaligned(100, '\0');
  std::promise<Status> a, u;
  dev.ReadAsync(aligned.get(), 64 * 1024, 64 * 1024, [&](Status st) { a.set_value(st); });
  dev.ReadAsync(unaligned.data(), 100, 64 * 1024 + 7, [&](Status st) { u.set_value(st); });
  ASSERT_TRUE(a.get_future().get().ok());
  ASSERT_TRUE(u.get_future().get().ok());
  EXPECT_EQ(std::string(aligned.get(), 64 * 1024), data);
  EXPECT_EQ(unaligned, std::string(100, 'z'));
}

// tmpfs: memory-backed, which switches on the NBD server's in-place paths.
TEST(FileDeviceTmpfsTest, MemoryBackedOnTmpfs) {
  std::string path = "/dev/shm/vbs-file-device-test-XXXXXX";
  int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
  ::close(fd);
  auto d = FileDevice::Open(path, false);
  ::unlink(path.c_str());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE((*d)->capabilities().memory_backed);
  EXPECT_TRUE((*d)->capabilities().page_cache);
}

TEST_F(FileDeviceTest, ExtentsShowHolesAndData) {
  std::string data(65536, 'd');
  ASSERT_TRUE(dev_->Write(data.data(), data.size(), 1 << 20, false).ok());
  auto ex = dev_->Extents(4 << 20, 0);
  ASSERT_TRUE(ex.ok());
  ASSERT_EQ(ex->size(), 3u);
  EXPECT_EQ((*ex)[0], (Extent{0, 1 << 20, true}));
  EXPECT_EQ((*ex)[1], (Extent{1 << 20, 65536, false}));
  EXPECT_TRUE((*ex)[2].hole);
  EXPECT_EQ((*ex)[2].offset + (*ex)[2].length, 4u << 20);
}

TEST_F(FileDeviceTest, TrimAndZeroesReadAsZero) {
  std::string data(1 << 20, 'z');
  ASSERT_TRUE(dev_->Write(data.data(), data.size(), 0, false).ok());
  ASSERT_TRUE(dev_->Trim(65536, 0).ok());
  ASSERT_TRUE(dev_->WriteZeroes(65536, 65536, /*may_punch_hole=*/false).ok());
  ASSERT_TRUE(dev_->WriteZeroesFast(65536, 131072, true).ok());  // ext4/tmpfs can
  std::string back(196608, 'x');
  ASSERT_TRUE(dev_->Read(back.data(), back.size(), 0).ok());
  EXPECT_EQ(back, std::string(196608, '\0'));
  ASSERT_TRUE(dev_->Read(back.data(), 4096, 196608).ok());
  EXPECT_EQ(back.substr(0, 4096), std::string(4096, 'z'));
  auto ex = dev_->Extents(65536, 0);
  ASSERT_TRUE(ex.ok());
  EXPECT_TRUE((*ex)[0].hole);  // trim punched a hole
}

TEST_F(FileDeviceTest, ReadOnlyRefusesWrites) {
  auto ro = FileDevice::Open(path_, true);
  ASSERT_TRUE(ro.ok());
  EXPECT_TRUE((*ro)->read_only());
  char c = 'x';
  EXPECT_EQ((*ro)->Write(&c, 1, 0, false).kind(), StatusKind::kPermissionDenied);
  EXPECT_EQ((*ro)->Trim(4096, 0).kind(), StatusKind::kPermissionDenied);
  EXPECT_EQ((*ro)->WriteZeroes(4096, 0, true).kind(), StatusKind::kPermissionDenied);
}

TEST_F(FileDeviceTest, OpenRejectsMissingAndNonRegular) {
  EXPECT_FALSE(FileDevice::Open("/nonexistent/vbs", false).ok());
  EXPECT_FALSE(FileDevice::Open("/tmp", true).ok());
}

TEST_F(FileDeviceTest, ConcurrentWritersOnDisjointRanges) {
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&, t] {
      std::string d(4096, static_cast<char>('a' + t));
      for (int i = 0; i < 64; ++i) {
        EXPECT_TRUE(dev_->Write(d.data(), d.size(), (t * 64 + i) * 4096ull, false).ok());
      }
    });
  }
  for (auto& t : ts) t.join();
  std::string back(4096, '\0');
  for (int t = 0; t < 8; ++t) {
    ASSERT_TRUE(dev_->Read(back.data(), 4096, (t * 64 + 63) * 4096ull).ok());
    EXPECT_EQ(back, std::string(4096, static_cast<char>('a' + t)));
  }
}

}  // namespace
}  // namespace vbs
