// Many nodes and many servers on one store: storage work of a shared pool goes to a live node
// that declares the pool and moves off a node that died; a dead node's local pool answers
// NodeUnavailable; of several reconcilers only the leader sweeps, so no step runs twice.
#include <atomic>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/units.h"
#include "core/attachment_service.h"
#include "core/core_test_util.h"

namespace vbs {
namespace {

// A series' value in a registry's exposition; -1 when it is not there.
double Scraped(const MetricsRegistry& registry, const std::string& series) {
  std::istringstream in(registry.Render());
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

class ClusterTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();  // n1 with its local pool p1
    ASSERT_TRUE(work_->Hello("n2", {{"sh", "dir", true, 100ull << 20}}).ok());
    ASSERT_TRUE(work_->Hello("n3", {{"sh", "dir", true, 100ull << 20}}).ok());
    attachments_ = std::make_unique<AttachmentService>(*store_, notifier_);
  }
  void Kill(const std::string& node) { SetHeartbeat(node, 0); }
  void KeepUp(const std::string& node) { SetHeartbeat(node, NowMillis() + 3600 * 1000); }
  std::vector<OperationRecord> Ops(const std::string& resource) {
    std::vector<OperationRecord> ops;
    EXPECT_TRUE(store_
                    ->Transact([&](Transaction& tx) -> Status {
                      OperationFilter f;
                      f.resource_id = resource;
                      VBS_ASSIGN_OR_RETURN(ops, tx.ListOperations(f));
                      return Status::Ok();
                    })
                    .ok());
    return ops;
  }
  void ReportHost(const std::string& node) {
    ASSERT_TRUE(
        work_->ReportInstances(node, {InstanceRecord{"host-" + node, "", "host", "", 0, ""}}).ok());
    AllowOnNode(node);
  }
  VolumeRecord CreateIn(const std::string& pool) {
    CreateVolumeRequest req;
    req.size = kMiB;
    req.pool = pool;
    auto v = volumes_->Create(alice_, req);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : VolumeRecord{};
  }
  std::unique_ptr<AttachmentService> attachments_;
};

TEST_F(ClusterTest, SharedPoolWorkGoesToALiveDeclarer) {
  // Hello made n3 the pool's recorded node; with n3 down its work goes to n2.
  Kill("n3");
  VolumeRecord v = CreateIn("sh");
  auto ops = Ops(v.id);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].node, "n2");
  Kill("n2");  // nobody left who can reach the pool
  CreateVolumeRequest req;
  req.size = kMiB;
  req.pool = "sh";
  auto none = volumes_->Create(alice_, req);
  EXPECT_EQ(none.status().code(), "NodeUnavailable") << none.status().ToString();
}

TEST_F(ClusterTest, ADeadNodesLocalPoolAnswersNodeUnavailable) {
  VolumeRecord v = CreateIn("p1");
  RunAgent();
  ReportHost("n1");
  Kill("n1");
  CreateVolumeRequest req;
  req.size = kMiB;
  req.pool = "p1";
  auto create = volumes_->Create(alice_, req);
  EXPECT_EQ(create.status().code(), "NodeUnavailable") << create.status().ToString();
  EXPECT_NE(create.status().message().find("'n1'"), std::string::npos);
  auto del = volumes_->Delete(alice_, v.id);
  EXPECT_EQ(del.status().code(), "NodeUnavailable");
  auto att = attachments_->Attach(alice_, {v.id, "host-n1", "rw", std::nullopt, std::nullopt});
  EXPECT_EQ(att.status().code(), "NodeUnavailable");
  EXPECT_EQ(att.status().kind(), StatusKind::kUnavailable);
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "available");  // nothing changed
}

TEST_F(ClusterTest, SharedVolumeAttachesOnAnyDeclaringHost) {
  for (const char* node : {"n1", "n2", "n3"}) ReportHost(node);
  VolumeRecord v = CreateIn("sh");
  auto ops = Ops(v.id);
  ASSERT_TRUE(work_->Claim(ops[0].node, ops[0].id).ok());
  ASSERT_TRUE(work_->Complete(ops[0].node, ops[0].id, true, "").ok());
  auto on_n1 = attachments_->Attach(alice_, {v.id, "host-n1", "rw", std::nullopt, std::nullopt});
  EXPECT_EQ(on_n1.status().code(), "IncorrectState") << on_n1.status().ToString();
  Kill("n3");
  auto a = attachments_->Attach(alice_, {v.id, "host-n2", "rw", std::nullopt, std::nullopt});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->node, "n2");
  EXPECT_EQ(Ops(a->id).at(0).node, "n2");
}

TEST_F(ClusterTest, ReconcilerMovesPendingSharedWorkOffADeadNode) {
  VolumeRecord shared = CreateIn("sh");
  VolumeRecord local = CreateIn("p1");
  const std::string first = Ops(shared.id).at(0).node;
  const std::string other = first == "n2" ? "n3" : "n2";
  Kill(first);
  KeepUp(other);
  Kill("n1");
  Reconciler rec(*store_, notifier_, work_policy_, PlacementPolicy{/*node_timeout_ms=*/1},
                 ReconcilePolicy{});
  MetricsRegistry metrics;
  rec.ExportMetrics(metrics);
  // A reconciler moves nothing in its first node timeout (agents are still saying hello).
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(*rec.SweepOnce(), 1);  // the shared op moved; the local one waits for op_timeout
  EXPECT_EQ(Ops(shared.id).at(0).node, other);
  EXPECT_EQ(Ops(shared.id).at(0).state, "pending");
  EXPECT_EQ(Ops(local.id).at(0).node, "n1");
  EXPECT_EQ(*rec.SweepOnce(), 0);  // nothing moves twice
  EXPECT_EQ(Scraped(metrics, "vbs_operation_node_moves_total{kind=\"create_volume\"}"), 1);
  EXPECT_EQ(Scraped(metrics, "vbs_reconciler_leader"), 1);
  auto batch = work_->Poll(other, std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  EXPECT_FALSE(work_->Claim(first, batch->ops[0].id).ok());  // the dead node lost it
  ASSERT_TRUE(work_->Claim(other, batch->ops[0].id).ok());
  ASSERT_TRUE(work_->Complete(other, batch->ops[0].id, true, "").ok());
  EXPECT_EQ(volumes_->Get(alice_, shared.id)->state, "available");
}

// Two servers' reconcilers sweep the same store at once, over and over: one leads, and every
// expired lease is requeued exactly once (the sum of the moves is the number of ops).
TEST_F(ClusterTest, TwoReconcilersNeverTakeTheSameStep) {
  WorkPolicy shortlease{/*lease_ms=*/-1, /*max_attempts=*/5};
  WorkService work(*store_, notifier_, shortlease);
  constexpr int kOps = 20;
  for (int i = 0; i < kOps; ++i) CreateIn("p1");
  auto batch = work.Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), static_cast<size_t>(kOps));
  for (auto& op : batch->ops) ASSERT_TRUE(work.Claim("n1", op.id).ok());
  Reconciler a(*store_, notifier_, shortlease, {}, {}, "a");
  Reconciler b(*store_, notifier_, shortlease, {}, {}, "b");
  MetricsRegistry ma, mb;
  a.ExportMetrics(ma);
  b.ExportMetrics(mb);
  std::atomic<int> moved{0};
  auto sweep = [&](Reconciler& r) {
    for (int i = 0; i < 10; ++i) {
      auto n = r.SweepOnce();
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      moved += *n;
    }
  };
  std::thread ta(sweep, std::ref(a));
  std::thread tb(sweep, std::ref(b));
  ta.join();
  tb.join();
  EXPECT_EQ(moved.load(), kOps);
  EXPECT_NE(a.leading(), b.leading());
  // Each expiry is counted once, by the server that moved it.
  const std::string expired =
      "vbs_operation_lease_expirations_total{kind=\"create_volume\",outcome=\"requeued\"}";
  EXPECT_EQ(std::max(0.0, Scraped(ma, expired)) + std::max(0.0, Scraped(mb, expired)), kOps);
  EXPECT_EQ(Scraped(ma, "vbs_reconciler_leader") + Scraped(mb, "vbs_reconciler_leader"), 1);
  auto requeued = work.Poll("n1", std::chrono::milliseconds(0));
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->ops.size(), static_cast<size_t>(kOps));
  for (auto& op : requeued->ops) EXPECT_EQ(op.attempts, 1);
}

// A leader that stops sweeping (killed) hands over once its lease has run out.
TEST_F(ClusterTest, LeadershipPassesOnWhenTheLeaderStops) {
  ReconcilePolicy quick;
  quick.leader_lease_ms = 50;
  Reconciler a(*store_, notifier_, work_policy_, {}, quick, "a");
  Reconciler b(*store_, notifier_, work_policy_, {}, quick, "b");
  MetricsRegistry ma, mb;
  a.ExportMetrics(ma);
  b.ExportMetrics(mb);
  ASSERT_TRUE(a.SweepOnce().ok());
  ASSERT_TRUE(b.SweepOnce().ok());
  EXPECT_TRUE(a.leading());
  EXPECT_FALSE(b.leading());
  while (!b.leading()) {  // a sweeps no more; b takes over after the lease, however long
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(b.SweepOnce().ok());
  }
  ASSERT_TRUE(a.SweepOnce().ok());
  EXPECT_FALSE(a.leading());
  EXPECT_EQ(Scraped(ma, "vbs_reconciler_leadership_acquired_total"), 1);
  EXPECT_EQ(Scraped(mb, "vbs_reconciler_leadership_acquired_total"), 1);
  EXPECT_EQ(Scraped(ma, "vbs_reconciler_leader"), 0);
  EXPECT_EQ(Scraped(mb, "vbs_reconciler_leader"), 1);
}

}  // namespace
}  // namespace vbs
