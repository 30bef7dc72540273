// VolumeService::Resize and ListModifications, and how resize operations move a
// modification on (core/operations.cc).
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/units.h"
#include "core/attachment_service.h"
#include "core/core_test_util.h"
#include "core/states.h"

namespace vbs {
namespace {

class VolumeResizeTest : public CoreTest {
 protected:
  VolumeRecord Available(uint64_t size = 10 * kMiB) {
    VolumeRecord v = MustCreate(alice_, size);
    RunAgent();
    return v;
  }
  VolumeModificationRecord Latest(const std::string& volume_id) {
    auto mods = volumes_->ListModifications(alice_, {volume_id});
    EXPECT_TRUE(mods.ok() && !mods->empty());
    return mods.ok() && !mods->empty() ? mods->back() : VolumeModificationRecord{};
  }
  uint64_t Reserved() {
    uint64_t r = 0;
    EXPECT_TRUE(store_
                    ->Transact([&](Transaction& tx) {
                      r = (*tx.GetPool("p1"))->reserved;
                      return Status::Ok();
                    })
                    .ok());
    return r;
  }
  // Pending ops of node n1 of `kind`.
  std::vector<OperationRecord> Pending(const std::string& kind) {
    auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
    EXPECT_TRUE(batch.ok());
    std::vector<OperationRecord> out;
    for (auto& op : batch->ops) {
      if (op.kind == kind) out.push_back(op);
    }
    return out;
  }
};

TEST_F(VolumeResizeTest, GrowsAnAvailableVolume) {
  VolumeRecord v = Available();
  auto m = volumes_->Resize(alice_, v.id, 20 * kMiB);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->state, "modifying");
  EXPECT_EQ(m->original_size, 10 * kMiB);
  EXPECT_EQ(m->target_size, 20 * kMiB);
  EXPECT_EQ(Reserved(), 20 * kMiB);  // the growth is reserved at once
  EXPECT_EQ(volumes_->Get(alice_, v.id)->size, 10 * kMiB);
  auto ops = Pending("resize_volume");
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].resource_id, m->id);
  RunAgent();
  EXPECT_EQ(volumes_->Get(alice_, v.id)->size, 20 * kMiB);
  auto done = Latest(v.id);
  EXPECT_EQ(done.state, "completed");
  EXPECT_EQ(done.progress, 100);
  EXPECT_EQ(Reserved(), 20 * kMiB);
}

TEST_F(VolumeResizeTest, FailureGivesTheReservationBack) {
  VolumeRecord v = Available();
  ASSERT_TRUE(volumes_->Resize(alice_, v.id, 30 * kMiB).ok());
  RunAgent(false, "disk on fire");
  auto m = Latest(v.id);
  EXPECT_EQ(m.state, "failed");
  ASSERT_TRUE(m.error.has_value());
  EXPECT_NE(m.error->find("disk on fire"), std::string::npos);
  EXPECT_EQ(volumes_->Get(alice_, v.id)->size, 10 * kMiB);
  EXPECT_EQ(Reserved(), 10 * kMiB);
  // A new resize may follow a failed one.
  EXPECT_TRUE(volumes_->Resize(alice_, v.id, 30 * kMiB).ok());
}

TEST_F(VolumeResizeTest, RejectsBadRequestsWithoutChangingAnything) {
  VolumeRecord v = Available();
  for (uint64_t same_or_smaller : {10 * kMiB, 5 * kMiB}) {
    auto r = volumes_->Resize(alice_, v.id, same_or_smaller);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), "InvalidParameterValue");
    EXPECT_NE(r.status().message().find("only grow"), std::string::npos);
  }
  EXPECT_EQ(volumes_->Resize(alice_, v.id, 20 * kMiB + 1).status().code(), "InvalidParameterValue");
  EXPECT_EQ(volumes_->Resize(alice_, "vol-nope", 20 * kMiB).status().code(),
            "InvalidVolumeID.Malformed");
  // Another user's volume is not found, like a missing one.
  EXPECT_EQ(volumes_->Resize(bob_, v.id, 20 * kMiB).status().code(), "InvalidVolume.NotFound");
  EXPECT_EQ(volumes_->ListModifications(bob_, {v.id}).status().code(), "InvalidVolume.NotFound");
  // The pool holds 100 MiB.
  auto full = volumes_->Resize(alice_, v.id, 200 * kMiB);
  EXPECT_EQ(full.status().code(), "InsufficientVolumeCapacity") << full.status().ToString();
  EXPECT_TRUE(volumes_->ListModifications(alice_, {})->empty());
  EXPECT_EQ(Reserved(), 10 * kMiB);
  // A volume still being created cannot be resized.
  VolumeRecord creating = MustCreate(alice_, kMiB);
  EXPECT_EQ(volumes_->Resize(alice_, creating.id, 2 * kMiB).status().code(), "IncorrectState");
}

TEST_F(VolumeResizeTest, OneModificationAtATime) {
  VolumeRecord v = Available();
  ASSERT_TRUE(volumes_->Resize(alice_, v.id, 20 * kMiB).ok());
  auto again = volumes_->Resize(alice_, v.id, 30 * kMiB);
  EXPECT_EQ(again.status().code(), "IncorrectModificationState");
  // Nor can it be deleted meanwhile.
  EXPECT_EQ(volumes_->Delete(alice_, v.id).status().code(), "IncorrectState");
  RunAgent();
  EXPECT_TRUE(volumes_->Resize(alice_, v.id, 30 * kMiB).ok());
}

TEST_F(VolumeResizeTest, ConcurrentResizesOneWins) {
  VolumeRecord v = Available();
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto r = volumes_->Resize(alice_, v.id, (20 + t) * kMiB);
      (r.ok() ? ok : refused)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 3);
  EXPECT_EQ(volumes_->ListModifications(alice_, {v.id})->size(), 1u);
}

TEST_F(VolumeResizeTest, AttachedVolumeWaitsForItsHosts) {
  AttachmentService attachments(*store_, notifier_);
  ASSERT_TRUE(work_
                  ->ReportInstances(
                      "n1", {InstanceRecord{"i-00000000000000001", "", "qemu", "", 0, "alice"}})
                  .ok());
  VolumeRecord v = Available();
  ASSERT_TRUE(
      attachments.Attach(alice_, {v.id, "i-00000000000000001", "rw", std::nullopt, std::nullopt})
          .ok());
  RunAgent();
  ASSERT_TRUE(volumes_->Resize(alice_, v.id, 40 * kMiB).ok());
  RunAgent();  // the storage node grows it
  auto m = Latest(v.id);
  EXPECT_EQ(m.state, "optimizing");
  EXPECT_EQ(volumes_->Get(alice_, v.id)->size, 40 * kMiB);
  auto ops = Pending("resize_attachments");
  ASSERT_EQ(ops.size(), 1u);
  auto params = nlohmann::json::parse(ops[0].params);
  EXPECT_EQ(params["size"], 40 * kMiB);
  EXPECT_EQ(params["instance_ids"], nlohmann::json::array({"i-00000000000000001"}));
  RunAgent(false, "QEMU said no");
  m = Latest(v.id);
  EXPECT_EQ(m.state, "failed");
  ASSERT_TRUE(m.error.has_value());
  EXPECT_NE(m.error->find("QEMU said no"), std::string::npos);
  // The volume did grow, and keeps its reservation.
  EXPECT_EQ(volumes_->Get(alice_, v.id)->size, 40 * kMiB);
  EXPECT_EQ(Reserved(), 40 * kMiB);

  ASSERT_TRUE(volumes_->Resize(alice_, v.id, 50 * kMiB).ok());
  RunAgent();
  RunAgent();
  EXPECT_EQ(Latest(v.id).state, "completed");
}

TEST_F(VolumeResizeTest, AdminForceEndsAnInFlightResize) {
  VolumeRecord v = Available();
  ASSERT_TRUE(volumes_->Resize(alice_, v.id, 60 * kMiB).ok());
  ASSERT_TRUE(volumes_->ForceState(admin_, v.id, "available").ok());
  auto m = Latest(v.id);
  EXPECT_EQ(m.state, "failed");
  EXPECT_EQ(Reserved(), 10 * kMiB);
  EXPECT_TRUE(Pending("resize_volume").empty());
}

TEST_F(VolumeResizeTest, ListsOnlyTheCallersModifications) {
  VolumeRecord a = Available();
  VolumeRecord b = MustCreate(bob_, 10 * kMiB);
  RunAgent();
  ASSERT_TRUE(volumes_->Resize(alice_, a.id, 20 * kMiB).ok());
  ASSERT_TRUE(volumes_->Resize(bob_, b.id, 20 * kMiB).ok());
  EXPECT_EQ(volumes_->ListModifications(alice_, {})->size(), 1u);
  EXPECT_EQ(volumes_->ListModifications(bob_, {})->size(), 1u);
  EXPECT_EQ(volumes_->ListModifications(admin_, {})->size(), 2u);
  EXPECT_EQ(volumes_->ListModifications(admin_, {a.id, b.id})->size(), 2u);
}

}  // namespace
}  // namespace vbs
