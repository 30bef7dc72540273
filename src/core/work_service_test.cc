#include "core/work_service.h"

#include <atomic>
#include <thread>

#include "common/units.h"
#include "core/core_test_util.h"

namespace vbs {
namespace {

using WorkServiceTest = CoreTest;

TEST_F(WorkServiceTest, ExactlyOneClaimWins) {
  MustCreate(alice_, kMiB);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  std::atomic<int> wins{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      if (work_->Claim("n1", batch->ops[0].id).ok()) wins++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST_F(WorkServiceTest, OtherNodesCannotTouchOurOps) {
  ASSERT_TRUE(work_->Hello("n2", {}).ok());
  MustCreate(alice_, kMiB);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  const std::string op = batch->ops[0].id;
  EXPECT_TRUE(work_->Poll("n2", std::chrono::milliseconds(0))->ops.empty());
  EXPECT_EQ(work_->Claim("n2", op).status().kind(), StatusKind::kNotFound);
  ASSERT_TRUE(work_->Claim("n1", op).ok());
  EXPECT_EQ(work_->Complete("n2", op, true, "").kind(), StatusKind::kNotFound);
}

TEST_F(WorkServiceTest, LongPollWakesOnNewWork) {
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    MustCreate(alice_, kMiB);
  });
  auto start = std::chrono::steady_clock::now();
  auto batch = work_->Poll("n1", std::chrono::seconds(10));
  later.join();
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->ops.size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(WorkServiceTest, HelloRequeuesWhatWasRunning) {
  VolumeRecord v = MustCreate(alice_, kMiB);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_TRUE(work_->Claim("n1", batch->ops[0].id).ok());
  EXPECT_TRUE(work_->Poll("n1", std::chrono::milliseconds(0))->ops.empty());
  // The agent crashed and came back.
  ASSERT_TRUE(work_->Hello("n1", {{"p1", "dir", false, 100ull << 20}}).ok());
  RunAgent();
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "available");
}

TEST_F(WorkServiceTest, RepeatedCompleteIsHarmless) {
  VolumeRecord v = MustCreate(alice_, kMiB);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  const std::string op = batch->ops[0].id;
  ASSERT_TRUE(work_->Claim("n1", op).ok());
  ASSERT_TRUE(work_->Complete("n1", op, true, "").ok());
  EXPECT_TRUE(work_->Complete("n1", op, false, "late duplicate").ok());
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "available");
}

TEST_F(WorkServiceTest, RetryableFailureIsRequeuedUntilAttemptsRunOut) {
  VolumeRecord v = MustCreate(alice_, kMiB);
  for (int i = 0; i < 3; ++i) RunAgent(false, "retry: busy");
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "error");
}

TEST_F(WorkServiceTest, ReconcilerRequeuesExpiredLeasesThenFails) {
  WorkPolicy shortlease{/*lease_ms=*/-1, /*max_attempts=*/2};  // every lease is already over
  WorkService work(*store_, notifier_, shortlease);
  Reconciler rec(*store_, notifier_, shortlease, {}, {});
  VolumeRecord v = MustCreate(alice_, kMiB);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto batch = work.Poll("n1", std::chrono::milliseconds(0));
    ASSERT_EQ(batch->ops.size(), 1u) << attempt;
    ASSERT_TRUE(work.Claim("n1", batch->ops[0].id).ok());
    EXPECT_EQ(*rec.SweepOnce(), 1);
  }
  auto got = volumes_->Get(alice_, v.id);
  EXPECT_EQ(got->state, "error");
  EXPECT_NE(got->error->find("stopped reporting"), std::string::npos);
  EXPECT_TRUE(work.Poll("n1", std::chrono::milliseconds(0))->ops.empty());
}

TEST_F(WorkServiceTest, ReconcilerFailsWorkOfADeadNode) {
  PlacementPolicy quick{/*node_timeout_ms=*/-1};  // every node counts as down
  Reconciler rec(*store_, notifier_, work_policy_, quick, {/*op_timeout_ms=*/-1, 1000});
  VolumeRecord v = MustCreate(alice_, kMiB);
  EXPECT_EQ(*rec.SweepOnce(), 1);
  auto got = volumes_->Get(alice_, v.id);
  EXPECT_EQ(got->state, "error");
  EXPECT_NE(got->error->find("node 'n1' is down"), std::string::npos);
}

// After an outage, work requeued from an expired lease gets a full op_timeout again, even
// though it was created long ago and its node still counts as down.
TEST_F(WorkServiceTest, RequeuedWorkIsNotFailedInTheSameSweep) {
  WorkPolicy shortlease{/*lease_ms=*/-1, /*max_attempts=*/5};
  WorkService work(*store_, notifier_, shortlease);
  PlacementPolicy node_down{/*node_timeout_ms=*/-1};
  Reconciler rec(*store_, notifier_, shortlease, node_down, {/*op_timeout_ms=*/60000, 1000});
  VolumeRecord v = MustCreate(alice_, kMiB);
  auto batch = work.Poll("n1", std::chrono::milliseconds(0));
  ASSERT_TRUE(work.Claim("n1", batch->ops[0].id).ok());
  EXPECT_EQ(*rec.SweepOnce(), 1);  // requeued, not failed
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "creating");
  EXPECT_EQ(work.Poll("n1", std::chrono::milliseconds(0))->ops.size(), 1u);
}

TEST_F(WorkServiceTest, InventoryListsThePoolsObjects) {
  VolumeRecord v = MustCreate(alice_, kMiB);
  auto inv = work_->Inventory("n1", "p1");
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->volumes.at(v.id), "creating");
  EXPECT_FALSE(work_->Inventory("n1", "nope").ok());
}

}  // namespace
}  // namespace vbs
