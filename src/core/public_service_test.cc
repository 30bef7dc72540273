#include "core/public_service.h"

#include <gtest/gtest.h>

#include "core/core_test_util.h"

namespace vbs {
namespace {

class PublicServiceTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    attachments_ = std::make_unique<AttachmentService>(*store_, notifier_);
    public_ = std::make_unique<PublicService>(*store_, *volumes_, *snapshots_, *attachments_);
    ASSERT_TRUE(
        work_->ReportInstances("n1", {InstanceRecord{"host-n1", "", "host", "", 0, ""}}).ok());
  }
  // How many ops n1 has pending.
  size_t PendingOps() {
    auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
    return batch.ok() ? batch->ops.size() : 0;
  }
  std::unique_ptr<AttachmentService> attachments_;
  std::unique_ptr<PublicService> public_;
};

TEST_F(PublicServiceTest, AdminsOnlyAndOneDraft) {
  EXPECT_EQ(public_->Create(alice_, 16ull << 20, std::nullopt).status().code(),
            "UnauthorizedOperation");
  EXPECT_EQ(public_->List(alice_).status().code(), "UnauthorizedOperation");
  EXPECT_EQ(public_->Attach(alice_, "n1").status().code(), "UnauthorizedOperation");
  EXPECT_EQ(public_->Publish(admin_).status().code(), "PublicVolumeNotFound");
  EXPECT_EQ(public_->Create(admin_, 8ull << 20, std::nullopt).status().code(),
            "InvalidParameterValue");
  auto draft = public_->Create(admin_, 16ull << 20, std::nullopt);
  ASSERT_TRUE(draft.ok()) << draft.status().ToString();
  EXPECT_EQ(draft->volume.tags.at(kPublicTag), "draft");
  EXPECT_EQ(public_->Create(admin_, 16ull << 20, std::nullopt).status().code(),
            "PublicVolumeExists");
  EXPECT_EQ(public_->Delete(admin_, "01").status().code(), "InvalidParameterValue");
  EXPECT_EQ(public_->Attach(admin_, "n1").status().code(), "PublicVolumeNotFound");
}

// A version waits for its snapshot, is sealed (never rw), and nodes move to a newer version
// only when their older one is detached.
TEST_F(PublicServiceTest, PublishedVersionsAreSealedAndNodesKeepTheirsUntilDetached) {
  ASSERT_TRUE(public_->Create(admin_, 16ull << 20, std::nullopt).ok());
  RunAgent();
  auto v1 = public_->Publish(admin_);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->version, "1");
  EXPECT_EQ(v1->volume.state, "creating");
  // Only the snapshot is queued; the version's volume follows once it completes.
  EXPECT_EQ(PendingOps(), 1u);
  RunAgent();
  EXPECT_EQ(PendingOps(), 1u);
  RunAgent();
  EXPECT_EQ(volumes_->Get(admin_, v1->volume.id)->state, "available");

  // Sealed: read-write is refused whoever asks.
  AttachRequest rw;
  rw.volume_id = v1->volume.id;
  rw.instance_id = "host-n1";
  EXPECT_EQ(attachments_->Attach(admin_, rw).status().code(), "InvalidParameterCombination");

  auto on_n1 = public_->Attach(admin_, "n1");
  ASSERT_TRUE(on_n1.ok()) << on_n1.status().ToString();
  EXPECT_EQ(on_n1->mode, "ro");
  EXPECT_EQ(on_n1->volume_id, v1->volume.id);
  RunAgent();
  auto v2 = public_->Publish(admin_);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, "2");
  RunAgent();
  RunAgent();
  // n1 keeps version 1 until it is detached there.
  auto again = public_->Attach(admin_, "n1");
  EXPECT_EQ(again.status().code(), "VolumeInUse");
  EXPECT_NE(again.status().message().find("version 1"), std::string::npos);
  EXPECT_EQ(public_->Delete(admin_, "1").status().code(), "VolumeInUse");
  auto list = public_->List(admin_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].version, "draft");
  EXPECT_EQ((*list)[1].version, "2");
  EXPECT_EQ((*list)[2].version, "1");
  EXPECT_EQ((*list)[2].attachments.size(), 1u);
  EXPECT_EQ((*list)[1].attachments.size(), 0u);
  ASSERT_TRUE(public_->Detach(admin_, "n1", false).ok());
  RunAgent();
  auto moved = public_->Attach(admin_, "n1");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->volume_id, v2->volume.id);
  ASSERT_TRUE(public_->Delete(admin_, "1").ok());
  RunAgent();
  // Numbers are never reused, also after a delete.
  EXPECT_EQ(public_->Publish(admin_)->version, "3");
}

TEST_F(PublicServiceTest, AFailedSnapshotFailsTheVersion) {
  ASSERT_TRUE(public_->Create(admin_, 16ull << 20, std::nullopt).ok());
  RunAgent();
  auto v1 = public_->Publish(admin_);
  ASSERT_TRUE(v1.ok());
  RunAgent(false, "disk on fire");
  auto v = volumes_->Get(admin_, v1->volume.id);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->state, "error");
  EXPECT_NE(v->error->find("disk on fire"), std::string::npos);
  EXPECT_EQ(PendingOps(), 0u);
}

}  // namespace
}  // namespace vbs
