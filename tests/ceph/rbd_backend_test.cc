// RbdBackend and RbdDevice against a real Ceph cluster (tests/ceph/rbd_backend.sh starts one
// with micro-ceph.sh and passes CEPH_CONF / CEPH_POOL). Each test uses its own volume ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "backend/rbd/rbd_backend.h"
#include "common/ids.h"
#include "common/units.h"

namespace vbs {
namespace {

RbdPoolOptions PoolFromEnv() {
  RbdPoolOptions o;
  const char* conf = std::getenv("CEPH_CONF");
  const char* pool = std::getenv("CEPH_POOL");
  o.ceph_conf = conf ? conf : "";
  o.pool = pool ? pool : "rbd";
  o.client_name = "client.admin";
  return o;
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + i / 4096) & 0xff);
  return s;
}

class RbdBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(std::getenv("CEPH_CONF"), nullptr) << "run through tests/ceph/rbd_backend.sh";
    auto b = RbdBackend::OpenPool(PoolFromEnv());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
    auto raw = RadosPool::Connect(PoolFromEnv());
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    raw_ = *raw;
  }

  std::unique_ptr<BlockDevice> OpenDev(const std::string& vol, bool ro = false) {
    auto d = backend_->Open(vol, ro);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  void Write(const std::string& vol, uint64_t off, const std::string& data) {
    auto d = OpenDev(vol);
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->Write(data.data(), data.size(), off, true).ok());
  }
  std::string Read(const std::string& vol, uint64_t off, size_t len) {
    auto d = OpenDev(vol, true);
    std::string out(len, '\x55');
    if (d) {
      EXPECT_TRUE(d->Read(out.data(), len, off).ok());
    }
    return out;
  }
  std::vector<std::string> RawImages() {
    auto names = ListImages(raw_->io());
    EXPECT_TRUE(names.ok());
    return names.ok() ? *names : std::vector<std::string>{};
  }
  static bool Has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }

  std::unique_ptr<RbdBackend> backend_;
  std::shared_ptr<RadosPool> raw_;
};

TEST_F(RbdBackendTest, CreateIsThinIdempotentAndChecked) {
  const std::string vol = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 1 * kTiB).ok());  // thin: instant at any size
  EXPECT_TRUE(backend_->CreateVolume(vol, 1 * kTiB).ok());  // a re-run
  Status other = backend_->CreateVolume(vol, 2 * kTiB);
  EXPECT_EQ(other.code(), "IncorrectState");
  EXPECT_EQ(*backend_->VolumeSize(vol), 1 * kTiB);
  EXPECT_EQ(backend_->CreateVolume("vol-bad", kMiB).code(), "InvalidVolumeID.Malformed");
  EXPECT_EQ(backend_->CreateVolume(NewId("vol"), 0).code(), "InvalidParameterValue");
  EXPECT_EQ(backend_->VolumeSize(NewId("vol")).status().code(), "InvalidVolume.NotFound");
  auto list = backend_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(Has(list->volumes, vol));
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
  EXPECT_TRUE(backend_->DeleteVolume(vol).ok());  // gone: still OK
  EXPECT_FALSE(Has(RawImages(), vol));
}

TEST_F(RbdBackendTest, ResizeOnlyGrows) {
  const std::string vol = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 64 * kMiB).ok());
  ASSERT_TRUE(backend_->ResizeVolume(vol, 128 * kMiB).ok());
  EXPECT_TRUE(backend_->ResizeVolume(vol, 128 * kMiB).ok());
  EXPECT_EQ(backend_->ResizeVolume(vol, 32 * kMiB).code(), "InvalidParameterValue");
  EXPECT_EQ(*backend_->VolumeSize(vol), 128 * kMiB);
  EXPECT_EQ(backend_->ResizeVolume(NewId("vol"), kGiB).code(), "InvalidVolume.NotFound");
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
}

TEST_F(RbdBackendTest, DeviceReadWriteTrimZeroesExtents) {
  const std::string vol = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 64 * kMiB).ok());
  auto d = OpenDev(vol);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size(), 64 * kMiB);
  auto ex = d->Extents(64 * kMiB, 0);
  ASSERT_TRUE(ex.ok());
  ASSERT_EQ(ex->size(), 1u);
  EXPECT_TRUE((*ex)[0].hole);

  const std::string a = Pattern(1 * kMiB, 1);
  ASSERT_TRUE(d->Write(a.data(), a.size(), 8 * kMiB, false).ok());
  ASSERT_TRUE(d->Flush().ok());
  std::string back(a.size(), '\0');
  ASSERT_TRUE(d->Read(back.data(), back.size(), 8 * kMiB).ok());
  EXPECT_EQ(back, a);
  ex = d->Extents(64 * kMiB, 0);
  ASSERT_TRUE(ex.ok());
  bool data_seen = false;
  uint64_t pos = 0;
  for (const Extent& e : *ex) {
    EXPECT_EQ(e.offset, pos);
    pos += e.length;
    if (!e.hole) {
      data_seen = true;
      EXPECT_LE(e.offset, 8 * kMiB);
      EXPECT_GE(e.offset + e.length, 9 * kMiB);
    }
  }
  EXPECT_EQ(pos, 64 * kMiB);
  EXPECT_TRUE(data_seen);
  EXPECT_TRUE((*ex)[0].hole);  // nothing written before 8 MiB

  ASSERT_TRUE(d->Trim(256 * kKiB, 8 * kMiB).ok());
  ASSERT_TRUE(d->WriteZeroes(256 * kKiB, 8 * kMiB + 256 * kKiB, false).ok());
  ASSERT_TRUE(d->WriteZeroes(4096, 8 * kMiB + 512 * kKiB, true).ok());
  ASSERT_TRUE(d->Read(back.data(), back.size(), 8 * kMiB).ok());
  std::string expect = a;
  std::fill(expect.begin(), expect.begin() + 512 * kKiB + 4096, '\0');
  EXPECT_EQ(back, expect);

  auto ro = OpenDev(vol, true);
  ASSERT_TRUE(ro);
  EXPECT_TRUE(ro->read_only());
  EXPECT_EQ(ro->Write(a.data(), 4096, 0, false).kind(), StatusKind::kPermissionDenied);
  d.reset();
  ro.reset();
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
}

TEST_F(RbdBackendTest, ManyThreadsOnOneDevice) {
  const std::string vol = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 64 * kMiB).ok());
  auto d = OpenDev(vol);
  ASSERT_TRUE(d);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 32; ++i) {
        const uint64_t off = (static_cast<uint64_t>(t) * 32 + i) * 64 * kKiB;
        std::string data = Pattern(64 * kKiB, t * 100 + i);
        if (!d->Write(data.data(), data.size(), off, i % 8 == 0).ok()) ++failures;
        std::string back(data.size(), '\0');
        if (!d->Read(back.data(), back.size(), off).ok() || back != data) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  d.reset();
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
}

TEST_F(RbdBackendTest, SnapshotCloneAndDeleteInAnyOrder) {
  const std::string vol = NewId("vol"), snap = NewId("snap"), clone = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 32 * kMiB).ok());
  const std::string before = Pattern(2 * kMiB, 3), after = Pattern(2 * kMiB, 4);
  Write(vol, 4 * kMiB, before);
  std::vector<int> progress;
  ASSERT_TRUE(backend_->CreateSnapshot(vol, snap, [&](int p) { progress.push_back(p); }).ok());
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 100);
  EXPECT_TRUE(backend_->CreateSnapshot(vol, snap, nullptr).ok());  // a re-run
  Write(vol, 4 * kMiB, after);

  EXPECT_EQ(backend_->CreateVolumeFromSnapshot(snap, clone, 16 * kMiB, nullptr).code(),
            "InvalidParameterValue");
  EXPECT_EQ(backend_->CreateVolumeFromSnapshot(NewId("snap"), clone, 32 * kMiB, nullptr).code(),
            "InvalidSnapshot.NotFound");
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(snap, clone, 48 * kMiB, nullptr).ok());
  EXPECT_TRUE(backend_->CreateVolumeFromSnapshot(snap, clone, 48 * kMiB, nullptr).ok());
  EXPECT_EQ(*backend_->VolumeSize(clone), 48 * kMiB);
  EXPECT_EQ(Read(clone, 4 * kMiB, before.size()), before);
  EXPECT_EQ(Read(clone, 40 * kMiB, 4096), std::string(4096, '\0'));
  EXPECT_EQ(Read(vol, 4 * kMiB, after.size()), after);
  const std::string mine = Pattern(4096, 9);
  Write(clone, 4 * kMiB, mine);
  EXPECT_EQ(Read(vol, 4 * kMiB, after.size()), after);  // copy-on-write: the source is untouched

  auto list = backend_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(Has(list->snapshots, snap));
  EXPECT_TRUE(Has(list->volumes, clone));

  // The source volume goes first: its image stays hidden while the snapshot lives.
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
  EXPECT_TRUE(backend_->DeleteVolume(vol).ok());
  list = backend_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(Has(list->volumes, vol));
  EXPECT_TRUE(Has(list->snapshots, snap));
  EXPECT_TRUE(Has(RawImages(), vol + ".deleted"));
  const std::string clone2 = NewId("vol");  // still clonable
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(snap, clone2, 32 * kMiB, nullptr).ok());
  EXPECT_EQ(Read(clone2, 4 * kMiB, before.size()), before);
  ASSERT_TRUE(backend_->DeleteVolume(clone2).ok());

  // Then the snapshot: its clone is flattened in the background, then everything goes.
  const uint64_t flattened = backend_->flattened_count();
  ASSERT_TRUE(backend_->DeleteSnapshot(snap).ok());
  list = backend_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(Has(list->snapshots, snap));
  EXPECT_EQ(backend_->CreateVolumeFromSnapshot(snap, NewId("vol"), 32 * kMiB, nullptr).code(),
            "InvalidSnapshot.NotFound");
  backend_->WaitIdle();
  EXPECT_EQ(backend_->flattened_count(), flattened + 1);
  EXPECT_FALSE(Has(RawImages(), vol + ".deleted"));
  EXPECT_EQ(Read(clone, 4 * kMiB, 4096), mine);
  EXPECT_EQ(Read(clone, 4 * kMiB + 4096, before.size() - 4096), before.substr(4096));
  EXPECT_TRUE(backend_->DeleteSnapshot(snap).ok());  // a re-run
  ASSERT_TRUE(backend_->DeleteVolume(clone).ok());
}

TEST_F(RbdBackendTest, SnapshotWithoutClonesIsRemovedAtOnce) {
  const std::string vol = NewId("vol"), snap = NewId("snap"), clone = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 16 * kMiB).ok());
  ASSERT_TRUE(backend_->CreateSnapshot(vol, snap, nullptr).ok());
  // A clone deleted before its snapshot needs no flattening.
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(snap, clone, 16 * kMiB, nullptr).ok());
  ASSERT_TRUE(backend_->DeleteVolume(clone).ok());
  const uint64_t flattened = backend_->flattened_count();
  ASSERT_TRUE(backend_->DeleteSnapshot(snap).ok());
  backend_->WaitIdle();
  EXPECT_EQ(backend_->flattened_count(), flattened);
  auto image = RbdImage::OpenIfExists(raw_->io(), vol, true);
  ASSERT_TRUE(image.ok() && *image);
  EXPECT_TRUE(image->Snapshots()->empty());
  image->Close();
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
  EXPECT_FALSE(Has(RawImages(), vol));
  EXPECT_FALSE(Has(RawImages(), vol + ".deleted"));
}

TEST_F(RbdBackendTest, HalfMadeObjectsAreListedAndRemoved) {
  const std::string vol = NewId("vol"), snap = NewId("snap");
  ASSERT_TRUE(backend_->CreateVolume(vol, 16 * kMiB).ok());
  // What a crash leaves: an image and a snapshot under their .partial names.
  const std::string partial_vol = NewId("vol") + ".partial";
  int order = 0;
  ASSERT_EQ(rbd_create(raw_->io(), partial_vol.c_str(), 16 * kMiB, &order), 0);
  {
    auto image = RbdImage::OpenIfExists(raw_->io(), vol, false);
    ASSERT_TRUE(image.ok() && *image);
    ASSERT_EQ(rbd_snap_create(image->get(), (snap + ".partial").c_str()), 0);
    ASSERT_EQ(rbd_snap_protect(image->get(), (snap + ".partial").c_str()), 0);
  }
  auto list = backend_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(Has(list->partials, partial_vol));
  EXPECT_TRUE(Has(list->partials, vol + "@" + snap + ".partial"));
  EXPECT_FALSE(Has(list->volumes, partial_vol.substr(0, partial_vol.size() - 8)));
  EXPECT_FALSE(Has(list->snapshots, snap));
  for (const auto& p : list->partials) {
    if (p == partial_vol || p == vol + "@" + snap + ".partial") {
      EXPECT_TRUE(backend_->RemovePartial(p).ok()) << p;
    }
  }
  EXPECT_EQ(backend_->RemovePartial("etc-passwd").code(), "InvalidParameterValue");
  list = backend_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(Has(list->partials, partial_vol));
  EXPECT_FALSE(Has(list->partials, vol + "@" + snap + ".partial"));
  // A create over a leftover of the same id starts over.
  const std::string vol2 = NewId("vol");
  ASSERT_EQ(rbd_create(raw_->io(), (vol2 + ".partial").c_str(), 8 * kMiB, &order), 0);
  ASSERT_TRUE(backend_->CreateVolume(vol2, 32 * kMiB).ok());
  EXPECT_EQ(*backend_->VolumeSize(vol2), 32 * kMiB);
  EXPECT_FALSE(Has(RawImages(), vol2 + ".partial"));
  ASSERT_TRUE(backend_->DeleteVolume(vol2).ok());
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
}

TEST_F(RbdBackendTest, InterruptedFlattenIsFinishedByTheNextBackend) {
  const std::string vol = NewId("vol"), snap = NewId("snap"), clone = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 16 * kMiB).ok());
  const std::string data = Pattern(1 * kMiB, 5);
  Write(vol, 0, data);
  ASSERT_TRUE(backend_->CreateSnapshot(vol, snap, nullptr).ok());
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(snap, clone, 16 * kMiB, nullptr).ok());
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
  // What a crash right after DeleteSnapshot's rename leaves behind.
  {
    auto image = RbdImage::OpenIfExists(raw_->io(), vol + ".deleted", false);
    ASSERT_TRUE(image.ok() && *image);
    ASSERT_EQ(rbd_snap_rename(image->get(), snap.c_str(), (snap + ".deleting").c_str()), 0);
  }
  backend_.reset();
  auto b = RbdBackend::OpenPool(PoolFromEnv());
  ASSERT_TRUE(b.ok());
  (*b)->WaitIdle();
  EXPECT_EQ((*b)->flattened_count(), 1u);
  EXPECT_FALSE(Has(RawImages(), vol + ".deleted"));
  backend_ = std::move(b).value();
  EXPECT_EQ(Read(clone, 0, data.size()), data);
  ASSERT_TRUE(backend_->DeleteVolume(clone).ok());
}

TEST_F(RbdBackendTest, DeletingTheLastCloneFinishesADeletedSnapshot) {
  const std::string vol = NewId("vol"), snap = NewId("snap"), clone = NewId("vol");
  ASSERT_TRUE(backend_->CreateVolume(vol, 16 * kMiB).ok());
  ASSERT_TRUE(backend_->CreateSnapshot(vol, snap, nullptr).ok());
  ASSERT_TRUE(backend_->CreateVolumeFromSnapshot(snap, clone, 16 * kMiB, nullptr).ok());
  backend_->WaitIdle();
  // A snapshot hidden for deletion whose flatten has not started (as after a crash, found
  // by nobody yet): deleting its only clone is enough, nothing needs flattening.
  {
    auto image = RbdImage::OpenIfExists(raw_->io(), vol, false);
    ASSERT_TRUE(image.ok() && *image);
    ASSERT_EQ(rbd_snap_rename(image->get(), snap.c_str(), (snap + ".deleting").c_str()), 0);
  }
  const uint64_t flattened = backend_->flattened_count();
  ASSERT_TRUE(backend_->DeleteVolume(clone).ok());
  backend_->WaitIdle();
  EXPECT_EQ(backend_->flattened_count(), flattened);
  auto image = RbdImage::OpenIfExists(raw_->io(), vol, true);
  ASSERT_TRUE(image.ok() && *image);
  EXPECT_TRUE(image->Snapshots()->empty());
  image->Close();
  ASSERT_TRUE(backend_->DeleteVolume(vol).ok());
}

TEST_F(RbdBackendTest, StatsComeFromThePool) {
  auto s = backend_->Stats();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GT(s->total_bytes, 0u);
  EXPECT_GT(s->free_bytes, 0u);
  EXPECT_LE(s->free_bytes, s->total_bytes);
  EXPECT_EQ(backend_->type(), "rbd");
  EXPECT_TRUE(backend_->shared());
}

TEST(RbdBackendOpen, BadPoolIsAClearError) {
  RbdPoolOptions o = PoolFromEnv();
  o.pool = "no-such-pool";
  auto b = RbdBackend::OpenPool(o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("no-such-pool"), std::string::npos);
}

}  // namespace
}  // namespace vbs
