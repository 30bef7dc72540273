// What only PostgreSQL has: the placeholder rewrite and type mapping, its error classes, and
// real concurrency — several connections (as several `vbsd server`s) racing on the rules the
// store promises, serialization failures that must be retried, and servers that restart.
// The shared contract is in store/store_contract_test.cc. Starts private servers with
// tests/pg/pg-server.sh; fails (never skips) when that is impossible.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <latch>
#include <thread>

#include "store/postgres/pg_testing.h"
#include "store/postgres/postgres_connection.h"
#include "store/schema.h"

namespace vbs {
namespace {

TEST(RewritePlaceholders, NumbersPlaceholdersOutsideQuotesAndComments) {
  auto r = RewritePlaceholders("SELECT a FROM t WHERE b = ? AND c = ?", 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "SELECT a FROM t WHERE b = $1 AND c = $2");
  const std::string tricky =
      "SELECT '?', 'it''s ?', E'\\'?', \"we?rd\"\"?\", $$ ? $$, $x$ ? $x$, ? -- why?\n"
      ", /* a /* nested ? */ comment ? */ ?, a$b, ?";
  r = RewritePlaceholders(tricky, 3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r,
            "SELECT '?', 'it''s ?', E'\\'?', \"we?rd\"\"?\", $$ ? $$, $x$ ? $x$, $1 -- why?\n"
            ", /* a /* nested ? */ comment ? */ $2, a$b, $3");
  // Without E, a backslash is an ordinary character (standard_conforming_strings).
  r = RewritePlaceholders("SELECT 'a\\', ?", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "SELECT 'a\\', $1");
  EXPECT_FALSE(RewritePlaceholders("SELECT ?", 2).ok());
  EXPECT_FALSE(RewritePlaceholders("SELECT '?'", 1).ok());
}

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto base = pgtest::SharedConninfo();
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    base_ = *base;
    auto schema = pgtest::Schema::Create(base_);
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    schema_ = std::move(schema).value();
    conninfo_ = schema_->conninfo();
  }

  std::unique_ptr<PostgresConnection> Connect() {
    auto c = PostgresConnection::Open(conninfo_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  std::unique_ptr<MetadataStore> OpenStore(const std::string& extra = "") {
    auto s = OpenPostgresStore(conninfo_ + " " + extra);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // N stores, as N servers would have.
  std::vector<std::unique_ptr<MetadataStore>> OpenStores(int n) {
    std::vector<std::unique_ptr<MetadataStore>> stores;
    for (int i = 0; i < n; ++i) stores.push_back(OpenStore());
    return stores;
  }

  std::unique_ptr<pgtest::Schema> schema_;
  std::string base_, conninfo_;
};

TEST_F(PostgresTest, ColumnTypesAndRowCounts) {
  auto c = Connect();
  ASSERT_TRUE(c);
  auto rows = c->Query("SELECT ?::int2, ?::int4, ?, true, 'x' || ?, NULL, 1.5::numeric, ?::text",
                       {
                           int64_t{-2},
                           int64_t{4},
                           int64_t{1} << 40,
                           std::string("y"),
                           std::monostate{},
                       });
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  const SqlRow& r = rows->at(0);
  EXPECT_EQ(std::get<int64_t>(r.columns.at(0)), -2);
  EXPECT_EQ(std::get<int64_t>(r.columns.at(1)), 4);
  EXPECT_EQ(std::get<int64_t>(r.columns.at(2)), int64_t{1} << 40);
  EXPECT_EQ(std::get<int64_t>(r.columns.at(3)), 1);
  EXPECT_EQ(std::get<std::string>(r.columns.at(4)), "xy");
  EXPECT_TRUE(r.IsNull(5));
  EXPECT_EQ(std::get<std::string>(r.columns.at(6)), "1.5");
  EXPECT_TRUE(r.IsNull(7));

  ASSERT_TRUE(c->ExecScript("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL)").ok());
  EXPECT_EQ(*c->Exec("INSERT INTO t VALUES (?, ?), (?, ?)", {"a", int64_t{1}, "b", int64_t{2}}), 2);
  EXPECT_EQ(*c->Exec("UPDATE t SET n = n + 1", {}), 2);
  EXPECT_EQ(*c->Exec("UPDATE t SET n = 0 WHERE k = ?", {"zz"}), 0);
  EXPECT_EQ(c->dialect(), "postgres");
}

TEST_F(PostgresTest, ErrorKinds) {
  auto c = Connect();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->ExecScript("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT CHECK (n >= 0))").ok());
  ASSERT_TRUE(c->Exec("INSERT INTO t VALUES (?, ?)", {"a", int64_t{1}}).ok());
  Status dup = c->Exec("INSERT INTO t VALUES (?, ?)", {"a", int64_t{1}}).status();
  EXPECT_EQ(dup.kind(), StatusKind::kAlreadyExists);
  EXPECT_EQ(dup.code(), "ConstraintViolation");
  EXPECT_EQ(c->Exec("UPDATE t SET n = -1", {}).status().kind(), StatusKind::kAlreadyExists);
  EXPECT_EQ(c->Exec("INSERT INTO t VALUES (?, 1)", {std::string("a\0b", 3)}).status().kind(),
            StatusKind::kInvalidArgument);
  EXPECT_EQ(c->Exec("INSERT INTO t VALUES (?, 1)", {std::string("\xff\xfe")}).status().kind(),
            StatusKind::kInvalidArgument);
  EXPECT_EQ(c->ExecScript("SELEC 1").kind(), StatusKind::kInternal);
}

// PostgreSQL aborts the whole transaction at the first failed statement. Whatever fn does
// with that error, the transaction must not look committed; a swallowed serialization
// failure must still come back as kUnavailable so that the store retries.
TEST_F(PostgresTest, FailedStatementPoisonsTheTransaction) {
  auto a = Connect();
  auto b = Connect();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->ExecScript("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL);"
                            "INSERT INTO t VALUES ('x', 0)")
                  .ok());
  ASSERT_TRUE(a->Begin().ok());
  ASSERT_TRUE(a->Query("SELECT n FROM t WHERE k = 'x'", {}).ok());        // a's snapshot
  ASSERT_TRUE(b->Exec("UPDATE t SET n = n + 1 WHERE k = 'x'", {}).ok());  // b commits first
  Status st = a->Exec("UPDATE t SET n = n + 10 WHERE k = 'x'", {}).status();
  EXPECT_EQ(st.kind(), StatusKind::kUnavailable) << st.ToString();  // 40001
  EXPECT_EQ(a->Exec("INSERT INTO t VALUES ('y', 1)", {}).status().kind(), StatusKind::kUnavailable);
  EXPECT_EQ(a->Commit().kind(), StatusKind::kUnavailable);
  a->Rollback();
  auto n = a->Query("SELECT n FROM t WHERE k = 'x'", {});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->at(0).Int(0), 1);
  // A constraint violation, swallowed: Commit reports it instead of silently rolling back.
  ASSERT_TRUE(a->Begin().ok());
  EXPECT_EQ(a->Exec("INSERT INTO t VALUES ('x', 5)", {}).status().kind(),
            StatusKind::kAlreadyExists);
  EXPECT_EQ(a->Commit().kind(), StatusKind::kAlreadyExists);
}

// Write skew: each server checks a rule over rows (the owner has no volume yet), then
// inserts a different row. No row conflicts, so only SERIALIZABLE catches it: one commit
// wins, the other gets a serialization failure, the store runs it again and it sees the row.
TEST_F(PostgresTest, SerializationFailuresAreRetried) {
  auto stores = OpenStores(2);
  ASSERT_TRUE(stores[0] && stores[1]);
  std::latch both_read(2);
  std::atomic<int> runs{0};
  std::atomic<int> inserted{0};
  auto server = [&](MetadataStore* store, const std::string& id) {
    bool first = true;
    bool did_insert = false;
    Status st = store->Transact([&](Transaction& tx) -> Status {
      runs++;
      did_insert = false;
      VolumeFilter f;
      f.owner = "alice";
      VBS_ASSIGN_OR_RETURN(auto vols, tx.ListVolumes(f));
      if (first) {  // make the two first attempts overlap for sure
        first = false;
        both_read.arrive_and_wait();
      }
      if (!vols.empty()) return Status::Ok();
      VolumeRecord v;
      v.id = id;
      v.owner = "alice";
      v.size = 1;
      v.pool = "p";
      v.state = "creating";
      did_insert = true;
      return tx.InsertVolume(v);
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (st.ok() && did_insert) inserted++;
  };
  std::thread a(server, stores[0].get(), "vol-0000000000000000a");
  std::thread b(server, stores[1].get(), "vol-0000000000000000b");
  a.join();
  b.join();
  EXPECT_EQ(inserted.load(), 1);
  EXPECT_GE(runs.load(), 3);  // at least one retry
  ASSERT_TRUE(stores[0]
                  ->Transact([&](Transaction& tx) {
                    VolumeFilter f;
                    f.owner = "alice";
                    EXPECT_EQ(tx.ListVolumes(f)->size(), 1u);
                    return Status::Ok();
                  })
                  .ok());
}

// Four servers reserve from one pool as fast as they can: never more than the capacity,
// and what they were told they got is exactly what is reserved.
TEST_F(PostgresTest, RacingReservationsNeverOverCommit) {
  auto stores = OpenStores(4);
  constexpr uint64_t kCapacity = 1000;
  ASSERT_TRUE(stores[0]
                  ->Transact([&](Transaction& tx) {
                    return tx.UpsertPool(PoolRecord{"p", "n1", "dir", false, kCapacity, 0});
                  })
                  .ok());
  std::atomic<uint64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        uint64_t bytes = 7 + (t * 40 + i) % 13;
        bool ok = false;
        Status st = stores[t]->Transact([&](Transaction& tx) -> Status {
          VBS_ASSIGN_OR_RETURN(ok, tx.TryReserve("p", bytes));
          return Status::Ok();
        });
        EXPECT_TRUE(st.ok()) << st.ToString();
        if (st.ok() && ok) granted += bytes;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(stores[0]
                  ->Transact([&](Transaction& tx) {
                    auto p = tx.GetPool("p");
                    EXPECT_EQ((*p)->reserved, granted.load());
                    EXPECT_LE((*p)->reserved, kCapacity);
                    EXPECT_GT((*p)->reserved, kCapacity - 20);  // 4*40 asks of ~13 > capacity
                    return Status::Ok();
                  })
                  .ok());
}

// Four agents' servers claim the same pending operations: each has exactly one winner, and
// the row says who.
TEST_F(PostgresTest, RacingTransitionsHaveExactlyOneWinner) {
  auto stores = OpenStores(4);
  constexpr int kOps = 25;
  ASSERT_TRUE(stores[0]
                  ->Transact([&](Transaction& tx) -> Status {
                    for (int i = 0; i < kOps; ++i) {
                      OperationRecord op;
                      op.id = "op-" + std::to_string(100 + i);
                      op.kind = "create_volume";
                      op.resource_id = "vol-" + std::to_string(i);
                      op.pool = "p";
                      op.node = "none";
                      op.state = "pending";
                      op.params = "{}";
                      VBS_RETURN_IF_ERROR(tx.InsertOperation(op));
                    }
                    return Status::Ok();
                  })
                  .ok());
  std::vector<std::vector<std::string>> won(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        bool ok = false;
        OperationRecord op;
        Status st = stores[t]->Transact([&](Transaction& tx) -> Status {
          VBS_ASSIGN_OR_RETURN(auto cur, tx.GetOperation("op-" + std::to_string(100 + i)));
          if (!cur) return Status::Internal("missing op");
          op = *cur;
          op.state = "running";
          op.node = "node" + std::to_string(t);
          op.attempts++;
          VBS_ASSIGN_OR_RETURN(ok, tx.TryTransitionOp(op, "pending"));
          return Status::Ok();
        });
        EXPECT_TRUE(st.ok()) << st.ToString();
        if (st.ok() && ok) won[t].push_back(op.id);
      }
    });
  }
  for (auto& th : threads) th.join();
  size_t total = 0;
  for (auto& w : won) total += w.size();
  EXPECT_EQ(total, static_cast<size_t>(kOps));
  ASSERT_TRUE(stores[0]
                  ->Transact([&](Transaction& tx) {
                    for (int t = 0; t < 4; ++t) {
                      for (const auto& id : won[t]) {
                        auto op = tx.GetOperation(id);
                        EXPECT_EQ((*op)->node, "node" + std::to_string(t));
                        EXPECT_EQ((*op)->attempts, 1);
                        EXPECT_EQ((*op)->state, "running");
                      }
                    }
                    return Status::Ok();
                  })
                  .ok());
}

// UpsertPool is update-then-insert: servers registering the same new pool at once must all
// succeed (the loser's unique violation comes back as a serialization failure and retries).
TEST_F(PostgresTest, RacingUpsertsAllSucceed) {
  auto stores = OpenStores(4);
  for (int round = 0; round < 5; ++round) {
    std::latch go(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        go.arrive_and_wait();
        Status st = stores[t]->Transact([&](Transaction& tx) -> Status {
          VBS_RETURN_IF_ERROR(tx.UpsertNode(NodeRecord{"n" + std::to_string(round), t, t}));
          return tx.UpsertPool(
              PoolRecord{"p" + std::to_string(round), "n1", "dir", false, uint64_t(10 + t), 0});
        });
        EXPECT_TRUE(st.ok()) << st.ToString();
      });
    }
    for (auto& th : threads) th.join();
  }
  ASSERT_TRUE(stores[0]
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ(tx.ListPools()->size(), 5u);
                    EXPECT_EQ(tx.ListNodes()->size(), 5u);
                    return Status::Ok();
                  })
                  .ok());
}

TEST_F(PostgresTest, SessionBoundsIdleTransactions) {
  auto c = Connect();
  ASSERT_TRUE(c);
  auto v = c->Query("SHOW idle_in_transaction_session_timeout", {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->at(0).Text(0), "1min");
  auto own =
      PostgresConnection::Open(conninfo_ + " options=-cidle_in_transaction_session_timeout=5s");
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  v = (*own)->Query("SHOW idle_in_transaction_session_timeout", {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->at(0).Text(0), "5s");  // the operator's choice is kept
}

// The server ends our connection (an admin, a failover, an idle timeout): the next
// transaction reconnects by itself.
TEST_F(PostgresTest, ReconnectsAfterTheConnectionIsKilled) {
  auto store = OpenStore("application_name=vbs_victim");
  auto admin = Connect();
  ASSERT_TRUE(store && admin);
  for (int round = 0; round < 3; ++round) {
    auto killed = admin->Query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?",
        {"vbs_victim"});
    ASSERT_TRUE(killed.ok()) << killed.status().ToString();
    ASSERT_GE(killed->size(), 1u);  // the transactions' connection and the heartbeats'
    Status st = store->Transact([&](Transaction& tx) { return tx.BumpRevision().status(); });
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  // The raw connection: Begin reconnects, and the new session is set up like the first.
  auto raw = PostgresConnection::Open(conninfo_ + " application_name=vbs_raw_victim");
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(admin
                  ->Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'vbs_raw_victim'",
                          {})
                  .ok());
  ASSERT_TRUE((*raw)->Begin().ok());
  auto v = (*raw)->Query("SHOW idle_in_transaction_session_timeout", {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->at(0).Text(0), "1min");
  EXPECT_TRUE((*raw)->Commit().ok());
}

// The whole server restarts (fast shutdown, then a crash): transactions fail with
// kUnavailable while it is down and work again, on the same store, once it is back.
TEST(PostgresRestart, StoreReconnectsAfterTheServerRestarts) {
  auto server = pgtest::Server::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto store = OpenPostgresStore((*server)->conninfo());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto bump = [&] {
    return (*store)->Transact([&](Transaction& tx) { return tx.BumpRevision().status(); });
  };
  ASSERT_TRUE(bump().ok());

  ASSERT_TRUE((*server)->Stop().ok());
  Status down = bump();
  EXPECT_EQ(down.kind(), StatusKind::kUnavailable) << down.ToString();
  ASSERT_TRUE((*server)->Restart().ok());
  Status up = bump();
  EXPECT_TRUE(up.ok()) << up.ToString();

  ASSERT_TRUE((*server)->Kill().ok());
  ASSERT_TRUE((*server)->Restart().ok());
  up = bump();
  EXPECT_TRUE(up.ok()) << up.ToString();
  ASSERT_TRUE((*store)
                  ->Transact([&](Transaction& tx) {
                    EXPECT_EQ(*tx.Revision(), 3);  // nothing lost, nothing applied twice
                    return Status::Ok();
                  })
                  .ok());
}

// Servers as separate processes, started at the same instant on an empty database: all come
// up, and the schema is created exactly once.
TEST_F(PostgresTest, ConcurrentMigrationsFromSeveralProcesses) {
  constexpr int kProcs = 6;
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> pids;
  for (int i = 0; i < kProcs; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(go[1]);
      char c;
      (void)!read(go[0], &c, 1);  // returns at EOF: when the parent closes its end
      auto s = OpenPostgresStore(conninfo_);
      _exit(s.ok() ? 0 : 1);
    }
    pids.push_back(pid);
  }
  close(go[0]);
  close(go[1]);  // all start now
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto c = Connect();
  ASSERT_TRUE(c);
  auto version = c->Query("SELECT value FROM meta WHERE key = 'schema_version'", {});
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  ASSERT_EQ(version->size(), 1u);
  EXPECT_EQ(version->at(0).Text(0), std::to_string(LatestSchemaVersion()));
  EXPECT_EQ(c->Query("SELECT COUNT(*) FROM counters", {})->at(0).Int(0), 1);
}

}  // namespace
}  // namespace vbs
