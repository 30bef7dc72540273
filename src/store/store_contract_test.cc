// The store contract: every test runs on SQLite and on PostgreSQL (store_contract_testing.h).
#include <atomic>
#include <thread>

#include "store/store_contract_testing.h"

namespace vbs {
namespace {

using storetest::StoreContractTest;

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

TEST_P(StoreContractTest, VolumeRoundTripAndFilters) {
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

TEST_P(StoreContractTest, FailedTransactionChangesNothing) {
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

TEST_P(StoreContractTest, DuplicateIdIsAnError) {
  auto insert = [&] {
    return store_->Transact(
        [&](Transaction& tx) { return tx.InsertVolume(MakeVolume("vol-00000000000000001", "a")); });
  };
  ASSERT_TRUE(insert().ok());
  EXPECT_EQ(insert().kind(), StatusKind::kAlreadyExists);
}

TEST_P(StoreContractTest, ReservationNeverOverCommits) {
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
TEST_P(StoreContractTest, ConcurrentReservationsAcrossConnections) {
  ASSERT_TRUE(AddPool("p", 100).ok());
  auto other = backend_->Open();
  ASSERT_TRUE(other.ok());
  std::atomic<int> granted{0};
  auto worker = [&](MetadataStore* s) {
    for (int i = 0; i < 50; ++i) {
      bool ok = false;  // counted after the commit: fn may run more than once
      Status st = s->Transact([&](Transaction& tx) {
        VBS_ASSIGN_OR_RETURN(ok, tx.TryReserve("p", 3));
        return Status::Ok();
      });
      ASSERT_TRUE(st.ok()) << st.ToString();
      if (ok) granted++;
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

TEST_P(StoreContractTest, OperationTransitionIsConditional) {
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

TEST_P(StoreContractTest, RevisionBumpsAndPersists) {
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
  auto again = backend_->Open();  // reopen: migrations are not re-run, data is kept
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ(*tx.Revision(), r2);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreContractTest, RefusesNewerSchema) {
  store_.reset();
  auto conn = backend_->Connect();
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(
      (*conn)->ExecScript("UPDATE meta SET value = '999' WHERE key = 'schema_version'").ok());
  conn->reset();
  auto s = backend_->Open();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("newer"), std::string::npos);
}

// Values that are hard for a driver: quotes, placeholders and backslashes inside text,
// UTF-8, empty text (not NULL), sizes past 32 bits, every optional field set and unset.
TEST_P(StoreContractTest, TextAndNumbersRoundTripExactly) {
  VolumeRecord v = MakeVolume("vol-00000000000000001", "o'brien \"q\" ? $1 \\\\n");
  v.size = uint64_t{1} << 50;
  v.tags = {{"Name", "caf\xc3\xa9 \xe2\x9c\x93"}, {"empty", ""}, {"q?", "'; DROP TABLE x; --"}};
  v.error = "";
  v.snapshot_id = "snap-00000000000000001";
  v.client_token = "tok?";
  v.created_at = int64_t{1} << 42;
  v.updated_at = (int64_t{1} << 42) + 1;
  ASSERT_TRUE(store_->Transact([&](Transaction& tx) { return tx.InsertVolume(v); }).ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto got = tx.GetVolume(v.id);
                    EXPECT_TRUE(got.ok() && got->has_value());
                    const VolumeRecord& g = **got;
                    EXPECT_EQ(g.owner, v.owner);
                    EXPECT_EQ(g.size, v.size);
                    EXPECT_EQ(g.tags, v.tags);
                    EXPECT_EQ(g.error, std::optional<std::string>(""));
                    EXPECT_EQ(g.snapshot_id, v.snapshot_id);
                    EXPECT_EQ(g.client_token, v.client_token);
                    EXPECT_EQ(g.created_at, v.created_at);
                    EXPECT_EQ(g.updated_at, v.updated_at);
                    VolumeFilter f;
                    f.owner = v.owner;
                    EXPECT_EQ(tx.ListVolumes(f)->size(), 1u);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreContractTest, SnapshotsRoundTripAndFilter) {
  SnapshotRecord s;
  s.id = "snap-00000000000000001";
  s.owner = "alice";
  s.volume_id = "vol-00000000000000001";
  s.size = uint64_t{5} << 40;
  s.pool = "p";
  s.state = "pending";
  s.progress = 0;
  s.description = "nightly";
  s.tags = {{"k", "v"}};
  s.created_at = s.updated_at = 7;
  SnapshotRecord t = s;
  t.id = "snap-00000000000000002";
  t.volume_id = "vol-00000000000000002";
  t.created_at = 8;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    VBS_RETURN_IF_ERROR(tx.InsertSnapshot(s));
                    return tx.InsertSnapshot(t);
                  })
                  .ok());
  s.state = "completed";
  s.progress = 100;
  s.error = "none";
  s.updated_at = 9;
  ASSERT_TRUE(store_->Transact([&](Transaction& tx) { return tx.UpdateSnapshot(s); }).ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto got = tx.GetSnapshot(s.id);
                    EXPECT_TRUE(got.ok() && got->has_value());
                    EXPECT_EQ((*got)->state, "completed");
                    EXPECT_EQ((*got)->progress, 100);
                    EXPECT_EQ((*got)->error, std::optional<std::string>("none"));
                    EXPECT_EQ((*got)->size, s.size);
                    EXPECT_EQ((*got)->tags, s.tags);
                    EXPECT_EQ((*got)->updated_at, 9);
                    SnapshotFilter f;
                    EXPECT_EQ(tx.ListSnapshots(f)->size(), 2u);
                    f.volume_id = "vol-00000000000000002";
                    auto by_volume = tx.ListSnapshots(f);
                    EXPECT_EQ(by_volume->size(), 1u);
                    EXPECT_EQ(by_volume->at(0).id, t.id);
                    f = SnapshotFilter{};
                    f.state = "completed";
                    EXPECT_EQ(tx.ListSnapshots(f)->size(), 1u);
                    EXPECT_FALSE(tx.GetSnapshot("snap-0000000000000000f")->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreContractTest, OperationsRoundTripAndFilter) {
  OperationRecord op;
  op.id = "op-00000000000000001";
  op.kind = "create_volume";
  op.resource_id = "vol-00000000000000001";
  op.pool = "p";
  op.node = "n1";
  op.state = "pending";
  op.params = R"({"size":1048576})";
  op.created_at = op.updated_at = 5;
  OperationRecord other = op;
  other.id = "op-00000000000000002";
  other.node = "n2";
  other.created_at = 6;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    VBS_RETURN_IF_ERROR(tx.InsertOperation(op));
                    return tx.InsertOperation(other);
                  })
                  .ok());
  op.state = "failed";
  op.attempts = 3;
  op.lease_until = int64_t{1} << 41;
  op.error = "disk on fire";
  ASSERT_TRUE(store_->Transact([&](Transaction& tx) { return tx.UpdateOperation(op); }).ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto got = tx.GetOperation(op.id);
                    EXPECT_TRUE(got.ok() && got->has_value());
                    EXPECT_EQ((*got)->params, op.params);
                    EXPECT_EQ((*got)->attempts, 3);
                    EXPECT_EQ((*got)->lease_until, op.lease_until);
                    EXPECT_EQ((*got)->error, op.error);
                    OperationFilter f;
                    f.resource_id = op.resource_id;
                    auto both = tx.ListOperations(f);
                    EXPECT_EQ(both->size(), 2u);
                    EXPECT_EQ(both->at(0).id, op.id);  // ordered by creation
                    f.node = "n2";
                    EXPECT_EQ(tx.ListOperations(f)->size(), 1u);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreContractTest, PoolsNodesAndUsers) {
  ASSERT_TRUE(AddPool("b", 100).ok());
  ASSERT_TRUE(AddPool("a", 50).ok());
  ASSERT_TRUE(
      store_->Transact([&](Transaction& tx) { return tx.TryReserve("b", 40).status(); }).ok());
  // An upsert changes the pool's settings but keeps its reservation.
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    return tx.UpsertPool(PoolRecord{"b", "n2", "rbd", true, 200, 0});
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) -> Status {
                    VBS_RETURN_IF_ERROR(tx.UpsertNode(NodeRecord{"n1", 1, 10}));
                    VBS_RETURN_IF_ERROR(tx.UpsertNode(NodeRecord{"n1", 2, 20}));
                    VBS_RETURN_IF_ERROR(tx.UpsertNode(NodeRecord{"n0", 1, 30}));
                    VBS_RETURN_IF_ERROR(tx.InsertUser(UserRecord{"zed", "user", 1}));
                    return tx.InsertUser(UserRecord{"admin", "admin", 2});
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto pools = tx.ListPools();
                    EXPECT_EQ(pools->size(), 2u);
                    EXPECT_EQ(pools->at(0).name, "a");
                    const PoolRecord& b = pools->at(1);
                    EXPECT_EQ(b.node, "n2");
                    EXPECT_EQ(b.type, "rbd");
                    EXPECT_TRUE(b.shared);
                    EXPECT_EQ(b.capacity, 200u);
                    EXPECT_EQ(b.reserved, 40u);
                    EXPECT_FALSE(tx.GetPool("zz")->has_value());
                    auto nodes = tx.ListNodes();
                    EXPECT_EQ(nodes->size(), 2u);
                    EXPECT_EQ(nodes->at(0).name, "n0");
                    auto n1 = tx.GetNode("n1");
                    EXPECT_EQ((*n1)->epoch, 2);
                    EXPECT_EQ((*n1)->last_heartbeat, 20);
                    auto users = tx.ListUsers();
                    EXPECT_EQ(users->size(), 2u);
                    EXPECT_EQ(users->at(0).name, "admin");
                    EXPECT_EQ((*tx.GetUser("zed"))->role, "user");
                    EXPECT_FALSE(tx.GetUser("nobody")->has_value());
                    return Status::Ok();
                  })
                  .ok());
  Status dup = store_->Transact([&](Transaction& tx) {
    return tx.InsertUser(UserRecord{"zed", "admin", 3});
  });
  EXPECT_EQ(dup.kind(), StatusKind::kAlreadyExists) << dup.ToString();
}

TEST_P(StoreContractTest, ReleaseNeverGoesBelowZero) {
  ASSERT_TRUE(AddPool("p", 10).ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) -> Status {
                    EXPECT_TRUE(*tx.TryReserve("p", 4));
                    VBS_RETURN_IF_ERROR(tx.Release("p", 4));
                    return tx.Release("p", 4);  // a repeated release
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ((*tx.GetPool("p"))->reserved, 0u);
                    EXPECT_FALSE(*tx.TryReserve("p", 11));
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_FALSE(store_->Transact([&](Transaction& tx) { return tx.Release("nope", 1); }).ok());
}

// The idempotency token is unique per owner (a partial unique index: NULLs do not collide).
TEST_P(StoreContractTest, ClientTokenIsUniquePerOwner) {
  auto with_token = [](const std::string& id, const std::string& owner,
                       std::optional<std::string> token) {
    VolumeRecord v = MakeVolume(id, owner);
    v.client_token = std::move(token);
    return v;
  };
  ASSERT_TRUE(
      store_
          ->Transact([&](Transaction& tx) -> Status {
            VBS_RETURN_IF_ERROR(tx.InsertVolume(with_token("vol-00000000000000001", "a", "t1")));
            VBS_RETURN_IF_ERROR(tx.InsertVolume(with_token("vol-00000000000000002", "b", "t1")));
            VBS_RETURN_IF_ERROR(
                tx.InsertVolume(with_token("vol-00000000000000003", "a", std::nullopt)));
            return tx.InsertVolume(with_token("vol-00000000000000004", "a", std::nullopt));
          })
          .ok());
  Status dup = store_->Transact([&](Transaction& tx) {
    return tx.InsertVolume(with_token("vol-00000000000000005", "a", "t1"));
  });
  EXPECT_EQ(dup.kind(), StatusKind::kAlreadyExists) << dup.ToString();
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto found = tx.FindVolumeByToken("b", "t1");
                    EXPECT_TRUE(found.ok() && found->has_value());
                    EXPECT_EQ((*found)->id, "vol-00000000000000002");
                    EXPECT_FALSE(tx.FindVolumeByToken("b", "t2")->has_value());
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreContractTest, AccessKeysRoundTripByIdAndUser) {
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  ASSERT_TRUE(
      store_
          ->Transact([&](Transaction& tx) -> Status {
            VBS_RETURN_IF_ERROR(
                tx.InsertAccessKey({"AKIA0000000000000002", "bob", "s2", "active", 2}));
            VBS_RETURN_IF_ERROR(
                tx.InsertAccessKey({"AKIA0000000000000001", "alice", secret, "active", 1}));
            return tx.InsertAccessKey({"AKIA0000000000000003", "alice", "s3", "inactive", 3});
          })
          .ok());
  Status dup = store_->Transact([&](Transaction& tx) {
    return tx.InsertAccessKey({"AKIA0000000000000001", "bob", "x", "active", 4});
  });
  EXPECT_EQ(dup.kind(), StatusKind::kAlreadyExists) << dup.ToString();
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    auto k = tx.GetAccessKey("AKIA0000000000000001");
                    EXPECT_TRUE(k.ok() && k->has_value());
                    EXPECT_EQ((*k)->user, "alice");
                    EXPECT_EQ((*k)->secret, secret);  // exactly, '/' and '+' included
                    EXPECT_EQ((*k)->state, "active");
                    EXPECT_EQ((*k)->created_at, 1);
                    EXPECT_FALSE(tx.GetAccessKey("AKIA0000000000000009")->has_value());
                    auto alices = tx.ListAccessKeys(std::string("alice"));
                    EXPECT_EQ(alices->size(), 2u);
                    EXPECT_EQ(alices->at(1).state, "inactive");
                    EXPECT_EQ(tx.ListAccessKeys(std::nullopt)->size(), 3u);
                    EXPECT_TRUE(tx.ListAccessKeys(std::string("carol"))->empty());
                    return Status::Ok();
                  })
                  .ok());
}

TEST_P(StoreContractTest, UpdatingAMissingRowIsAnError) {
  Status st = store_->Transact(
      [&](Transaction& tx) { return tx.UpdateVolume(MakeVolume("vol-0000000000000000f", "a")); });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.kind(), StatusKind::kUnavailable);  // not retried forever
}

// A transaction's own "unavailable" answer is final; only the database's contention is retried.
TEST_P(StoreContractTest, OnlyContentionIsRetried) {
  int calls = 0;
  Status st = store_->Transact([&](Transaction&) {
    ++calls;
    return Status(StatusKind::kUnavailable, "NodeUnavailable", "node n1 is down");
  });
  EXPECT_EQ(st.code(), "NodeUnavailable");
  EXPECT_EQ(calls, 1);
  calls = 0;
  st = store_->Transact(
      [&](Transaction&) { return ++calls < 3 ? Status::Unavailable("contention") : Status::Ok(); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(calls, 3);
}

TEST_P(StoreContractTest, PoolNodesAreWhatEachNodeDeclaredLast) {
  auto set = [&](const std::string& node, std::vector<std::string> pools) {
    return store_->Transact([&](Transaction& tx) { return tx.SetNodePools(node, pools); });
  };
  ASSERT_TRUE(set("a", {"shared", "local-a"}).ok());
  ASSERT_TRUE(set("b", {"shared"}).ok());
  ASSERT_TRUE(set("a", {"shared"}).ok());  // a restarted without local-a
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ(*tx.PoolNodes("shared"), (std::vector<std::string>{"a", "b"}));
                    EXPECT_TRUE(tx.PoolNodes("local-a")->empty());
                    return Status::Ok();
                  })
                  .ok());
}

// Servers race for a leader lease from their own stores: one holder at a time, renewals
// keep it, and it passes on only once it has expired.
TEST_P(StoreContractTest, LeaderLeaseHasOneHolderAtATime) {
  auto other = backend_->Open();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto acquire = [](MetadataStore& s, const std::string& who, int64_t now) {
    bool won = false;
    EXPECT_TRUE(s.Transact([&](Transaction& tx) -> Status {
                   VBS_ASSIGN_OR_RETURN(won, tx.TryAcquireLease("sweep", who, now, now + 10));
                   return Status::Ok();
                 }).ok());
    return won;
  };
  EXPECT_TRUE(acquire(*store_, "s1", 100));
  EXPECT_FALSE(acquire(**other, "s2", 105));
  EXPECT_TRUE(acquire(*store_, "s1", 108));  // renewed until 118
  EXPECT_FALSE(acquire(**other, "s2", 115));
  EXPECT_TRUE(acquire(**other, "s2", 119));  // expired: taken over
  EXPECT_FALSE(acquire(*store_, "s1", 120));
  for (int64_t round = 0; round < 20; ++round) {  // concurrent takeovers: exactly one wins
    const int64_t now = 1000 + round * 100;
    std::atomic<int> winners{0};
    std::thread t1([&] { winners += acquire(*store_, "s1", now); });
    std::thread t2([&] { winners += acquire(**other, "s2", now); });
    t1.join();
    t2.join();
    EXPECT_EQ(winners.load(), 1) << "round " << round;
  }
}

// Two stores starting at once on an empty database both come up, and migrate it once.
TEST_P(StoreContractTest, ConcurrentOpensMigrateOnce) {
  store_.reset();
  auto fresh = GetParam().make();
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto s = (*fresh)->Open();
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      if (s.ok()) opened++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 4);
  auto conn = (*fresh)->Connect();
  ASSERT_TRUE(conn.ok());
  auto version = (*conn)->Query("SELECT value FROM meta WHERE key = 'schema_version'", {});
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  ASSERT_EQ(version->size(), 1u);
  EXPECT_EQ(version->at(0).Text(0), std::to_string(LatestSchemaVersion()));
  auto counters = (*conn)->Query("SELECT COUNT(*) FROM counters", {});
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ(counters->at(0).Int(0), 1);  // the migration's INSERT ran once
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContractTest, storetest::AllStores(), storetest::StoreName);

}  // namespace
}  // namespace vbs
