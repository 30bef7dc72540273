// The store contract for volume modifications (resize history), on SQLite and PostgreSQL.
#include "store/store_contract_testing.h"

namespace vbs {
namespace {

class ModificationStoreTest : public storetest::StoreContractTest {};

TEST_P(ModificationStoreTest, RoundTripAndFilter) {
  auto mod = [](const std::string& id, const std::string& vol, const std::string& owner,
                int64_t at) {
    VolumeModificationRecord m;
    m.id = id;
    m.volume_id = vol;
    m.owner = owner;
    m.state = "modifying";
    m.original_size = 1ull << 20;
    m.target_size = 5ull << 40;  // past 32 bits
    m.created_at = m.updated_at = at;
    return m;
  };
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) -> Status {
                    VBS_RETURN_IF_ERROR(tx.InsertVolumeModification(
                        mod("mod-00000000000000002", "vol-00000000000000001", "a", 2)));
                    VBS_RETURN_IF_ERROR(tx.InsertVolumeModification(
                        mod("mod-00000000000000001", "vol-00000000000000001", "a", 1)));
                    return tx.InsertVolumeModification(
                        mod("mod-00000000000000003", "vol-00000000000000002", "b", 3));
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) -> Status {
                    auto m = *tx.GetVolumeModification("mod-00000000000000002");
                    EXPECT_TRUE(m.has_value());
                    m->state = "failed";
                    m->progress = 100;
                    m->error = "disk full";
                    m->updated_at = 9;
                    return tx.UpdateVolumeModification(*m);
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto got = *tx.GetVolumeModification("mod-00000000000000002");
                    EXPECT_TRUE(got.has_value());
                    EXPECT_EQ(got->volume_id, "vol-00000000000000001");
                    EXPECT_EQ(got->state, "failed");
                    EXPECT_EQ(got->original_size, 1ull << 20);
                    EXPECT_EQ(got->target_size, 5ull << 40);
                    EXPECT_EQ(got->progress, 100);
                    EXPECT_EQ(got->error, "disk full");
                    EXPECT_EQ(got->created_at, 2);
                    EXPECT_EQ(got->updated_at, 9);
                    EXPECT_FALSE(tx.GetVolumeModification("mod-0000000000000000f")->has_value());
                    VolumeModificationFilter f;
                    f.volume_id = "vol-00000000000000001";
                    auto list = *tx.ListVolumeModifications(f);
                    EXPECT_EQ(list.size(), 2u);
                    if (list.size() == 2) {
                      EXPECT_EQ(list[0].id, "mod-00000000000000001");  // oldest first
                      EXPECT_EQ(list[1].id, "mod-00000000000000002");
                    }
                    f = {};
                    f.owner = "b";
                    EXPECT_EQ(tx.ListVolumeModifications(f)->size(), 1u);
                    f = {};
                    f.state = "modifying";
                    EXPECT_EQ(tx.ListVolumeModifications(f)->size(), 2u);
                    EXPECT_EQ(tx.ListVolumeModifications({})->size(), 3u);
                    return Status::Ok();
                  })
                  .ok());
  Status dup = store_->Transact([&](Transaction& tx) {
    return tx.InsertVolumeModification(
        mod("mod-00000000000000001", "vol-00000000000000001", "a", 4));
  });
  EXPECT_EQ(dup.kind(), StatusKind::kAlreadyExists) << dup.ToString();
  Status missing = store_->Transact([&](Transaction& tx) {
    return tx.UpdateVolumeModification(
        mod("mod-0000000000000000e", "vol-00000000000000001", "a", 4));
  });
  EXPECT_FALSE(missing.ok());
}

INSTANTIATE_TEST_SUITE_P(Stores, ModificationStoreTest, storetest::AllStores(),
                         storetest::StoreName);

}  // namespace
}  // namespace vbs
