// Test fixture for core/: a real SQLite store in a temporary directory with one node and
// one pool registered, as an agent's Hello would leave it.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "core/reconciler.h"
#include "core/snapshot_service.h"
#include "core/volume_service.h"
#include "core/work_service.h"
#include "store/sqlite/sqlite_connection.h"

namespace vbs {

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vbs-core-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto s = OpenSqliteStore(dir_ + "/meta.db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    volumes_ = std::make_unique<VolumeService>(*store_, notifier_);
    snapshots_ = std::make_unique<SnapshotService>(*store_, notifier_);
    work_ = std::make_unique<WorkService>(*store_, notifier_, work_policy_);
    ASSERT_TRUE(work_->Hello("n1", {{"p1", "dir", false, 100ull << 20}}).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs every pending op of node n1 to completion with the given outcome.
  void RunAgent(bool ok = true, const std::string& error = "") {
    auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
    ASSERT_TRUE(batch.ok());
    for (auto& op : batch->ops) {
      ASSERT_TRUE(work_->Claim("n1", op.id).ok());
      ASSERT_TRUE(work_->Complete("n1", op.id, ok, error).ok());
    }
  }

  // Heartbeats are database-clock (wall) times: a node heard from in the far future stays up, one
  // last heard from at the epoch is down, whatever the node timeout.
  void SetHeartbeat(const std::string& node, int64_t when) {
    ASSERT_TRUE(store_
                    ->Transact([&](Transaction& tx) -> Status {
                      VBS_ASSIGN_OR_RETURN(auto n, tx.GetNode(node));
                      n->last_heartbeat = when;
                      return tx.UpsertNode(*n);
                    })
                    .ok());
  }

  // Lets `user` attach to node `node` itself (host-NODE), as `vbs admin node allow` does.
  void AllowOnNode(const std::string& node, const std::string& user = "alice") {
    ASSERT_TRUE(
        store_->Transact([&](Transaction& tx) { return tx.SetNodeUser(node, user, true); }).ok());
  }

  VolumeRecord MustCreate(const Caller& who, uint64_t size) {
    CreateVolumeRequest req;
    req.size = size;
    auto v = volumes_->Create(who, req);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : VolumeRecord{};
  }

  std::string dir_;
  std::unique_ptr<MetadataStore> store_;
  RevisionNotifier notifier_;
  WorkPolicy work_policy_{/*lease_ms=*/30000, /*max_attempts=*/3};
  std::unique_ptr<VolumeService> volumes_;
  std::unique_ptr<SnapshotService> snapshots_;
  std::unique_ptr<WorkService> work_;
  Caller alice_{"alice", false};
  Caller bob_{"bob", false};
  Caller admin_{"root", true};
};

}  // namespace vbs
