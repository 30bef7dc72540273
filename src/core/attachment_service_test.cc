#include "core/attachment_service.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <thread>

#include "common/units.h"
#include "core/core_test_util.h"

namespace vbs {
namespace {

class AttachmentServiceTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    attachments_ = std::make_unique<AttachmentService>(*store_, notifier_);
    ASSERT_TRUE(work_->ReportInstances("n1", {Vm(kVm1), Vm(kVm2), Vm(kVm3)}).ok());
  }
  // A VM of alice's, as its owner file says.
  static InstanceRecord Vm(const std::string& id, const std::string& owner = "alice") {
    return InstanceRecord{id, "", "qemu", "", 0, owner};
  }
  void AllowOnNode(const std::string& node, const std::string& user) {
    ASSERT_TRUE(
        store_->Transact([&](Transaction& tx) { return tx.SetNodeUser(node, user, true); }).ok());
  }
  VolumeRecord AvailableVolume() {
    VolumeRecord v = MustCreate(alice_, kMiB);
    RunAgent();
    return v;
  }
  Result<AttachmentRecord> Attach(const VolumeRecord& v, const std::string& inst,
                                  const std::string& mode = "rw") {
    return attachments_->Attach(alice_, {v.id, inst, mode, std::nullopt, std::nullopt});
  }
  std::string VolumeState(const VolumeRecord& v) { return volumes_->Get(alice_, v.id)->state; }

  static constexpr const char* kVm1 = "i-00000000000000001";
  static constexpr const char* kVm2 = "i-00000000000000002";
  static constexpr const char* kVm3 = "i-00000000000000003";
  std::unique_ptr<AttachmentService> attachments_;
};

TEST_F(AttachmentServiceTest, AttachDetachLifecycle) {
  VolumeRecord v = AvailableVolume();
  auto a = Attach(v, kVm1);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->state, "attaching");
  EXPECT_EQ(VolumeState(v), "in-use");
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  EXPECT_EQ(batch->ops[0].kind, "attach");
  ASSERT_TRUE(work_->Claim("n1", batch->ops[0].id).ok());
  ASSERT_TRUE(work_
                  ->Complete("n1", batch->ops[0].id, true, "",
                             R"({"export_name":"x1","nbd_uri":"nbd+unix:///x1?socket=/s"})")
                  .ok());
  auto live = attachments_->List(alice_, v.id);
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].state, "attached");
  EXPECT_EQ(*(*live)[0].nbd_uri, "nbd+unix:///x1?socket=/s");
  // Attached volumes cannot be deleted.
  EXPECT_EQ(volumes_->Delete(alice_, v.id).status().code(), "VolumeInUse");
  auto d = attachments_->Detach(alice_, v.id, std::nullopt, false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, "detaching");
  RunAgent();
  EXPECT_TRUE(attachments_->List(alice_, v.id)->empty());
  EXPECT_EQ(VolumeState(v), "available");
  EXPECT_EQ(attachments_->Detach(alice_, v.id, std::nullopt, false).status().code(),
            "IncorrectState");
}

TEST_F(AttachmentServiceTest, ReadWriteIsExclusiveReadOnlyIsShared) {
  VolumeRecord v = AvailableVolume();
  ASSERT_TRUE(Attach(v, kVm1, "ro").ok());
  ASSERT_TRUE(Attach(v, kVm2, "ro").ok());
  EXPECT_EQ(Attach(v, kVm3, "rw").status().code(), "VolumeInUse");
  EXPECT_EQ(Attach(v, kVm1, "ro").status().code(), "VolumeInUse");  // same instance twice
  ASSERT_TRUE(Attach(v, kVm3, "ro").ok());
  EXPECT_EQ(attachments_->Detach(alice_, v.id, std::nullopt, false).status().code(),
            "InvalidParameterCombination");
  VolumeRecord w = AvailableVolume();
  ASSERT_TRUE(Attach(w, kVm1, "rw").ok());
  EXPECT_EQ(Attach(w, kVm2, "ro").status().code(), "VolumeInUse");
  EXPECT_EQ(Attach(w, kVm2, "rw").status().code(), "VolumeInUse");
}

TEST_F(AttachmentServiceTest, RefusesWhatCannotAttach) {
  VolumeRecord creating = MustCreate(alice_, kMiB);
  EXPECT_EQ(Attach(creating, kVm1).status().code(), "IncorrectState");
  RunAgent();
  EXPECT_EQ(Attach(creating, "i-0000000000000000f").status().code(), "InvalidInstanceID.NotFound");
  EXPECT_EQ(Attach(creating, "vm1").status().code(), "InvalidInstanceID.Malformed");
  EXPECT_EQ(Attach(creating, kVm1, "rx").status().code(), "InvalidParameterValue");
  EXPECT_EQ(attachments_->Attach(bob_, {creating.id, kVm1, "rw", std::nullopt, std::nullopt})
                .status()
                .code(),
            "InvalidVolume.NotFound");
  ASSERT_TRUE(volumes_->Delete(alice_, creating.id).ok());
  RunAgent();
  EXPECT_EQ(Attach(creating, kVm1).status().code(), "IncorrectState");  // deleted
  // An instance on another node cannot reach a local pool.
  ASSERT_TRUE(work_->Hello("n2", {}).ok());
  ASSERT_TRUE(work_->ReportInstances("n2", {Vm("i-0000000000000000a")}).ok());
  VolumeRecord v = AvailableVolume();
  auto r = Attach(v, "i-0000000000000000a");
  EXPECT_EQ(r.status().code(), "IncorrectState");
  EXPECT_NE(r.status().message().find("local to node 'n1'"), std::string::npos);
}

// A host attachment names the local uid that may open its export (nbd/peer.h): root unless
// told; the agent receives it, and a VM target (whose consumer is its QEMU) refuses one.
TEST_F(AttachmentServiceTest, HostAttachmentsNameTheirConsumerUid) {
  ASSERT_TRUE(work_
                  ->ReportInstances("n1", {Vm(kVm1), Vm(kVm2), Vm(kVm3),
                                           InstanceRecord{"host-n1", "", "host", "", 0, ""}})
                  .ok());
  AllowOnNode("n1", "alice");
  VolumeRecord v = AvailableVolume();
  VolumeRecord w = AvailableVolume();
  auto on_vm = attachments_->Attach(alice_, {v.id, kVm1, "rw", std::nullopt, 1000});
  EXPECT_EQ(on_vm.status().code(), "InvalidParameterCombination");
  for (int64_t bad : {int64_t{-1}, int64_t{4294967295}}) {
    auto r = attachments_->Attach(alice_, {v.id, "host-n1", "rw", std::nullopt, bad});
    EXPECT_EQ(r.status().code(), "InvalidParameterValue") << bad;
  }
  EXPECT_EQ(VolumeState(v), "available");  // nothing was made by the refusals

  auto as_root = attachments_->Attach(alice_, {v.id, "host-n1", "ro", std::nullopt, std::nullopt});
  ASSERT_TRUE(as_root.ok()) << as_root.status().ToString();
  EXPECT_EQ(as_root->consumer_uid, 0);
  auto as_user = attachments_->Attach(alice_, {w.id, "host-n1", "rw", std::nullopt, 1000});
  ASSERT_TRUE(as_user.ok()) << as_user.status().ToString();
  EXPECT_EQ(as_user->consumer_uid, 1000);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_TRUE(batch.ok());
  std::map<std::string, int64_t> uid_of;
  for (const auto& op : batch->ops) {
    auto params = nlohmann::json::parse(op.params);
    uid_of[params.at("volume_id").get<std::string>()] = params.at("uid").get<int64_t>();
  }
  EXPECT_EQ(uid_of[v.id], 0);
  EXPECT_EQ(uid_of[w.id], 1000);
  auto stored = attachments_->List(alice_, w.id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].consumer_uid, 1000);
}

TEST_F(AttachmentServiceTest, FailedAttachEndsDetachedWithError) {
  VolumeRecord v = AvailableVolume();
  ASSERT_TRUE(Attach(v, kVm1).ok());
  RunAgent(false, "qemu said no");
  EXPECT_TRUE(attachments_->List(alice_, v.id)->empty());
  EXPECT_EQ(VolumeState(v), "available");
}

TEST_F(AttachmentServiceTest, GoneInstanceEndsItsAttachments) {
  VolumeRecord v = AvailableVolume();
  ASSERT_TRUE(Attach(v, kVm1).ok());
  RunAgent();
  ASSERT_TRUE(work_->ReportInstances("n1", {Vm(kVm2), Vm(kVm3)}).ok());  // vm1 exited
  auto live = attachments_->List(alice_, v.id);
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].state, "detaching");
  RunAgent();  // the agent removes the export
  EXPECT_TRUE(attachments_->List(alice_, v.id)->empty());
  EXPECT_EQ(VolumeState(v), "available");
  EXPECT_EQ(Attach(v, kVm1).status().code(), "IncorrectState");  // vm1 is gone
}

// Two "servers" (two store connections) race rw attaches of one volume to different VMs.
TEST_F(AttachmentServiceTest, RacingReadWriteAttachesHaveExactlyOneWinner) {
  auto other_store = OpenSqliteStore(dir_ + "/meta.db");
  ASSERT_TRUE(other_store.ok());
  RevisionNotifier other_notifier;
  AttachmentService other(**other_store, other_notifier);
  for (int round = 0; round < 50; ++round) {
    VolumeRecord v = AvailableVolume();
    std::atomic<int> wins{0}, in_use{0};
    std::thread t1([&] {
      auto r = attachments_->Attach(alice_, {v.id, kVm1, "rw", std::nullopt, std::nullopt});
      r.ok() ? wins++ : (r.status().code() == "VolumeInUse" ? in_use++ : 0);
    });
    std::thread t2([&] {
      auto r = other.Attach(alice_, {v.id, kVm2, "rw", std::nullopt, std::nullopt});
      r.ok() ? wins++ : (r.status().code() == "VolumeInUse" ? in_use++ : 0);
    });
    t1.join();
    t2.join();
    ASSERT_EQ(wins.load(), 1) << "round " << round;
    ASSERT_EQ(in_use.load(), 1) << "round " << round;
    ASSERT_EQ(attachments_->List(alice_, v.id)->size(), 1u);
  }
}

// A forced detach from a node that is down ends the attachment at once, and its queued steps
// with it (nobody is there to run them; a node that comes back must not export it again), so
// the volume can be attached elsewhere. Without force the detach waits for the node.
TEST_F(AttachmentServiceTest, ForcedDetachFromADownNodeEndsAtOnce) {
  VolumeRecord v = AvailableVolume();
  ASSERT_TRUE(Attach(v, kVm1).ok());
  RunAgent();
  VolumeRecord w = AvailableVolume();
  auto queued = Attach(w, kVm2);  // its attach step is still queued when n1 goes down
  ASSERT_TRUE(queued.ok());
  AttachmentService n1_down(*store_, notifier_, PlacementPolicy{-1});  // no node is up
  auto d = n1_down.Detach(alice_, v.id, std::nullopt, false);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->state, "detaching");
  d = n1_down.Detach(alice_, v.id, std::nullopt, true);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->state, "detached");
  EXPECT_EQ(*d->error, "force-detached while node 'n1' was down");
  EXPECT_TRUE(attachments_->List(alice_, v.id)->empty());
  EXPECT_EQ(VolumeState(v), "available");
  d = n1_down.Detach(alice_, w.id, std::nullopt, true);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->state, "detached");
  EXPECT_EQ(VolumeState(w), "available");
  // The reason stays visible on the volume until its next attach.
  auto ended = attachments_->LastFailedAttach(alice_, w.id);
  ASSERT_TRUE(ended->has_value());
  EXPECT_EQ(*(*ended)->error, "force-detached while node 'n1' was down");
  // Nothing is left for n1 to run: neither v's detach nor w's attach.
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->ops.empty());
  ASSERT_TRUE(Attach(v, kVm3).ok());  // and the volume attaches again
}

}  // namespace
}  // namespace vbs

namespace vbs {
namespace {

TEST_F(AttachmentServiceTest, AFailedAttachStaysVisibleUntilTheNextAttach) {
  VolumeRecord v = AvailableVolume();
  EXPECT_FALSE(attachments_->LastFailedAttach(alice_, v.id)->has_value());
  auto a = Attach(v, kVm1);
  ASSERT_TRUE(a.ok());
  RunAgent(false, "QMP said no");
  EXPECT_EQ(VolumeState(v), "available");
  auto failed = attachments_->LastFailedAttach(alice_, v.id);
  ASSERT_TRUE(failed.ok() && failed->has_value());
  EXPECT_EQ((*failed)->id, a->id);
  EXPECT_EQ((*failed)->state, "detached");
  EXPECT_EQ((*failed)->error, "attach failed: QMP said no");
  // Others see nothing of it.
  EXPECT_EQ(attachments_->LastFailedAttach(bob_, v.id).status().code(), "InvalidVolume.NotFound");
  // The next attach replaces it; a clean detach leaves nothing to report.
  ASSERT_TRUE(Attach(v, kVm2).ok());
  EXPECT_FALSE(attachments_->LastFailedAttach(alice_, v.id)->has_value());
  RunAgent();
  ASSERT_TRUE(attachments_->Detach(alice_, v.id, std::nullopt, false).ok());
  RunAgent();
  EXPECT_FALSE(attachments_->LastFailedAttach(alice_, v.id)->has_value());
}

}  // namespace
}  // namespace vbs

namespace vbs {
namespace {

// Crash-consistent snapshots (design.md §5): the node that serves the rw export takes them.
TEST_F(AttachmentServiceTest, SnapshotOfAnRwAttachedVolumeRunsWhereItIsServed) {
  // n1 (the VMs' host) reaches the shared pool too; n2 declared it last: the pool's node.
  ASSERT_TRUE(
      work_
          ->Hello("n1", {{"p1", "dir", false, 100ull << 20}, {"shared", "dir", true, 100ull << 20}})
          .ok());
  ASSERT_TRUE(work_->Hello("n2", {{"shared", "dir", true, 100ull << 20}}).ok());
  CreateVolumeRequest req;
  req.size = kMiB;
  req.pool = "shared";
  auto v = volumes_->Create(alice_, req);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto run_n2 = [&] {
    auto batch = work_->Poll("n2", std::chrono::milliseconds(0));
    ASSERT_TRUE(batch.ok());
    for (auto& op : batch->ops) {
      ASSERT_TRUE(work_->Claim("n2", op.id).ok());
      ASSERT_TRUE(work_->Complete("n2", op.id, true, "").ok());
    }
  };
  run_n2();
  auto node_of_snapshot_op = [&](const std::string& snap_id) {
    std::string node;
    EXPECT_TRUE(store_
                    ->Transact([&](Transaction& tx) -> Status {
                      OperationFilter f;
                      f.resource_id = snap_id;
                      VBS_ASSIGN_OR_RETURN(auto ops, tx.ListOperations(f));
                      if (!ops.empty()) node = ops[0].node;
                      return Status::Ok();
                    })
                    .ok());
    return node;
  };
  // Not attached: the pool's node.
  auto s1 = snapshots_->Create(alice_, {v->id, "", {}});
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ(node_of_snapshot_op(s1->id), "n2");
  run_n2();
  // Attached rw to a VM on n1 (the shared pool reaches it): n1, which holds the export's writes.
  ASSERT_TRUE(Attach(*v, kVm1).ok());
  auto s2 = snapshots_->Create(alice_, {v->id, "", {}});
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(node_of_snapshot_op(s2->id), "n1");
}

// Instances have owners: another user's VM, or a node nobody allowed them on, answers as if it
// did not exist, is not listed, and nothing is made.
TEST_F(AttachmentServiceTest, OnlyTheOwnerAttachesToAVm) {
  const char* kVmB = "i-0000000000000000b";
  const char* kVmC = "i-0000000000000000c";
  ASSERT_TRUE(work_
                  ->ReportInstances("n1", {Vm(kVm1), Vm(kVmB, "bob"), Vm(kVmC, ""),
                                           InstanceRecord{"host-n1", "", "host", "", 0, ""}})
                  .ok());
  VolumeRecord mine = MustCreate(bob_, kMiB);
  RunAgent();
  for (const char* target : {kVm1, kVmC, "host-n1"}) {
    auto r = attachments_->Attach(bob_, {mine.id, target, "rw", std::nullopt, std::nullopt});
    EXPECT_EQ(r.status().code(), "InvalidInstanceID.NotFound") << target;
  }
  EXPECT_EQ(volumes_->Get(bob_, mine.id)->state, "available") << "the refusals made nothing";
  auto listed = attachments_->ListInstances(bob_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, kVmB);
  EXPECT_EQ(attachments_->ListInstances(admin_)->size(), 6u);
  ASSERT_TRUE(attachments_->Attach(bob_, {mine.id, kVmB, "rw", std::nullopt, std::nullopt}).ok());
  // The owner file names the owner once: a later report cannot take the VM from bob.
  ASSERT_TRUE(work_->ReportInstances("n1", {Vm(kVm1), Vm(kVmB, "alice"), Vm(kVmC, "")}).ok());
  EXPECT_EQ(attachments_->ListInstances(bob_)->size(), 1u);
}

TEST_F(AttachmentServiceTest, AdminsAssignVmsAndAllowUsersOnNodes) {
  ASSERT_TRUE(work_
                  ->ReportInstances("n1", {Vm(kVm1), Vm(kVm3, ""),
                                           InstanceRecord{"host-n1", "", "host", "", 0, ""}})
                  .ok());
  EXPECT_EQ(attachments_->AssignInstance(bob_, kVm3, "bob").status().code(),
            "UnauthorizedOperation");
  EXPECT_EQ(attachments_->AllowOnNode(bob_, "n1", "bob", true).status().code(),
            "UnauthorizedOperation");
  EXPECT_EQ(attachments_->AssignInstance(admin_, kVm3, "nobody").status().code(),
            "InvalidUser.NotFound");
  ASSERT_TRUE(store_
                  ->Transact([](Transaction& tx) {
                    return tx.InsertUser(UserRecord{"bob", "user", 0, "active", 0});
                  })
                  .ok());
  EXPECT_EQ(attachments_->AssignInstance(admin_, "host-n1", "bob").status().code(),
            "InvalidParameterValue");
  auto given = attachments_->AssignInstance(admin_, kVm3, "bob");
  ASSERT_TRUE(given.ok()) << given.status().ToString();
  EXPECT_EQ(given->owner, "bob");
  auto allowed = attachments_->AllowOnNode(admin_, "n1", "bob", true);
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(*allowed, std::vector<std::string>{"bob"});
  EXPECT_EQ(attachments_->ListInstances(bob_)->size(), 2u);
  VolumeRecord v = MustCreate(bob_, kMiB);
  VolumeRecord w = MustCreate(bob_, kMiB);
  RunAgent();
  EXPECT_TRUE(attachments_->Attach(bob_, {v.id, kVm3, "rw", std::nullopt, std::nullopt}).ok());
  EXPECT_TRUE(attachments_->Attach(bob_, {w.id, "host-n1", "rw", std::nullopt, 1000}).ok());
  ASSERT_TRUE(attachments_->AllowOnNode(admin_, "n1", "bob", false).ok());
  EXPECT_EQ(attachments_->ListInstances(bob_)->size(), 1u);
  EXPECT_EQ(attachments_->AllowOnNode(admin_, "n9", "bob", true).status().code(),
            "InvalidNode.NotFound");
}

}  // namespace
}  // namespace vbs
