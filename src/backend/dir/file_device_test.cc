#include "backend/dir/file_device.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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
  EXPECT_GE(dev_->fd(), 0);
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
