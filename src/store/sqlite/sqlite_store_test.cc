// The store contract, on SQLite files in a temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "store/schema.h"
#include "store/sqlite/sqlite_connection.h"

namespace vbs {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vbs-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/meta.db";
    auto s = OpenSqliteStore(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Status AddPool(const std::string& name, uint64_t capacity) {
    return store_->Transact([&](Transaction& tx) {
      return tx.UpsertPool(PoolRecord{name, "n1", "dir", false, capacity, 0});
    });
  }

  std::string dir_, path_;
  std::unique_ptr<MetadataStore> store_;
};

VolumeRecord MakeVolume(const std::string& id, const std::string& owner) {
  VolumeRecord v;
  v.id = id;
  v.owner = owner;
  v.size = 1 << 20;
  v.pool = "p";
  v.state = "creating";
  v.tags = {{"Name", "db"}, {"env", "prod"}};
  v.created_at = 1;
  v.updated_at = 1;
  return v;
}

TEST_F(SqliteStoreTest, VolumeRoundTripAndFilters) {
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    VBS_RETURN_IF_ERROR(
                        tx.InsertVolume(MakeVolume("vol-00000000000000001", "alice")));
                    auto b = MakeVolume("vol-00000000000000002", "bob");
                    b.state = "deleted";
                    return tx.InsertVolume(b);
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto v = tx.GetVolume("vol-00000000000000001");
                    EXPECT_TRUE(v.ok());
                    EXPECT_TRUE(v->has_value());
                    EXPECT_EQ((*v)->owner, "alice");
                    EXPECT_EQ((*v)->tags.at("env"), "prod");
                    EXPECT_FALSE((*v)->snapshot_id.has_value());
                    auto all = tx.ListVolumes({});
                    EXPECT_EQ(all->size(), 1u);  // deleted ones are hidden by default
                    VolumeFilter f;
                    f.include_deleted = true;
                    EXPECT_EQ(tx.ListVolumes(f)->size(), 2u);
                    f.owner = "bob";
                    EXPECT_EQ(tx.ListVolumes(f)->size(), 1u);
                    auto missing = tx.GetVolume("vol-0000000000000000f");
                    EXPECT_FALSE(missing->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(SqliteStoreTest, FailedTransactionChangesNothing) {
  Status st = store_->Transact([&](Transaction& tx) {
    VBS_RETURN_IF_ERROR(tx.InsertVolume(MakeVolume("vol-00000000000000001", "alice")));
    return Status::Conflict("Test", "abort on purpose");
  });
  EXPECT_EQ(st.code(), "Test");
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    EXPECT_FALSE(tx.GetVolume("vol-00000000000000001")->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(SqliteStoreTest, DuplicateIdIsAnError) {
  auto insert = [&] {
    return store_->Transact(
        [&](Transaction& tx) { return tx.InsertVolume(MakeVolume("vol-00000000000000001", "a")); });
  };
  ASSERT_TRUE(insert().ok());
  EXPECT_EQ(insert().kind(), StatusKind::kAlreadyExists);
}

TEST_F(SqliteStoreTest, ReservationNeverOverCommits) {
  ASSERT_TRUE(AddPool("p", 10).ok());
  bool ok1 = false, ok2 = false;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    ok1 = *tx.TryReserve("p", 6);
                    ok2 = *tx.TryReserve("p", 6);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(ok1);
  EXPECT_FALSE(ok2);
  ASSERT_TRUE(store_->Transact([&](Transaction& tx) { return tx.Release("p", 6); }).ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ((*tx.GetPool("p"))->reserved, 0u);
                    EXPECT_TRUE(*tx.TryReserve("p", 10));
                    return Status::Ok();
                  })
                  .ok());
}

// Two connections (as two server processes would have) reserving concurrently.
TEST_F(SqliteStoreTest, ConcurrentReservationsAcrossConnections) {
  ASSERT_TRUE(AddPool("p", 100).ok());
  auto other = OpenSqliteStore(path_);
  ASSERT_TRUE(other.ok());
  std::atomic<int> granted{0};
  auto worker = [&](MetadataStore* s) {
    for (int i = 0; i < 50; ++i) {
      Status st = s->Transact([&](Transaction& tx) {
        VBS_ASSIGN_OR_RETURN(bool ok, tx.TryReserve("p", 3));
        if (ok) granted++;
        return Status::Ok();
      });
      ASSERT_TRUE(st.ok()) << st.ToString();
    }
  };
  std::thread a(worker, store_.get()), b(worker, other->get());
  a.join();
  b.join();
  EXPECT_EQ(granted.load(), 33);  // floor(100 / 3)
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ((*tx.GetPool("p"))->reserved, 99u);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(SqliteStoreTest, OperationTransitionIsConditional) {
  OperationRecord op;
  op.id = "op-00000000000000001";
  op.kind = "create_volume";
  op.resource_id = "vol-00000000000000001";
  op.pool = "p";
  op.node = "n1";
  op.state = "pending";
  op.params = "{}";
  ASSERT_TRUE(store_->Transact([&](Transaction& tx) { return tx.InsertOperation(op); }).ok());
  op.state = "running";
  bool first = false, second = false;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    first = *tx.TryTransitionOp(op, "pending");
                    second = *tx.TryTransitionOp(op, "pending");
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    OperationFilter f;
                    f.node = "n1";
                    f.state = "running";
                    EXPECT_EQ(tx.ListOperations(f)->size(), 1u);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(SqliteStoreTest, RevisionBumpsAndPersists) {
  int64_t r1 = 0, r2 = 0;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    r1 = *tx.BumpRevision();
                    r2 = *tx.BumpRevision();
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(r2, r1 + 1);
  store_.reset();
  auto again = OpenSqliteStore(path_);  // reopen: migrations are not re-run, data is kept
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ(*tx.Revision(), r2);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(SqliteStoreTest, RefusesNewerSchema) {
  store_.reset();
  auto conn = SqliteConnection::Open(path_);
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(
      (*conn)->ExecScript("UPDATE meta SET value = '999' WHERE key = 'schema_version'").ok());
  conn->reset();
  auto s = OpenSqliteStore(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("newer"), std::string::npos);
}

}  // namespace
}  // namespace vbs
