// Node leases (design.md §4, scheduler.h): a heartbeat renews the lease of the node's current
// registration only, never after it lapsed; liveness is the heartbeat's alone (work calls
// neither make nor keep a node up, so a busy or queued agent is judged by its heartbeats);
// the attachments of a node that is down end by themselves and the node must say hello again.
#include <thread>

#include "common/clock.h"
#include "common/units.h"
#include "core/attachment_service.h"
#include "core/core_test_util.h"

namespace vbs {
namespace {

class NodeLeaseTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    auto a = work_->Hello("n2", {{"sh", "dir", true, 100ull << 20}});
    auto b = work_->Hello("n3", {{"sh", "dir", true, 100ull << 20}});
    ASSERT_TRUE(a.ok() && b.ok());
    n2_epoch_ = a->epoch;
    attachments_ = std::make_unique<AttachmentService>(*store_, notifier_);
  }
  NodeRecord Node(const std::string& name) {
    NodeRecord out;
    EXPECT_TRUE(store_
                    ->Transact([&](Transaction& tx) -> Status {
                      VBS_ASSIGN_OR_RETURN(auto n, tx.GetNode(name));
                      if (n) out = *n;
                      return Status::Ok();
                    })
                    .ok());
    return out;
  }
  // An attachment of a new shared-pool volume to host-<node>, attached (agent steps done).
  AttachmentRecord AttachedOn(const std::string& node) {
    for (const char* n : {"n2", "n3"}) {
      EXPECT_TRUE(work_
                      ->ReportInstances(
                          n, {InstanceRecord{std::string("host-") + n, "", "host", "", 0, ""}})
                      .ok());
      AllowOnNode(n);
    }
    CreateVolumeRequest req;
    req.size = kMiB;
    req.pool = "sh";
    auto v = volumes_->Create(alice_, req);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    RunNode(v->id);
    auto a =
        attachments_->Attach(alice_, {v->id, "host-" + node, "rw", std::nullopt, std::nullopt});
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    RunNode(a->id);
    auto live = attachments_->List(alice_, v->id);
    EXPECT_EQ(live->size(), 1u);
    return live->at(0);
  }
  // Claims and completes the pending ops of `resource` on the nodes they were queued for.
  void RunNode(const std::string& resource) {
    std::vector<OperationRecord> ops;
    ASSERT_TRUE(store_
                    ->Transact([&](Transaction& tx) -> Status {
                      OperationFilter f;
                      f.resource_id = resource;
                      f.state = "pending";
                      VBS_ASSIGN_OR_RETURN(ops, tx.ListOperations(f));
                      return Status::Ok();
                    })
                    .ok());
    for (auto& op : ops) {
      ASSERT_TRUE(work_->Claim(op.node, op.id).ok());
      ASSERT_TRUE(work_->Complete(op.node, op.id, true, "", R"({"export_name":"vbs-x"})").ok());
    }
  }
  int64_t n2_epoch_ = 0;
  std::unique_ptr<AttachmentService> attachments_;
};

TEST_F(NodeLeaseTest, HelloGrantsALeaseShorterThanTheNodeTimeout) {
  auto lease = work_->Hello("n4", {});
  ASSERT_TRUE(lease.ok());
  const PlacementPolicy policy;  // the service's: 30 s
  EXPECT_EQ(lease->lease_ms, policy.lease_ms());
  EXPECT_LT(lease->lease_ms, policy.node_timeout_ms);  // the margin
  EXPECT_GT(lease->renew_interval_ms, 0);
  EXPECT_LE(lease->renew_interval_ms * 3, lease->lease_ms);  // several tries per lease
}

TEST_F(NodeLeaseTest, AHeartbeatRenewsTheCurrentRegistration) {
  SetHeartbeat("n2", NowMillis() - 5000);
  const int64_t before = NowMillis();
  auto lease = work_->Heartbeat("n2", n2_epoch_);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->epoch, n2_epoch_);
  EXPECT_GE(Node("n2").last_heartbeat, before);
}

TEST_F(NodeLeaseTest, ARenewalOfAnEarlierRegistrationIsRefused) {
  auto again = work_->Hello("n2", {{"sh", "dir", true, 100ull << 20}});
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->epoch, n2_epoch_ + 1);
  SetHeartbeat("n2", 1000);
  auto stale = work_->Heartbeat("n2", n2_epoch_);
  EXPECT_EQ(stale.status().code(), "LeaseExpired") << stale.status().ToString();
  EXPECT_EQ(Node("n2").last_heartbeat, 1000);  // nothing changed
}

TEST_F(NodeLeaseTest, ARenewalAfterTheLeaseLapsedIsRefused) {
  SetHeartbeat("n2", NowMillis() - 31000);  // past the 30 s node timeout
  const int64_t stamp = Node("n2").last_heartbeat;
  auto late = work_->Heartbeat("n2", n2_epoch_);
  EXPECT_EQ(late.status().code(), "LeaseExpired");
  EXPECT_EQ(late.status().kind(), StatusKind::kConflict);
  EXPECT_EQ(Node("n2").last_heartbeat, stamp);  // the node stays down until it says hello
  ASSERT_TRUE(work_->Hello("n2", {{"sh", "dir", true, 100ull << 20}}).ok());
  EXPECT_GT(Node("n2").last_heartbeat, stamp);
}

TEST_F(NodeLeaseTest, BadRenewalsAreRefusedWithSpecificCodes) {
  EXPECT_EQ(work_->Heartbeat("nobody", 1).status().code(), "UnknownNode");
  EXPECT_EQ(work_->Heartbeat("n2", 0).status().code(), "InvalidParameterValue");
  EXPECT_EQ(work_->Heartbeat("n2", -3).status().code(), "InvalidParameterValue");
  EXPECT_EQ(work_->Heartbeat("bad name!", 1).status().code(), "InvalidParameterValue");
}

// Claims, progress reports, completions and polls neither make a node up nor keep it up:
// liveness is the heartbeat's alone, which runs on its own thread and connection.
TEST_F(NodeLeaseTest, WorkCallsDoNotTouchLiveness) {
  CreateVolumeRequest req;
  req.size = kMiB;
  req.pool = "p1";
  auto v = volumes_->Create(alice_, req);
  ASSERT_TRUE(v.ok());
  SetHeartbeat("n1", 1234);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  ASSERT_TRUE(work_->Claim("n1", batch->ops[0].id).ok());
  ASSERT_TRUE(work_->Progress("n1", batch->ops[0].id, 50).ok());
  ASSERT_TRUE(work_->Complete("n1", batch->ops[0].id, true, "").ok());
  EXPECT_EQ(Node("n1").last_heartbeat, 1234);
}

TEST_F(NodeLeaseTest, ADeadNodesAttachmentsEndAndTheVolumeMoves) {
  AttachmentRecord a = AttachedOn("n2");
  ASSERT_EQ(a.state, "attached");
  SetHeartbeat("n2", 1000);  // silent for ages
  SetHeartbeat("n3", NowMillis() + 3600 * 1000);
  Reconciler rec(*store_, notifier_, work_policy_, PlacementPolicy{/*node_timeout_ms=*/1000},
                 ReconcilePolicy{});
  EXPECT_EQ(*rec.SweepOnce(), 0);  // not in its first node timeout: agents say hello first
  EXPECT_EQ(attachments_->List(alice_, a.volume_id)->size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_GE(*rec.SweepOnce(), 1);
  EXPECT_TRUE(attachments_->List(alice_, a.volume_id)->empty());
  EXPECT_EQ(volumes_->Get(alice_, a.volume_id)->state, "available");
  // The reason is on the ended attachment.
  std::optional<AttachmentRecord> ended;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) -> Status {
                    VBS_ASSIGN_OR_RETURN(ended, tx.GetAttachment(a.id));
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->state, "detached");
  EXPECT_NE(ended->error.value_or("").find("lost its lease"), std::string::npos);
  // The node's registration ended too: a renewal on its way is refused.
  EXPECT_EQ(Node("n2").epoch, n2_epoch_ + 1);
  EXPECT_EQ(work_->Heartbeat("n2", n2_epoch_).status().code(), "LeaseExpired");
  // No admin needed: the volume attaches rw on another node of the pool.
  auto moved =
      attachments_->Attach(alice_, {a.volume_id, "host-n3", "rw", std::nullopt, std::nullopt});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->node, "n3");
  EXPECT_EQ(*rec.SweepOnce(), 0);  // nothing ends twice
}

TEST_F(NodeLeaseTest, ALiveNodesAttachmentsStay) {
  AttachmentRecord a = AttachedOn("n2");
  Reconciler rec(*store_, notifier_, work_policy_, PlacementPolicy{/*node_timeout_ms=*/1000},
                 ReconcilePolicy{});
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(work_->Heartbeat("n2", n2_epoch_).ok());
    ASSERT_TRUE(rec.SweepOnce().ok());
  }
  auto live = attachments_->List(alice_, a.volume_id);
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ(live->at(0).state, "attached");
}

// Where the storage can refuse a node itself (Ceph RBD: a client address to blocklist), a
// dead node's volume moves only after a live node of the pool has fenced that client; the
// node lifts the fence of its old client when it comes back.
TEST_F(NodeLeaseTest, ACephVolumeMovesOnlyOnceTheDeadNodesClientIsFenced) {
  PoolAnnouncement rbd2{"ceph", "rbd", true, 100ull << 20, "127.0.0.1:0/222"};
  PoolAnnouncement rbd3{"ceph", "rbd", true, 100ull << 20, "127.0.0.1:0/333"};
  auto n2 = work_->Hello("n2", {rbd2});
  ASSERT_TRUE(n2.ok() && work_->Hello("n3", {rbd3}).ok());
  for (const char* n : {"n2", "n3"}) {
    ASSERT_TRUE(
        work_->ReportInstances(n, {InstanceRecord{std::string("host-") + n, "", "host", "", 0, ""}})
            .ok());
    AllowOnNode(n);
  }
  CreateVolumeRequest req;
  req.size = kMiB;
  req.pool = "ceph";
  auto v = volumes_->Create(alice_, req);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  RunNode(v->id);
  auto a = attachments_->Attach(alice_, {v->id, "host-n2", "rw", std::nullopt, std::nullopt});
  ASSERT_TRUE(a.ok());
  RunNode(a->id);
  SetHeartbeat("n2", 1000);
  SetHeartbeat("n3", NowMillis() + 3600 * 1000);
  Reconciler rec(*store_, notifier_, work_policy_, PlacementPolicy{/*node_timeout_ms=*/1000},
                 ReconcilePolicy{});
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_GE(*rec.SweepOnce(), 1);
  // Ended, but the volume waits for the fence, which n3 (alive, in the pool) is to run.
  EXPECT_EQ(volumes_->Get(alice_, v->id)->state, "available");
  auto early = attachments_->Attach(alice_, {v->id, "host-n3", "rw", std::nullopt, std::nullopt});
  EXPECT_EQ(early.status().code(), "VolumeInUse") << early.status().ToString();
  auto batch = work_->Poll("n3", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  const OperationRecord fence = batch->ops[0];
  EXPECT_EQ(fence.kind, "fence_client");
  EXPECT_EQ(fence.resource_id, v->id);
  EXPECT_NE(fence.params.find("127.0.0.1:0/222"), std::string::npos);
  ASSERT_TRUE(work_->Claim("n3", fence.id).ok());
  ASSERT_TRUE(work_->Complete("n3", fence.id, true, "").ok());
  auto moved = attachments_->Attach(alice_, {v->id, "host-n3", "rw", std::nullopt, std::nullopt});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  // n2 comes back with a new client: it lifts the fence of its old one, then it is forgotten.
  PoolAnnouncement back{"ceph", "rbd", true, 100ull << 20, "127.0.0.1:0/444"};
  ASSERT_TRUE(work_->Hello("n2", {back}).ok());
  auto lift = work_->Poll("n2", std::chrono::milliseconds(0));
  ASSERT_EQ(lift->ops.size(), 1u);
  EXPECT_EQ(lift->ops[0].kind, "unfence_client");
  EXPECT_EQ(lift->ops[0].resource_id, "127.0.0.1:0/222");
  ASSERT_TRUE(work_->Claim("n2", lift->ops[0].id).ok());
  ASSERT_TRUE(work_->Complete("n2", lift->ops[0].id, true, "").ok());
  std::vector<StorageClientRecord> clients;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) -> Status {
                    VBS_ASSIGN_OR_RETURN(clients, tx.NodeStorageClients("n2"));
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_EQ(clients[0].client, "127.0.0.1:0/444");
  EXPECT_EQ(clients[0].state, "active");
}

}  // namespace
}  // namespace vbs
