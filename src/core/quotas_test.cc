// Quotas: defaults and a user's own limits, checked inside the creating transaction (also
// when several stores — several servers — race on one database).
#include "core/quotas.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/admin_service.h"
#include "core/core_test_util.h"
#include "store/sqlite/sqlite_connection.h"

namespace vbs {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class QuotasTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    defaults_ = QuotaLimits{3, 1, 2};
    volumes_ = std::make_unique<VolumeService>(*store_, notifier_, PlacementPolicy{}, VolumeTypes(),
                                               defaults_);
    snapshots_ =
        std::make_unique<SnapshotService>(*store_, notifier_, PlacementPolicy{}, defaults_);
    admin_service_ = std::make_unique<AdminService>(*store_, PlacementPolicy{}, defaults_);
    ASSERT_TRUE(admin_service_->RecordUser("alice", false).ok());
  }
  Result<VolumeRecord> Create(uint64_t size) {
    CreateVolumeRequest req;
    req.size = size;
    return volumes_->Create(alice_, req);
  }
  QuotaLimits defaults_;
  std::unique_ptr<AdminService> admin_service_;
};

TEST_F(QuotasTest, TheDefaultsHoldAndTheErrorNamesLimitAndUsage) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Create(kMiB).ok());
  auto fourth = Create(kMiB);
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.status().code(), "VolumeLimitExceeded");
  EXPECT_EQ(fourth.status().kind(), StatusKind::kInvalidArgument);
  EXPECT_NE(fourth.status().message().find("has 3 of 3 volumes"), std::string::npos)
      << fourth.status().message();
  EXPECT_TRUE(MustCreate(bob_, kMiB).id.size() > 0) << "another user has a quota of their own";
  auto view = admin_service_->ShowQuota(alice_, "alice");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->usage.volumes, 3);
  EXPECT_EQ(*view->limits.volumes, 3);
}

TEST_F(QuotasTest, GigabytesBoundCreatesAndResizes) {
  auto v = Create(64 * kMiB);
  ASSERT_TRUE(v.ok());
  RunAgent();  // available
  auto grow = volumes_->Resize(alice_, v->id, 2ull << 30);
  ASSERT_FALSE(grow.ok());
  EXPECT_EQ(grow.status().code(), "VolumeLimitExceeded");
  EXPECT_NE(grow.status().message().find("1 GiB"), std::string::npos) << grow.status().message();
  EXPECT_EQ(volumes_->Get(alice_, v->id)->size, 64 * kMiB) << "the refused resize changed nothing";
  ASSERT_TRUE(admin_service_->SetQuota(admin_, "alice", QuotaLimits{{}, 0, {}}, {}).ok());
  EXPECT_EQ(Create(kMiB).status().code(), "VolumeLimitExceeded");
}

TEST_F(QuotasTest, SnapshotsHaveTheirOwnLimit) {
  auto v = Create(kMiB);
  ASSERT_TRUE(v.ok());
  RunAgent();
  CreateSnapshotRequest req;
  req.volume_id = v->id;
  ASSERT_TRUE(snapshots_->Create(alice_, req).ok());
  ASSERT_TRUE(snapshots_->Create(alice_, req).ok());
  auto third = snapshots_->Create(alice_, req);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), "SnapshotLimitExceeded");
  EXPECT_NE(third.status().message().find("has 2 of 2 snapshots"), std::string::npos);
}

TEST_F(QuotasTest, AnAdminOverridesAndResetsAUsersLimits) {
  EXPECT_EQ(admin_service_->SetQuota(alice_, "alice", QuotaLimits{10, {}, {}}, {}).status().code(),
            "UnauthorizedOperation");
  auto set = admin_service_->SetQuota(admin_, "alice", QuotaLimits{5, {}, {}}, {});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(*set->limits.volumes, 5);
  EXPECT_EQ(*set->limits.snapshots, 2) << "untouched limits keep the default";
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Create(kMiB).ok());
  EXPECT_EQ(Create(kMiB).status().code(), "VolumeLimitExceeded");
  auto reset = admin_service_->SetQuota(admin_, "alice", {}, {"volumes"});
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ(*reset->limits.volumes, 3);
  EXPECT_EQ(admin_service_->SetQuota(admin_, "alice", QuotaLimits{-1, {}, {}}, {}).status().code(),
            "InvalidParameterValue");
  EXPECT_EQ(admin_service_->SetQuota(admin_, "alice", {}, {"disks"}).status().code(),
            "InvalidParameterValue");
  EXPECT_EQ(admin_service_->ShowQuota(bob_, "alice").status().code(), "InvalidUser.NotFound");
}

TEST_F(QuotasTest, ConcurrentCreatesOnSeveralStoresNeverOvershoot) {
  ASSERT_TRUE(admin_service_->SetQuota(admin_, "alice", QuotaLimits{5, 100, {}}, {}).ok());
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&] {
      auto store = OpenSqliteStore(dir_ + "/meta.db");  // a server of its own
      if (!store.ok()) {
        ++other;
        return;
      }
      RevisionNotifier notifier;
      VolumeService volumes(**store, notifier, PlacementPolicy{}, VolumeTypes(), defaults_);
      CreateVolumeRequest req;
      req.size = kMiB;
      auto v = volumes.Create(alice_, req);
      if (v.ok()) {
        ++created;
      } else if (v.status().code() == "VolumeLimitExceeded") {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 5);
  EXPECT_EQ(refused.load(), 15);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(volumes_->List(alice_, {})->size(), 5u);
}

}  // namespace
}  // namespace vbs
