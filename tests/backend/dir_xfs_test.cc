// DirBackend on a real XFS with reflink=1: snapshots and clones must be reflinks (FICLONE),
// sharing the source's blocks, and still byte-equal and independent copies.
//
// Run by dir_reflink_xfs.sh, which makes and mounts the file system and passes its directory
// in VBS_XFS_POOL_DIR. Without it the tests fail (never skip): a silent pass would hide that
// the reflink path went untested.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "backend/dir/dir_backend.h"
#include "common/units.h"

namespace vbs {
namespace {

constexpr long kXfsMagic = 0x58465342;  // "XFSB"

std::string PoolDir() {
  const char* d = std::getenv("VBS_XFS_POOL_DIR");
  return d == nullptr ? "" : d;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct FiemapSummary {
  uint64_t data_bytes = 0;    // bytes in mapped extents
  uint64_t shared_bytes = 0;  // of which flagged FIEMAP_EXTENT_SHARED
};

// Asks the file system (FS_IOC_FIEMAP) which extents of `path` share blocks with another file.
FiemapSummary Fiemap(const std::string& path) {
  FiemapSummary out;
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0) << path;
  constexpr unsigned kMax = 512;
  std::vector<char> buf(sizeof(struct fiemap) + kMax * sizeof(struct fiemap_extent));
  uint64_t start = 0;
  for (;;) {
    auto* fm = reinterpret_cast<struct fiemap*>(buf.data());
    std::fill(buf.begin(), buf.end(), 0);
    fm->fm_start = start;
    fm->fm_length = FIEMAP_MAX_OFFSET - start;
    fm->fm_flags = FIEMAP_FLAG_SYNC;
    fm->fm_extent_count = kMax;
    if (::ioctl(fd, FS_IOC_FIEMAP, fm) != 0) {
      ADD_FAILURE() << "FIEMAP " << path << ": " << std::strerror(errno);
      break;
    }
    if (fm->fm_mapped_extents == 0) break;
    bool last = false;
    for (unsigned i = 0; i < fm->fm_mapped_extents; ++i) {
      const auto& e = fm->fm_extents[i];
      out.data_bytes += e.fe_length;
      if (e.fe_flags & FIEMAP_EXTENT_SHARED) out.shared_bytes += e.fe_length;
      start = e.fe_logical + e.fe_length;
      last = last || (e.fe_flags & FIEMAP_EXTENT_LAST);
    }
    if (last) break;
  }
  ::close(fd);
  return out;
}

class DirXfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = PoolDir();
    ASSERT_FALSE(dir.empty()) << "VBS_XFS_POOL_DIR is not set: run tests/backend/"
                                 "dir_reflink_xfs.sh (ctest -L system), not this binary alone";
    struct statfs sfs;
    ASSERT_EQ(::statfs(dir.c_str(), &sfs), 0) << dir;
    ASSERT_EQ(static_cast<long>(sfs.f_type), kXfsMagic) << dir << " is not on XFS";
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    auto b = DirBackend::OpenPool(dir + "/" + name, false);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
  }

  void WriteAt(const std::string& vol, uint64_t offset, const std::string& data) {
    auto dev = backend_->Open(vol, false);
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    ASSERT_TRUE((*dev)->Write(data.data(), data.size(), offset, true).ok());
  }

  // Data at scattered offsets (aligned and not), with holes between.
  void Fill(const std::string& vol, uint64_t size) {
    for (uint64_t off : {uint64_t{0}, 3 * kMiB + 512, 9 * kMiB, 30 * kMiB + 4096, size - 4096}) {
      std::string data(256 * kKiB, '\0');
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((off + i * 7) % 251);
      if (off + data.size() > size) data.resize(size - off);
      WriteAt(vol, off, data);
    }
  }

  std::unique_ptr<DirBackend> backend_;
};

constexpr char kVol[] = "vol-00000000000000001";
constexpr char kClone[] = "vol-00000000000000002";
constexpr char kSnap[] = "snap-00000000000000001";

TEST_F(DirXfsTest, SnapshotAndCloneAreReflinks) {
  const uint64_t size = 64 * kMiB;
  ASSERT_TRUE(backend_->CreateVolume(kVol, size).ok());
  Fill(kVol, size);
  const std::string original = ReadFile(backend_->VolumePath(kVol));

  std::vector<int> seen;
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, [&](int p) { seen.push_back(p); }).ok());
  EXPECT_EQ(backend_->reflink_count(), 1u);
  EXPECT_EQ(backend_->copy_count(), 0u);
  EXPECT_EQ(seen, std::vector<int>{100});
  const std::string snap = backend_->SnapshotPath(kSnap);
  EXPECT_EQ(ReadFile(snap), original);
  FiemapSummary fm = Fiemap(snap);
  EXPECT_GT(fm.data_bytes, 0u);
  EXPECT_EQ(fm.shared_bytes, fm.data_bytes) << "every block of the snapshot is the volume's";

  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(kSnap, kClone, 2 * size, nullptr).ok());
  EXPECT_EQ(backend_->reflink_count(), 2u);
  EXPECT_EQ(backend_->copy_count(), 0u);
  EXPECT_EQ(*backend_->VolumeSize(kClone), 2 * size);
  const std::string clone = ReadFile(backend_->VolumePath(kClone));
  EXPECT_EQ(clone.substr(0, size), original);
  EXPECT_EQ(clone.find_first_not_of('\0', size), std::string::npos);
  fm = Fiemap(backend_->VolumePath(kClone));
  EXPECT_EQ(fm.shared_bytes, fm.data_bytes);

  // Copy-on-write: the three files are independent.
  WriteAt(kVol, 9 * kMiB, "volume after snapshot");
  WriteAt(kClone, 0, "clone writes");
  EXPECT_EQ(ReadFile(snap), original);
  EXPECT_EQ(ReadFile(backend_->VolumePath(kVol)).substr(9 * kMiB, 21), "volume after snapshot");
  EXPECT_EQ(ReadFile(backend_->VolumePath(kClone)).substr(0, 12), "clone writes");
  // The objects stay: dir_reflink_xfs.sh checks the snapshot's extents with filefrag too.
}

TEST_F(DirXfsTest, TebibyteSnapshotIsAReflink) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, kTiB).ok());
  WriteAt(kVol, kTiB / 2, "middle of a tebibyte");
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, nullptr).ok());
  EXPECT_EQ(backend_->reflink_count(), 1u);
  struct stat st;
  ASSERT_EQ(::stat(backend_->SnapshotPath(kSnap).c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kTiB);
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, kMiB);
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(kSnap, kClone, kTiB, nullptr).ok());
  auto dev = backend_->Open(kClone, true);
  ASSERT_TRUE(dev.ok());
  char buf[20];
  ASSERT_TRUE((*dev)->Read(buf, sizeof(buf), kTiB / 2).ok());
  EXPECT_EQ(std::string(buf, sizeof(buf)), "middle of a tebibyte");
  EXPECT_TRUE(backend_->DeleteVolume(kClone).ok());
  EXPECT_TRUE(backend_->DeleteSnapshot(kSnap).ok());
  EXPECT_TRUE(backend_->DeleteVolume(kVol).ok());
}

TEST_F(DirXfsTest, CopyPathStillWorksWithReflinkOff) {
  backend_->set_reflink_enabled(false);
  const uint64_t size = 40 * kMiB;
  ASSERT_TRUE(backend_->CreateVolume(kVol, size).ok());
  Fill(kVol, size);
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, nullptr).ok());
  EXPECT_EQ(backend_->copy_count(), 1u);
  EXPECT_EQ(backend_->reflink_count(), 0u);
  EXPECT_EQ(ReadFile(backend_->SnapshotPath(kSnap)), ReadFile(backend_->VolumePath(kVol)));
  struct stat st;
  ASSERT_EQ(::stat(backend_->SnapshotPath(kSnap).c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 8 * kMiB) << "holes were kept";
}

}  // namespace
}  // namespace vbs
