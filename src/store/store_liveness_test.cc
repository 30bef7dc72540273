// The store contract for node liveness (RenewNode, ClockMillis), on SQLite and PostgreSQL:
// a renewal stamps the database's clock for the node's current epoch only and never after the
// node has been silent too long; it never waits for a transaction that is in progress on the
// same store; and a takeover that bumps the epoch and a renewal are serialized by the database.
#include <atomic>
#include <thread>

#include "common/clock.h"
#include "store/store_contract_testing.h"

namespace vbs {
namespace {

class LivenessStoreTest : public storetest::StoreContractTest {
 protected:
  void SetNode(int64_t epoch, int64_t heartbeat) {
    ASSERT_TRUE(store_
                    ->Transact([&](Transaction& tx) {
                      return tx.UpsertNode(NodeRecord{"n1", epoch, heartbeat});
                    })
                    .ok());
  }
  NodeRecord Node() {
    NodeRecord out;
    EXPECT_TRUE(store_
                    ->Transact([&](Transaction& tx) -> Status {
                      VBS_ASSIGN_OR_RETURN(auto n, tx.GetNode("n1"));
                      if (n) out = *n;
                      return Status::Ok();
                    })
                    .ok());
    return out;
  }
};

TEST_P(LivenessStoreTest, TheDatabaseClockIsWallTime) {
  int64_t clock = 0;
  ASSERT_TRUE(store_
                  ->Transact([&](Transaction& tx) -> Status {
                    VBS_ASSIGN_OR_RETURN(clock, tx.ClockMillis());
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_LT(std::abs(clock - NowMillis()), 2000);  // same machine: same clock, roughly
}

TEST_P(LivenessStoreTest, ARenewalStampsTheCurrentEpochOnly) {
  const int64_t start = NowMillis() - 1000;
  SetNode(3, start);
  auto renewed = store_->RenewNode("n1", 3, 60000);
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_TRUE(*renewed);
  const int64_t stamp = Node().last_heartbeat;
  EXPECT_GT(stamp, start);
  EXPECT_FALSE(*store_->RenewNode("n1", 2, 60000));  // an earlier registration
  EXPECT_FALSE(*store_->RenewNode("n1", 4, 60000));  // one that never was
  EXPECT_FALSE(*store_->RenewNode("n9", 3, 60000));  // an unknown node
  EXPECT_EQ(Node().last_heartbeat, stamp);
  EXPECT_EQ(Node().epoch, 3);
}

TEST_P(LivenessStoreTest, ARenewalAfterTooLongASilenceChangesNothing) {
  const int64_t old = NowMillis() - 10000;
  SetNode(1, old);
  EXPECT_FALSE(*store_->RenewNode("n1", 1, 5000));
  EXPECT_EQ(Node().last_heartbeat, old);
  EXPECT_TRUE(*store_->RenewNode("n1", 1, 20000));
}

// A renewal never queues behind the store's mutex and its retries. On PostgreSQL it does not
// wait for a transaction in progress at all; on SQLite (one writer at a time, the embedded
// single-server default) it waits for that transaction's write lock and no longer.
TEST_P(LivenessStoreTest, ARenewalDoesNotWaitBehindTheStoresMutex) {
  SetNode(1, NowMillis());
  std::atomic<bool> inside{false}, released{false};
  std::thread busy([&] {
    Status st = store_->Transact([&](Transaction& tx) -> Status {
      VBS_RETURN_IF_ERROR(tx.BumpRevision().status());  // a writer, holding its turn
      inside = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      released = true;
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
  });
  while (!inside) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto renewed = store_->RenewNode("n1", 1, 60000);
  const bool answered_after_release = released.load();
  busy.join();
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_TRUE(*renewed);
  if (GetParam().name == "PostgreSQL") {
    EXPECT_FALSE(answered_after_release);
  }
}

// A takeover reads the node as silent and bumps its epoch in one transaction; a renewal that
// lands in between must make the takeover fail (and be retried on fresh data), or be refused.
// Either way, never both a successful renewal and a takeover of the epoch it renewed.
TEST_P(LivenessStoreTest, ARenewalAndATakeoverNeverBothWin) {
  for (int round = 0; round < 20; ++round) {
    SetNode(1, NowMillis() - 4000);
    std::atomic<bool> renewed{false};
    std::atomic<int> took_over{0};
    std::thread renew([&] {
      auto r = store_->RenewNode("n1", 1, 60000);
      renewed = r.ok() && *r;
    });
    std::thread takeover([&] {
      auto other = backend_->Open();
      ASSERT_TRUE(other.ok());
      Status st = (*other)->Transact([&](Transaction& tx) -> Status {
        took_over = 0;
        VBS_ASSIGN_OR_RETURN(auto n, tx.GetNode("n1"));
        VBS_ASSIGN_OR_RETURN(int64_t now, tx.ClockMillis());
        if (now - n->last_heartbeat < 3000) return Status::Ok();  // alive: nothing to do
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        n->epoch += 1;
        took_over = 1;
        return tx.UpsertNode(*n);
      });
      ASSERT_TRUE(st.ok()) << st.ToString();
    });
    renew.join();
    takeover.join();
    EXPECT_FALSE(renewed && took_over) << "round " << round;
    EXPECT_TRUE(renewed || took_over) << "round " << round;
    EXPECT_EQ(Node().epoch, took_over ? 2 : 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, LivenessStoreTest, storetest::AllStores(), storetest::StoreName);

}  // namespace
}  // namespace vbs
