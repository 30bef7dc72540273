#include "core/snapshot_service.h"

#include "common/units.h"
#include "core/core_test_util.h"

namespace vbs {
namespace {

class SnapshotServiceTest : public CoreTest {
 protected:
  VolumeRecord AvailableVolume(uint64_t size = 10 * kMiB) {
    VolumeRecord v = MustCreate(alice_, size);
    RunAgent();
    return v;
  }
};

TEST_F(SnapshotServiceTest, SnapshotOfAvailableVolumeCompletes) {
  VolumeRecord v = AvailableVolume();
  auto s = snapshots_->Create(alice_, {v.id, "nightly", {{"k", "v"}}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->state, "pending");
  EXPECT_EQ(s->size, v.size);
  RunAgent();
  auto got = snapshots_->Get(alice_, s->id);
  EXPECT_EQ(got->state, "completed");
  EXPECT_EQ(got->progress, 100);
}

TEST_F(SnapshotServiceTest, CopyOfACompletedSnapshot) {
  VolumeRecord v = AvailableVolume();
  auto src = snapshots_->Create(alice_, {v.id, "", {}});
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(snapshots_->Copy(alice_, {src->id, "", {}}).status().code(), "IncorrectState");
  RunAgent();
  EXPECT_EQ(snapshots_->Copy(bob_, {src->id, "", {}}).status().code(), "InvalidSnapshot.NotFound");
  EXPECT_EQ(snapshots_->Copy(alice_, {"snap-1", "", {}}).status().code(),
            "InvalidSnapshotID.Malformed");
  auto copy = snapshots_->Copy(alice_, {src->id, "copy", {{"k", "v"}}});
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_NE(copy->id, src->id);
  EXPECT_EQ(copy->state, "pending");
  EXPECT_EQ(copy->size, src->size);
  EXPECT_EQ(copy->pool, src->pool);
  EXPECT_EQ(copy->description, "copy");
  // The source cannot go while the copy reads it.
  EXPECT_EQ(snapshots_->Delete(alice_, src->id).status().code(), "IncorrectState");
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  EXPECT_EQ(batch->ops[0].kind, "create_snapshot");
  EXPECT_NE(batch->ops[0].params.find("\"source_snapshot_id\":\"" + src->id + "\""),
            std::string::npos);
  ASSERT_TRUE(work_->Claim("n1", batch->ops[0].id).ok());
  ASSERT_TRUE(work_->Complete("n1", batch->ops[0].id, true, "").ok());
  EXPECT_EQ(snapshots_->Get(alice_, copy->id)->state, "completed");
  EXPECT_TRUE(snapshots_->Delete(alice_, src->id).ok());
  EXPECT_EQ(snapshots_->Get(alice_, copy->id)->state, "completed");  // outlives its source
}

TEST_F(SnapshotServiceTest, ProgressIsReportedAndCappedBelowCompletion) {
  VolumeRecord v = AvailableVolume();
  auto s = snapshots_->Create(alice_, {v.id, "", {}});
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  const std::string op = batch->ops[0].id;
  ASSERT_TRUE(work_->Claim("n1", op).ok());
  ASSERT_TRUE(work_->Progress("n1", op, 40).ok());
  EXPECT_EQ(snapshots_->Get(alice_, s->id)->progress, 40);
  ASSERT_TRUE(work_->Progress("n1", op, 100).ok());
  EXPECT_EQ(snapshots_->Get(alice_, s->id)->progress, 99);
  ASSERT_TRUE(work_->Progress("n1", op, 10).ok());  // never goes back
  EXPECT_EQ(snapshots_->Get(alice_, s->id)->progress, 99);
  ASSERT_TRUE(work_->Complete("n1", op, true, "").ok());
  EXPECT_EQ(snapshots_->Get(alice_, s->id)->progress, 100);
}

TEST_F(SnapshotServiceTest, RulesOfState) {
  VolumeRecord creating = MustCreate(alice_, kMiB);
  EXPECT_EQ(snapshots_->Create(alice_, {creating.id, "", {}}).status().code(), "IncorrectState");
  RunAgent();
  auto s = snapshots_->Create(alice_, {creating.id, "", {}});
  ASSERT_TRUE(s.ok());
  // Pending snapshot: the volume cannot be deleted, the snapshot cannot be deleted or cloned.
  EXPECT_EQ(volumes_->Delete(alice_, creating.id).status().code(), "IncorrectState");
  EXPECT_EQ(snapshots_->Delete(alice_, s->id).status().code(), "IncorrectState");
  CreateVolumeRequest from;
  from.snapshot_id = s->id;
  EXPECT_EQ(volumes_->Create(alice_, from).status().code(), "IncorrectState");
  RunAgent();
  EXPECT_TRUE(snapshots_->Delete(alice_, s->id).ok());
}

TEST_F(SnapshotServiceTest, SnapshotOutlivesVolumeAndMakesNewVolumes) {
  VolumeRecord v = AvailableVolume(4 * kMiB);
  auto s = snapshots_->Create(alice_, {v.id, "", {}});
  RunAgent();
  ASSERT_TRUE(volumes_->Delete(alice_, v.id).ok());
  RunAgent();
  EXPECT_EQ(snapshots_->Get(alice_, s->id)->state, "completed");
  CreateVolumeRequest req;
  req.snapshot_id = s->id;
  auto clone = volumes_->Create(alice_, req);
  ASSERT_TRUE(clone.ok()) << clone.status().ToString();
  EXPECT_EQ(clone->size, 4 * kMiB);  // the snapshot's size when none is given
  EXPECT_EQ(*clone->snapshot_id, s->id);
  req.size = 2 * kMiB;
  EXPECT_EQ(volumes_->Create(alice_, req).status().code(), "InvalidParameterValue");
  req.size = 8 * kMiB;
  EXPECT_TRUE(volumes_->Create(alice_, req).ok());
  // While clones are being made, the snapshot cannot be deleted.
  EXPECT_EQ(snapshots_->Delete(alice_, s->id).status().code(), "IncorrectState");
}

TEST_F(SnapshotServiceTest, OwnershipAndMalformedIds) {
  VolumeRecord v = AvailableVolume();
  EXPECT_EQ(snapshots_->Create(bob_, {v.id, "", {}}).status().code(), "InvalidVolume.NotFound");
  auto s = snapshots_->Create(alice_, {v.id, "", {}});
  EXPECT_EQ(snapshots_->Get(bob_, s->id).status().code(), "InvalidSnapshot.NotFound");
  EXPECT_EQ(snapshots_->Delete(bob_, s->id).status().code(), "InvalidSnapshot.NotFound");
  CreateVolumeRequest req;
  req.snapshot_id = s->id;
  EXPECT_EQ(volumes_->Create(bob_, req).status().code(), "InvalidSnapshot.NotFound");
  EXPECT_EQ(snapshots_->Get(alice_, "snap-1").status().code(), "InvalidSnapshotID.Malformed");
  EXPECT_EQ(snapshots_->Create(alice_, {"vol-x", "", {}}).status().code(),
            "InvalidVolumeID.Malformed");
  EXPECT_TRUE(snapshots_->List(bob_, {})->empty());
}

TEST_F(SnapshotServiceTest, FailedSnapshotEndsInError) {
  VolumeRecord v = AvailableVolume();
  auto s = snapshots_->Create(alice_, {v.id, "", {}});
  RunAgent(false, "copy failed");
  auto got = snapshots_->Get(alice_, s->id);
  EXPECT_EQ(got->state, "error");
  EXPECT_NE(got->error->find("copy failed"), std::string::npos);
  EXPECT_EQ(volumes_->Get(alice_, v.id)->state, "available");  // the volume is unharmed
}

}  // namespace
}  // namespace vbs
