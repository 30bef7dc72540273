#include "core/volume_service.h"

#include <atomic>
#include <thread>

#include "common/units.h"
#include "core/core_test_util.h"
#include "core/states.h"

namespace vbs {
namespace {

using VolumeServiceTest = CoreTest;

TEST_F(VolumeServiceTest, CreateQueuesWorkAndCompletes) {
  VolumeRecord v = MustCreate(alice_, 10 * kMiB);
  EXPECT_EQ(v.state, "creating");
  EXPECT_EQ(v.pool, "p1");
  RunAgent();
  auto got = volumes_->Get(alice_, v.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, "available");
}

TEST_F(VolumeServiceTest, RejectsBadSizesWithoutChangingAnything) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1000}, kMiB + 1, 65 * kTiB}) {
    CreateVolumeRequest req;
    req.size = size;
    auto r = volumes_->Create(alice_, req);
    ASSERT_FALSE(r.ok()) << size;
    EXPECT_EQ(r.status().code(), "InvalidParameterValue");
  }
  CreateVolumeRequest none;
  EXPECT_EQ(volumes_->Create(alice_, none).status().code(), "MissingParameter");
  EXPECT_TRUE(volumes_->List(admin_, {})->empty());
}

TEST_F(VolumeServiceTest, CapacityIsCheckedAndReserved) {
  MustCreate(alice_, 60 * kMiB);
  CreateVolumeRequest req;
  req.size = 50 * kMiB;
  auto r = volumes_->Create(alice_, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "InsufficientVolumeCapacity");
  EXPECT_EQ(volumes_->List(alice_, {})->size(), 1u);
  req.size = 40 * kMiB;
  EXPECT_TRUE(volumes_->Create(alice_, req).ok());
}

TEST_F(VolumeServiceTest, ConcurrentCreatesNeverOverCommit) {
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        CreateVolumeRequest req;
        req.size = 7 * kMiB;
        auto r = volumes_->Create(alice_, req);
        if (r.ok()) {
          ok++;
        } else if (r.status().code() == "InsufficientVolumeCapacity") {
          refused++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 14);  // floor(100 / 7)
  EXPECT_EQ(refused.load(), 26);
}

TEST_F(VolumeServiceTest, OtherUsersSeeNotFound) {
  VolumeRecord v = MustCreate(alice_, kMiB);
  auto got = volumes_->Get(bob_, v.id);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), "InvalidVolume.NotFound");
  EXPECT_EQ(volumes_->Delete(bob_, v.id).status().code(), "InvalidVolume.NotFound");
  EXPECT_TRUE(volumes_->List(bob_, {})->empty());
  EXPECT_EQ(volumes_->List(admin_, {})->size(), 1u);
  EXPECT_TRUE(volumes_->Get(admin_, v.id).ok());
}

TEST_F(VolumeServiceTest, MalformedIdsAreRejected) {
  EXPECT_EQ(volumes_->Get(alice_, "vol-123").status().code(), "InvalidVolumeID.Malformed");
  EXPECT_EQ(volumes_->Get(alice_, "../etc/passwd").status().code(), "InvalidVolumeID.Malformed");
  EXPECT_EQ(volumes_->Get(alice_, "vol-0123456789abcdef0").status().code(),
            "InvalidVolume.NotFound");
}

TEST_F(VolumeServiceTest, DeleteLifecycleReleasesCapacity) {
  VolumeRecord v = MustCreate(alice_, 100 * kMiB);
  // Not yet available: refuse.
  EXPECT_EQ(volumes_->Delete(alice_, v.id).status().code(), "IncorrectState");
  RunAgent();
  auto d = volumes_->Delete(alice_, v.id);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, "deleting");
  RunAgent();
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "deleted");
  EXPECT_TRUE(volumes_->List(alice_, {})->empty());
  VolumeListFilter all;
  all.include_deleted = true;
  EXPECT_EQ(volumes_->List(alice_, all)->size(), 1u);
  MustCreate(alice_, 100 * kMiB);  // the capacity is free again
}

TEST_F(VolumeServiceTest, FailedCreateEndsInErrorAndCanBeDeleted) {
  VolumeRecord v = MustCreate(alice_, 100 * kMiB);
  RunAgent(false, "disk on fire");
  auto got = volumes_->Get(alice_, v.id);
  EXPECT_EQ(got->state, "error");
  EXPECT_NE(got->error->find("disk on fire"), std::string::npos);
  ASSERT_TRUE(volumes_->Delete(alice_, v.id).ok());
  RunAgent();
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "deleted");
  MustCreate(alice_, 100 * kMiB);
}

TEST_F(VolumeServiceTest, ClientTokenMakesOneVolume) {
  CreateVolumeRequest req;
  req.size = kMiB;
  req.client_token = "tok-1";
  auto a = volumes_->Create(alice_, req);
  auto b = volumes_->Create(alice_, req);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->id, b->id);
  req.size = 2 * kMiB;
  EXPECT_EQ(volumes_->Create(alice_, req).status().code(), "IdempotentParameterMismatch");
  req.size = kMiB;
  auto c = volumes_->Create(bob_, req);  // tokens are per user
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->id, a->id);
}

TEST_F(VolumeServiceTest, TagsAreValidatedAndFiltered) {
  CreateVolumeRequest req;
  req.size = kMiB;
  req.tags = {{"Name", "db"}};
  ASSERT_TRUE(volumes_->Create(alice_, req).ok());
  req.tags = {{"Name", "web"}};
  ASSERT_TRUE(volumes_->Create(alice_, req).ok());
  VolumeListFilter f;
  f.tag = std::make_pair("Name", "db");
  EXPECT_EQ(volumes_->List(alice_, f)->size(), 1u);
  req.tags = {{"vbs:internal", "x"}};
  EXPECT_EQ(volumes_->Create(alice_, req).status().code(), "InvalidParameterValue");
  req.tags = {{"", "x"}};
  EXPECT_FALSE(volumes_->Create(alice_, req).ok());
}

TEST_F(VolumeServiceTest, AdminForceStateEndsStuckVolume) {
  VolumeRecord v = MustCreate(alice_, 100 * kMiB);
  EXPECT_EQ(volumes_->ForceState(alice_, v.id, "error").status().code(), "UnauthorizedOperation");
  auto f = volumes_->ForceState(admin_, v.id, "deleted");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->state, "deleted");
  // The queued create was cancelled and the capacity released.
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  EXPECT_TRUE(batch->ops.empty());
  MustCreate(alice_, 100 * kMiB);
}

}  // namespace
}  // namespace vbs
