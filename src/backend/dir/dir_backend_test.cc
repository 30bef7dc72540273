// Unit tests of DirBackend on the machine's temp file system (ext4 here: the copy path). The
// reflink path is covered on a real XFS by tests/backend/dir_reflink_xfs.sh.
#include "backend/dir/dir_backend.h"
#include "backend/dir/file_device.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/units.h"

namespace vbs {
namespace {

namespace fs = std::filesystem;

constexpr char kVol[] = "vol-0123456789abcdef0";
constexpr char kVol2[] = "vol-0123456789abcdef1";
constexpr char kSnap[] = "snap-0123456789abcdef0";

class DirBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vbs-dir-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto b = DirBackend::OpenPool(dir_ + "/pool", /*shared=*/false);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
    // These tests exercise the copy path even where the temp FS could reflink.
    backend_->set_reflink_enabled(false);
  }
  void TearDown() override {
    backend_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Writes `data` at `offset` of a volume through the BlockDevice the data path would use.
  void WriteAt(const std::string& vol, uint64_t offset, const std::string& data) {
    auto dev = backend_->Open(vol, false);
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    ASSERT_TRUE((*dev)->Write(data.data(), data.size(), offset, true).ok());
  }

  // A volume of `size` with data at scattered, block-aligned offsets and holes between.
  void MakePatternedVolume(const std::string& vol, uint64_t size) {
    ASSERT_TRUE(backend_->CreateVolume(vol, size).ok());
    for (uint64_t off : {uint64_t{0}, 5 * kMiB + 4096, 17 * kMiB, 33 * kMiB, size - 8192}) {
      std::string data(64 * kKiB, '\0');
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((off / 4096 + i) * 31);
      if (off + data.size() > size) data.resize(size - off);
      WriteAt(vol, off, data);
    }
    // 3 MiB of dense data, so the copy has several chunks to report progress over.
    std::string big(3 * kMiB, 'x');
    WriteAt(vol, 40 * kMiB, big);
  }

  std::string dir_;
  std::unique_ptr<DirBackend> backend_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// Data ranges of a file per SEEK_DATA/SEEK_HOLE, as [start, end) pairs.
std::vector<std::pair<uint64_t, uint64_t>> DataRanges(const std::string& path) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  off_t pos = 0;
  for (;;) {
    off_t data = ::lseek(fd, pos, SEEK_DATA);
    if (data < 0) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    out.emplace_back(data, hole);
    pos = hole;
  }
  ::close(fd);
  return out;
}

TEST_F(DirBackendTest, OpenPoolMakesLayout) {
  EXPECT_TRUE(fs::is_directory(dir_ + "/pool/volumes"));
  EXPECT_TRUE(fs::is_directory(dir_ + "/pool/snapshots"));
  EXPECT_EQ(backend_->type(), "dir");
  EXPECT_FALSE(backend_->shared());
  auto again = DirBackend::OpenPool(dir_ + "/pool/", true);  // existing pool, trailing slash
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->shared());
  EXPECT_EQ((*again)->root(), dir_ + "/pool");
  std::ofstream(dir_ + "/file") << "x";
  EXPECT_FALSE(DirBackend::OpenPool(dir_ + "/file", false).ok());
  EXPECT_FALSE(DirBackend::OpenPool("", false).ok());
}

TEST_F(DirBackendTest, CreateVolumeIsIdempotent) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, 16 * kMiB).ok());
  EXPECT_TRUE(fs::exists(dir_ + "/pool/volumes/" + kVol + ".img"));
  EXPECT_EQ(backend_->VolumePath(kVol), dir_ + "/pool/volumes/" + kVol + ".img");
  auto size = backend_->VolumeSize(kVol);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 16 * kMiB);
  struct stat st;
  ASSERT_EQ(::stat(backend_->VolumePath(kVol).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // user data: owner only

  EXPECT_TRUE(backend_->CreateVolume(kVol, 16 * kMiB).ok());
  Status other = backend_->CreateVolume(kVol, 32 * kMiB);
  EXPECT_EQ(other.kind(), StatusKind::kConflict);
  EXPECT_EQ(other.code(), "IncorrectState");
  EXPECT_EQ(*backend_->VolumeSize(kVol), 16 * kMiB);
  EXPECT_EQ(backend_->CreateVolume(kVol2, 0).kind(), StatusKind::kInvalidArgument);
}

TEST_F(DirBackendTest, TebibyteVolumeIsSparse) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, kTiB).ok());
  struct stat st;
  ASSERT_EQ(::stat(backend_->VolumePath(kVol).c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kTiB);
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, 64 * kKiB);
  EXPECT_TRUE(DataRanges(backend_->VolumePath(kVol)).empty());
}

TEST_F(DirBackendTest, DeleteIsIdempotent) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, kMiB).ok());
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, nullptr).ok());
  EXPECT_TRUE(backend_->DeleteVolume(kVol).ok());
  EXPECT_FALSE(fs::exists(backend_->VolumePath(kVol)));
  EXPECT_TRUE(backend_->DeleteVolume(kVol).ok());
  EXPECT_EQ(backend_->VolumeSize(kVol).status().code(), "InvalidVolume.NotFound");
  // A snapshot outlives its volume.
  EXPECT_TRUE(fs::exists(backend_->SnapshotPath(kSnap)));
  EXPECT_TRUE(backend_->DeleteSnapshot(kSnap).ok());
  EXPECT_FALSE(fs::exists(backend_->SnapshotPath(kSnap)));
  EXPECT_TRUE(backend_->DeleteSnapshot(kSnap).ok());
}

TEST_F(DirBackendTest, Resize) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, 4 * kMiB).ok());
  WriteAt(kVol, 0, "hello");
  EXPECT_TRUE(backend_->ResizeVolume(kVol, 8 * kMiB).ok());
  EXPECT_EQ(*backend_->VolumeSize(kVol), 8 * kMiB);
  EXPECT_TRUE(backend_->ResizeVolume(kVol, 8 * kMiB).ok());  // re-run
  EXPECT_EQ(backend_->ResizeVolume(kVol, 4 * kMiB).kind(), StatusKind::kInvalidArgument);
  EXPECT_EQ(*backend_->VolumeSize(kVol), 8 * kMiB);
  EXPECT_EQ(ReadFile(backend_->VolumePath(kVol)).substr(0, 5), "hello");
  EXPECT_EQ(backend_->ResizeVolume(kVol2, 8 * kMiB).kind(), StatusKind::kNotFound);
}

TEST_F(DirBackendTest, BadIdsAreRejected) {
  for (std::string bad : {"", "../../etc/passwd", "vol-../../../etc", "vol-0123456789ABCDEF0",
                          "vol-0123456789abcdef0/../x", "snap-0123456789abcdef0", "vol-1"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(backend_->CreateVolume(bad, kMiB).code(), "InvalidVolumeID.Malformed");
    EXPECT_EQ(backend_->DeleteVolume(bad).code(), "InvalidVolumeID.Malformed");
    EXPECT_EQ(backend_->ResizeVolume(bad, kMiB).code(), "InvalidVolumeID.Malformed");
    EXPECT_EQ(backend_->VolumeSize(bad).status().code(), "InvalidVolumeID.Malformed");
    EXPECT_EQ(backend_->Open(bad, true).status().code(), "InvalidVolumeID.Malformed");
    EXPECT_EQ(backend_->CreateSnapshot(bad, kSnap, nullptr).code(), "InvalidVolumeID.Malformed");
    EXPECT_EQ(backend_->CreateVolumeFromSnapshot(kSnap, bad, kMiB, nullptr).code(),
              "InvalidVolumeID.Malformed");
    EXPECT_EQ(backend_->RemovePartial(bad).kind(), StatusKind::kInvalidArgument);
  }
  for (std::string bad : {"", "snap-../../x", "vol-0123456789abcdef0", "snap-xyz"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(backend_->CreateSnapshot(kVol, bad, nullptr).code(), "InvalidSnapshotID.Malformed");
    EXPECT_EQ(backend_->DeleteSnapshot(bad).code(), "InvalidSnapshotID.Malformed");
    EXPECT_EQ(backend_->CreateVolumeFromSnapshot(bad, kVol, kMiB, nullptr).code(),
              "InvalidSnapshotID.Malformed");
  }
  for (std::string bad : {"../volumes/" + std::string(kVol) + ".img.partial",
                          std::string("../../etc/passwd.img.partial"), std::string(".img.partial"),
                          std::string("vol-1.img.partial"), std::string("i-0123.img.partial")}) {
    EXPECT_EQ(backend_->RemovePartial(bad).kind(), StatusKind::kInvalidArgument) << bad;
  }
  EXPECT_EQ(backend_->RemovePartial(std::string(kVol) + ".img").kind(),
            StatusKind::kInvalidArgument);
}

TEST_F(DirBackendTest, SnapshotAndCloneCopyBytesAndHoles) {
  const uint64_t size = 48 * kMiB;
  MakePatternedVolume(kVol, size);
  const std::string vol_path = backend_->VolumePath(kVol);
  const std::string original = ReadFile(vol_path);
  ASSERT_GE(DataRanges(vol_path).size(), 5u);  // the source really has holes between its data
  ASSERT_LT(AllocatedBytes(vol_path), 8 * kMiB);

  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, nullptr).ok());
  EXPECT_EQ(backend_->copy_count(), 1u);
  EXPECT_EQ(backend_->reflink_count(), 0u);
  const std::string snap_path = backend_->SnapshotPath(kSnap);
  EXPECT_EQ(ReadFile(snap_path), original);
  // Only allocated data was copied: the same data ranges, no more blocks.
  EXPECT_EQ(DataRanges(snap_path), DataRanges(vol_path));
  EXPECT_LE(AllocatedBytes(snap_path), AllocatedBytes(vol_path));

  // Point in time: later writes to the volume do not reach the snapshot.
  WriteAt(kVol, 7 * kMiB, "after the snapshot");
  EXPECT_EQ(ReadFile(snap_path), original);

  // A clone of the same size, and one grown past the snapshot.
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(kSnap, kVol2, size, nullptr).ok());
  EXPECT_EQ(ReadFile(backend_->VolumePath(kVol2)), original);
  EXPECT_EQ(DataRanges(backend_->VolumePath(kVol2)), DataRanges(snap_path));
  const std::string vol3 = "vol-0123456789abcdef3";
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(kSnap, vol3, 2 * size, nullptr).ok());
  EXPECT_EQ(*backend_->VolumeSize(vol3), 2 * size);
  const std::string grown = ReadFile(backend_->VolumePath(vol3));
  EXPECT_EQ(grown.substr(0, size), original);
  EXPECT_EQ(grown.find_first_not_of('\0', size), std::string::npos);
  EXPECT_EQ(DataRanges(backend_->VolumePath(vol3)), DataRanges(snap_path));
  EXPECT_EQ(backend_->copy_count(), 3u);

  // The clone is an independent volume.
  WriteAt(kVol2, 0, "clone");
  EXPECT_EQ(ReadFile(snap_path), original);
}

TEST_F(DirBackendTest, ReadWriteFallbackCopiesBytesAndKeepsHoles) {
  backend_->set_copy_range_enabled(false);
  const uint64_t size = 48 * kMiB;
  MakePatternedVolume(kVol, size);
  // A block of zeroes inside allocated data: the fallback leaves it a hole.
  WriteAt(kVol, 41 * kMiB, std::string(64 * kKiB, '\0'));
  const std::string vol_path = backend_->VolumePath(kVol);
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, nullptr).ok());
  const std::string snap_path = backend_->SnapshotPath(kSnap);
  EXPECT_EQ(ReadFile(snap_path), ReadFile(vol_path));
  EXPECT_LT(AllocatedBytes(snap_path), AllocatedBytes(vol_path));
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(kSnap, kVol2, 2 * size, nullptr).ok());
  EXPECT_EQ(ReadFile(backend_->VolumePath(kVol2)).substr(0, size), ReadFile(vol_path));
  EXPECT_EQ(DataRanges(backend_->VolumePath(kVol2)), DataRanges(snap_path));
}

TEST_F(DirBackendTest, ConcurrentSnapshotsOfOneIdMakeOne) {
  MakePatternedVolume(kVol, 48 * kMiB);
  const std::string original = ReadFile(backend_->VolumePath(kVol));
  std::vector<Status> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) {
    threads.emplace_back([&] { r = backend_->CreateSnapshot(kVol, kSnap, nullptr); });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  for (const Status& r : results) {
    if (r.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(r.kind(), StatusKind::kUnavailable) << r.ToString();
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_EQ(ReadFile(backend_->SnapshotPath(kSnap)), original);
  EXPECT_TRUE(backend_->List()->partials.empty());
}

TEST_F(DirBackendTest, SnapshotAndCloneEdgeCases) {
  EXPECT_EQ(backend_->CreateSnapshot(kVol, kSnap, nullptr).code(), "InvalidVolume.NotFound");
  EXPECT_FALSE(fs::exists(backend_->SnapshotPath(kSnap) + ".partial"));
  EXPECT_EQ(backend_->CreateVolumeFromSnapshot(kSnap, kVol2, kMiB, nullptr).code(),
            "InvalidSnapshot.NotFound");

  ASSERT_TRUE(backend_->CreateVolume(kVol, 2 * kMiB).ok());  // all holes
  std::vector<int> seen;
  auto record = [&](int p) { seen.push_back(p); };
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, record).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 100);
  EXPECT_TRUE(DataRanges(backend_->SnapshotPath(kSnap)).empty());

  // Existing snapshot: OK, reports completion, does not copy again.
  seen.clear();
  EXPECT_TRUE(backend_->CreateSnapshot(kVol, kSnap, record).ok());
  EXPECT_EQ(seen, std::vector<int>{100});
  EXPECT_EQ(backend_->copy_count(), 1u);

  EXPECT_EQ(backend_->CreateVolumeFromSnapshot(kSnap, kVol2, kMiB, nullptr).kind(),
            StatusKind::kInvalidArgument);
  EXPECT_FALSE(fs::exists(backend_->VolumePath(kVol2)));
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(kSnap, kVol2, 4 * kMiB, nullptr).ok());
  EXPECT_TRUE(backend_->CreateVolumeFromSnapshot(kSnap, kVol2, 4 * kMiB, nullptr).ok());
  EXPECT_EQ(backend_->CreateVolumeFromSnapshot(kSnap, kVol2, 8 * kMiB, nullptr).code(),
            "IncorrectState");
  EXPECT_EQ(backend_->copy_count(), 2u);
}

TEST_F(DirBackendTest, ProgressIsMonotonicAndReaches100) {
  MakePatternedVolume(kVol, 48 * kMiB);
  backend_->set_progress_interval(std::chrono::milliseconds(0));
  std::vector<int> seen;
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, [&](int p) { seen.push_back(p); }).ok());
  ASSERT_GE(seen.size(), 3u);  // 0, something in between (several copy chunks), 100
  EXPECT_EQ(seen.front(), 0);
  EXPECT_EQ(seen.back(), 100);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]) << i;

  seen.clear();
  ASSERT_TRUE(
      backend_->CreateVolumeFromSnapshot(kSnap, kVol2, 64 * kMiB, [&](int p) { seen.push_back(p); })
          .ok());
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front(), 0);
  EXPECT_EQ(seen.back(), 100);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]) << i;
}

TEST_F(DirBackendTest, PartialsAreListedAndRemoved) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, kMiB).ok());
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, nullptr).ok());
  const std::string vp = backend_->VolumePath(kVol2) + ".partial";
  const std::string sp = dir_ + "/pool/snapshots/snap-0123456789abcdef9.img.partial";
  std::ofstream(vp) << "half";
  std::ofstream(sp) << "half";
  std::ofstream(dir_ + "/pool/volumes/README") << "not ours";
  std::ofstream(dir_ + "/pool/volumes/vol-zz.img.partial") << "not ours either";

  auto list = backend_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->volumes, std::vector<std::string>{kVol});
  EXPECT_EQ(list->snapshots, std::vector<std::string>{kSnap});
  EXPECT_EQ(list->partials, (std::vector<std::string>{"snap-0123456789abcdef9.img.partial",
                                                      std::string(kVol2) + ".img.partial"}));
  for (const std::string& p : list->partials) EXPECT_TRUE(backend_->RemovePartial(p).ok()) << p;
  EXPECT_FALSE(fs::exists(vp));
  EXPECT_FALSE(fs::exists(sp));
  EXPECT_TRUE(backend_->List()->partials.empty());
  EXPECT_TRUE(fs::exists(dir_ + "/pool/volumes/README"));
  EXPECT_TRUE(backend_->RemovePartial(std::string(kVol2) + ".img.partial").ok());  // gone: OK

  // Deleting an object also removes its leftover half.
  std::ofstream(vp) << "half";
  EXPECT_TRUE(backend_->DeleteVolume(kVol2).ok());
  EXPECT_FALSE(fs::exists(vp));
}

TEST_F(DirBackendTest, LeftoverPartialIsRebuilt) {
  MakePatternedVolume(kVol, 48 * kMiB);
  const std::string original = ReadFile(backend_->VolumePath(kVol));
  // A crash mid-copy left garbage, larger than the real object, under the temp name.
  const std::string partial = backend_->SnapshotPath(kSnap) + ".partial";
  {
    std::ofstream out(partial, std::ios::binary);
    out << std::string(100 * kMiB / 1024, 'G');
    out.seekp(60 * kMiB);
    out << "garbage at the end";
  }
  std::vector<int> seen;
  ASSERT_TRUE(backend_->CreateSnapshot(kVol, kSnap, [&](int p) { seen.push_back(p); }).ok());
  EXPECT_EQ(ReadFile(backend_->SnapshotPath(kSnap)), original);
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_EQ(seen.back(), 100);

  std::ofstream(backend_->VolumePath(kVol2) + ".partial") << "half a volume";
  ASSERT_TRUE(backend_->CreateVolume(kVol2, 2 * kMiB).ok());
  EXPECT_EQ(*backend_->VolumeSize(kVol2), 2 * kMiB);
  EXPECT_TRUE(DataRanges(backend_->VolumePath(kVol2)).empty());
  EXPECT_TRUE(backend_->List()->partials.empty());
}

TEST_F(DirBackendTest, PartialInProgressIsNotTouched) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, kMiB).ok());
  // Another run (here: this test) holds the lock on the snapshot's temp file.
  const std::string partial = backend_->SnapshotPath(kSnap) + ".partial";
  int fd = ::open(partial.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  EXPECT_EQ(backend_->CreateSnapshot(kVol, kSnap, nullptr).kind(), StatusKind::kUnavailable);
  EXPECT_EQ(backend_->RemovePartial(std::string(kSnap) + ".img.partial").kind(),
            StatusKind::kUnavailable);
  EXPECT_EQ(backend_->DeleteSnapshot(kSnap).kind(), StatusKind::kUnavailable);
  EXPECT_TRUE(fs::exists(partial));
  ::close(fd);  // the other run died: its leftover is fair game now
  EXPECT_TRUE(backend_->CreateSnapshot(kVol, kSnap, nullptr).ok());
  EXPECT_FALSE(fs::exists(partial));
}

TEST_F(DirBackendTest, OpenGivesTheVolume) {
  EXPECT_EQ(backend_->Open(kVol, false).status().code(), "InvalidVolume.NotFound");
  ASSERT_TRUE(backend_->CreateVolume(kVol, 4 * kMiB).ok());
  auto rw = backend_->Open(kVol, false);
  ASSERT_TRUE(rw.ok());
  EXPECT_EQ((*rw)->size(), 4 * kMiB);
  ASSERT_TRUE((*rw)->Write("abc", 3, kMiB, false).ok());
  auto ro = backend_->Open(kVol, true);
  ASSERT_TRUE(ro.ok());
  EXPECT_TRUE((*ro)->read_only());
  char buf[3];
  ASSERT_TRUE((*ro)->Read(buf, 3, kMiB).ok());
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_FALSE((*ro)->Write("x", 1, 0, false).ok());
}

TEST_F(DirBackendTest, DirectIoPoolOpensVolumesWithoutPageCache) {
  ASSERT_TRUE(backend_->CreateVolume(kVol, 4 * kMiB).ok());
  auto buffered = backend_->Open(kVol, false);
  ASSERT_TRUE(buffered.ok());
  EXPECT_EQ((*buffered)->capabilities().direct_align, 0u);
  ASSERT_TRUE(backend_->EnableDirectIo().ok());
  EXPECT_TRUE(backend_->direct_io());
  auto direct = backend_->Open(kVol, false);
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ((*direct)->capabilities().direct_align, FileDevice::kDirectAlign);
  EXPECT_FALSE((*direct)->capabilities().page_cache);
  ASSERT_TRUE((*direct)->Write("abc", 3, kMiB, true).ok());  // unaligned: buffered path
  char buf[3];
  ASSERT_TRUE((*buffered)->Read(buf, 3, kMiB).ok());
  EXPECT_EQ(std::string(buf, 3), "abc");
  // The probe file is gone again.
  EXPECT_NE(::access((dir_ + "/pool/.direct-io-probe").c_str(), F_OK), 0);
}

TEST_F(DirBackendTest, Stats) {
  auto s = backend_->Stats();
  ASSERT_TRUE(s.ok());
  EXPECT_GT(s->total_bytes, 0u);
  EXPECT_LE(s->free_bytes, s->total_bytes);
}

}  // namespace
}  // namespace vbs
