#include "core/tag_service.h"

#include "core/core_test_util.h"

namespace vbs {
namespace {

class TagServiceTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    tags_ = std::make_unique<TagService>(*store_);
  }
  Tags VolumeTags(const std::string& id) { return volumes_->Get(alice_, id)->tags; }
  std::unique_ptr<TagService> tags_;
};

TEST_F(TagServiceTest, AddOverwritesAndRemoveHonoursValues) {
  auto v = MustCreate(alice_, 1 << 20);
  RunAgent();
  ASSERT_TRUE(tags_->AddTags(alice_, {v.id}, {{"a", "1"}, {"b", "2"}, {"c", ""}}).ok());
  ASSERT_TRUE(tags_->AddTags(alice_, {v.id}, {{"a", "9"}}).ok());
  EXPECT_EQ(VolumeTags(v.id), (Tags{{"a", "9"}, {"b", "2"}, {"c", ""}}));
  // b only when its value is "x" (it is not); c whatever the value; a only when empty.
  ASSERT_TRUE(tags_->RemoveTags(alice_, {v.id}, {{"b", "x"}, {"c", std::nullopt}, {"a", ""}}).ok());
  EXPECT_EQ(VolumeTags(v.id), (Tags{{"a", "9"}, {"b", "2"}}));
  ASSERT_TRUE(tags_->RemoveTags(alice_, {v.id}, {}).ok());  // no keys: all of them
  EXPECT_TRUE(VolumeTags(v.id).empty());
}

TEST_F(TagServiceTest, AllResourcesOrNone) {
  auto v = MustCreate(alice_, 1 << 20);
  auto other = MustCreate(bob_, 1 << 20);
  RunAgent();
  Status st = tags_->AddTags(alice_, {v.id, other.id}, {{"k", "v"}});
  EXPECT_EQ(st.code(), "InvalidVolume.NotFound");  // bob's volume: not found, like a missing one
  EXPECT_TRUE(VolumeTags(v.id).empty());           // and nothing changed on alice's
  EXPECT_EQ(tags_->AddTags(alice_, {"vol-123"}, {{"k", "v"}}).code(), "InvalidVolumeID.Malformed");
  EXPECT_EQ(tags_->AddTags(alice_, {"ami-123"}, {{"k", "v"}}).code(), "InvalidID");
  EXPECT_EQ(tags_->AddTags(alice_, {v.id}, {{"vbs:x", "v"}}).code(), "InvalidParameterValue");
  Tags many;
  for (int i = 0; i < 50; ++i) many["k" + std::to_string(i)] = "v";
  ASSERT_TRUE(tags_->AddTags(alice_, {v.id}, many).ok());
  EXPECT_EQ(tags_->AddTags(alice_, {v.id}, {{"one-more", "v"}}).code(), "TagLimitExceeded");
  EXPECT_EQ(VolumeTags(v.id).size(), 50u);
}

TEST_F(TagServiceTest, SnapshotsAndListingByOwner) {
  auto v = MustCreate(alice_, 1 << 20);
  MustCreate(bob_, 1 << 20);
  RunAgent();
  CreateSnapshotRequest sr;
  sr.volume_id = v.id;
  auto s = snapshots_->Create(alice_, sr);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(tags_->AddTags(alice_, {v.id, s->id}, {{"team", "db"}}).ok());
  auto mine = tags_->List(alice_);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  for (const auto& r : *mine) EXPECT_EQ(r.tags.at("team"), "db");
  EXPECT_EQ(tags_->List(bob_)->size(), 1u);
  EXPECT_EQ(tags_->List(admin_)->size(), 3u);
}

}  // namespace
}  // namespace vbs
