#include "core/home_service.h"

#include <nlohmann/json.hpp>

#include "core/core_test_util.h"
#include "core/tag_service.h"

namespace vbs {
namespace {

class HomeServiceTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    attachments_ = std::make_unique<AttachmentService>(*store_, notifier_);
    homes_ = std::make_unique<HomeService>(*store_, *volumes_, *snapshots_, *attachments_,
                                           HomeSettings{32ull << 20, std::nullopt});
    ASSERT_TRUE(
        work_->ReportInstances("n1", {InstanceRecord{"host-n1", "", "host", "", 0, ""}}).ok());
    for (const char* name : {"alice", "bob"}) {
      ASSERT_TRUE(store_
                      ->Transact([&](Transaction& tx) {
                        return tx.InsertUser(UserRecord{name, "user", 0, "active", 0});
                      })
                      .ok());
    }
    AllowOnNode("n1", "alice");
  }
  Home MustCreateHome(const Caller& who, const std::optional<std::string>& user = std::nullopt) {
    auto h = homes_->Create(who, user, std::nullopt, std::nullopt);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    RunAgent();
    return h.ok() ? *h : Home{};
  }
  std::unique_ptr<AttachmentService> attachments_;
  std::unique_ptr<HomeService> homes_;
};

TEST_F(HomeServiceTest, OneHomePerUserOwnedByTheUserWithTheServersDefaultSize) {
  Home h = MustCreateHome(alice_);
  EXPECT_EQ(h.user, "alice");
  EXPECT_EQ(h.volume.owner, "alice");
  EXPECT_EQ(h.volume.size, 32ull << 20);
  EXPECT_EQ(h.volume.tags.at(kHomeTag), "alice");
  auto again = homes_->Create(alice_, std::nullopt, std::nullopt, std::nullopt);
  EXPECT_EQ(again.status().code(), "HomeExists");
  // An admin's home for bob is bob's volume, counted as his.
  Home b = MustCreateHome(admin_, "bob");
  EXPECT_EQ(b.volume.owner, "bob");
  EXPECT_EQ(volumes_->List(bob_, {})->size(), 1u);
  EXPECT_EQ(homes_->List(admin_)->size(), 2u);
  ASSERT_EQ(homes_->List(alice_)->size(), 1u);
  EXPECT_EQ(homes_->List(alice_)->front().user, "alice");
}

TEST_F(HomeServiceTest, OthersHomesAreNotFoundAndUsersCreateOnlyTheirOwn) {
  MustCreateHome(alice_);
  EXPECT_EQ(homes_->Get(bob_, "alice").status().code(), "HomeNotFound");
  EXPECT_EQ(homes_->Attach(bob_, "alice", "n1").status().code(), "HomeNotFound");
  EXPECT_EQ(homes_->Detach(bob_, "alice", true).status().code(), "HomeNotFound");
  EXPECT_EQ(homes_->Delete(bob_, "alice").status().code(), "HomeNotFound");
  EXPECT_EQ(homes_->Create(bob_, "alice", std::nullopt, std::nullopt).status().code(),
            "UnauthorizedOperation");
  EXPECT_EQ(homes_->Create(admin_, "nobody", std::nullopt, std::nullopt).status().code(),
            "UserNotFound");
  EXPECT_EQ(homes_->Get(alice_, "bad name!").status().code(), "InvalidParameterValue");
  EXPECT_EQ(homes_->Get(bob_, "bob").status().code(), "HomeNotFound");
}

TEST_F(HomeServiceTest, AttachMountsOnOneNodeAndTheAgentIsToldWhose) {
  Home h = MustCreateHome(alice_);
  auto att = homes_->Attach(alice_, "alice", "n1");
  ASSERT_TRUE(att.ok()) << att.status().ToString();
  EXPECT_EQ(att->instance_id, "host-n1");
  EXPECT_EQ(att->mode, "rw");
  EXPECT_EQ(att->consumer_uid, 0);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->ops.size(), 1u);
  auto params = nlohmann::json::parse(batch->ops[0].params);
  EXPECT_EQ(params["mount"]["user"], "alice");
  EXPECT_EQ(params["mount"]["kind"], "home");
  ASSERT_TRUE(work_->Claim("n1", batch->ops[0].id).ok());
  ASSERT_TRUE(work_
                  ->Complete("n1", batch->ops[0].id, true, "",
                             R"({"export_name":"vbs-x","mount_point":"/vbs/home/alice"})")
                  .ok());
  auto shown = homes_->Get(alice_, "alice");
  ASSERT_TRUE(shown.ok());
  ASSERT_TRUE(shown->attachment);
  EXPECT_EQ(shown->attachment->state, "attached");
  EXPECT_EQ(shown->attachment->mount_point, "/vbs/home/alice");
  // Attached: a second attach (any node) and a delete are VolumeInUse, naming the node.
  auto twice = homes_->Attach(alice_, "alice", "n2");
  EXPECT_EQ(twice.status().code(), "VolumeInUse");
  EXPECT_NE(twice.status().message().find("node 'n1'"), std::string::npos);
  EXPECT_EQ(homes_->Delete(alice_, "alice").status().code(), "VolumeInUse");
  ASSERT_TRUE(homes_->Detach(alice_, "alice", false).ok());
  RunAgent();
  EXPECT_FALSE(homes_->Get(alice_, "alice")->attachment);
  EXPECT_EQ(homes_->Detach(alice_, "alice", false).status().code(), "IncorrectState");
  auto gone = homes_->Delete(alice_, "alice");
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  RunAgent();
  EXPECT_EQ(homes_->Get(alice_, "alice").status().code(), "HomeNotFound");
  EXPECT_EQ(h.volume.id, gone->volume.id);
}

// The home's mark is reserved: users' tag changes (even "remove all") leave it alone.
TEST_F(HomeServiceTest, TagChangesKeepTheHomeMark) {
  Home h = MustCreateHome(alice_);
  TagService tags(*store_);
  EXPECT_EQ(tags.AddTags(alice_, {h.volume.id}, {{kHomeTag, "bob"}}).code(),
            "InvalidParameterValue");
  ASSERT_TRUE(tags.AddTags(alice_, {h.volume.id}, {{"Name", "home"}}).ok());
  ASSERT_TRUE(tags.RemoveTags(alice_, {h.volume.id}, {}).ok());
  auto v = volumes_->Get(alice_, h.volume.id);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->tags, (Tags{{kHomeTag, "alice"}}));
  EXPECT_TRUE(homes_->Get(alice_, "alice").ok());
}

// Restore replaces a detached home with a volume from a snapshot of one of the user's homes;
// the former home stays, marked, and a restore from its snapshot works again later.
TEST_F(HomeServiceTest, RestoreReplacesADetachedHomeAndKeepsTheFormerOne) {
  Home h = MustCreateHome(alice_);
  auto snap = homes_->Snapshot(alice_, "alice", "");
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(snap->volume_id, h.volume.id);
  EXPECT_EQ(snap->description, "home of alice");
  EXPECT_EQ(homes_->Snapshot(bob_, "alice", "").status().code(), "HomeNotFound");
  RunAgent();
  // Attached: refused, nothing changed.
  ASSERT_TRUE(homes_->Attach(alice_, "alice", "n1").ok());
  RunAgent();
  std::string former;
  EXPECT_EQ(homes_->Restore(alice_, "alice", snap->id, &former).status().code(), "VolumeInUse");
  ASSERT_TRUE(homes_->Detach(alice_, "alice", false).ok());
  RunAgent();
  // Bob cannot restore alice's home, nor his own from her snapshot.
  EXPECT_EQ(homes_->Restore(bob_, "alice", snap->id, &former).status().code(), "HomeNotFound");
  MustCreateHome(bob_);
  EXPECT_EQ(homes_->Restore(bob_, "bob", snap->id, &former).status().code(),
            "InvalidSnapshot.NotFound");
  ASSERT_TRUE(homes_->Delete(bob_, "bob").ok());
  RunAgent();
  // A snapshot of a volume that is not a home of alice's is refused.
  CreateVolumeRequest plain;
  plain.size = 1ull << 20;
  auto other = volumes_->Create(alice_, plain);
  ASSERT_TRUE(other.ok());
  RunAgent();
  auto other_snap = snapshots_->Create(alice_, {other->id, "", {}});
  ASSERT_TRUE(other_snap.ok());
  RunAgent();
  EXPECT_EQ(homes_->Restore(alice_, "alice", other_snap->id, &former).status().code(),
            "InvalidParameterValue");
  EXPECT_EQ(homes_->Get(alice_, "alice")->volume.id, h.volume.id);

  auto restored = homes_->Restore(alice_, "alice", snap->id, &former);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(former, h.volume.id);
  EXPECT_NE(restored->volume.id, h.volume.id);
  EXPECT_EQ(restored->volume.snapshot_id, snap->id);
  RunAgent();
  auto now = homes_->Get(alice_, "alice");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->volume.id, restored->volume.id);
  EXPECT_EQ(now->volume.state, "available");
  auto old = volumes_->Get(alice_, h.volume.id);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->state, "available");
  EXPECT_EQ(old->tags, (Tags{{kFormerHomeTag, "alice"}}));
  // The former home's snapshot still restores (a snapshot of a former home).
  std::string former2;
  ASSERT_TRUE(homes_->Restore(alice_, "alice", snap->id, &former2).ok());
  EXPECT_EQ(former2, restored->volume.id);
  EXPECT_EQ(homes_->List(alice_)->size(), 1u);
}

// The node's reports of the mounted file system's usage land on the home's attachment.
TEST_F(HomeServiceTest, UsageReportedByTheNodeShowsOnTheHome) {
  EXPECT_EQ(homes_->Create(alice_, std::nullopt, 8ull << 20, std::nullopt).status().code(),
            "InvalidParameterValue");
  Home h = MustCreateHome(alice_);
  ASSERT_TRUE(homes_->Attach(alice_, "alice", "n1").ok());
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->ops.size(), 1u);
  ASSERT_TRUE(work_->Claim("n1", batch->ops[0].id).ok());
  ASSERT_TRUE(work_
                  ->Complete("n1", batch->ops[0].id, true, "",
                             R"({"mount_point":"/vbs/home/alice","fs_size":1000,"fs_used":10,)"
                             R"("fs_free":900})")
                  .ok());
  auto shown = homes_->Get(alice_, "alice");
  ASSERT_TRUE(shown.ok() && shown->attachment);
  EXPECT_EQ(shown->attachment->fs_used, 10);
  EXPECT_GT(shown->attachment->fs_reported_at.value_or(0), 0);
  // Reports from another node, or of a volume not mounted, change nothing.
  ASSERT_TRUE(work_->ReportMounts("n2", {{h.volume.id, 1000, 500, 400}}).ok());
  ASSERT_TRUE(work_->ReportMounts("n1", {{"vol-0123456789abcdef0", 1000, 500, 400}}).ok());
  EXPECT_EQ(homes_->Get(alice_, "alice")->attachment->fs_used, 10);
  ASSERT_TRUE(work_->ReportMounts("n1", {{h.volume.id, 1000, 600, 300}}).ok());
  shown = homes_->Get(alice_, "alice");
  EXPECT_EQ(shown->attachment->fs_used, 600);
  EXPECT_EQ(shown->attachment->fs_free, 300);
  EXPECT_EQ(shown->attachment->fs_size, 1000);
}

}  // namespace
}  // namespace vbs
