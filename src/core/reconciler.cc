#include "core/reconciler.h"

#include <spdlog/spdlog.h>

#include <map>

#include "common/clock.h"
#include "core/operations.h"
#include "core/states.h"

namespace vbs {

Result<int> Reconciler::SweepOnce() {
  int moved = 0;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    moved = 0;
    const int64_t now = NowMillis();
    VBS_ASSIGN_OR_RETURN(auto nodes, tx.ListNodes());
    std::map<std::string, NodeRecord> by_name;
    for (auto& n : nodes) by_name[n.name] = n;

    OperationFilter running_filter;
    running_filter.state = state::kOpRunning;
    VBS_ASSIGN_OR_RETURN(auto running, tx.ListOperations(running_filter));
    for (auto op : running) {
      if (op.lease_until >= now) continue;
      const std::string from = op.state;
      op.updated_at = now;
      op.lease_until = 0;
      if (op.attempts >= work_.max_attempts) {
        op.state = state::kOpFailed;
        op.error = "the agent on node '" + op.node + "' stopped reporting after " +
                   std::to_string(op.attempts) + " attempts";
      } else {
        op.state = state::kOpPending;
      }
      VBS_ASSIGN_OR_RETURN(bool won, tx.TryTransitionOp(op, from));
      if (!won) continue;
      ++moved;
      if (op.state == state::kOpFailed) {
        spdlog::warn("operation {} ({} {}) failed: {}", op.id, op.kind, op.resource_id, *op.error);
        VBS_RETURN_IF_ERROR(ApplyOperationFailure(tx, op, *op.error));
      } else {
        spdlog::info("operation {} ({} {}): lease expired, requeued", op.id, op.kind,
                     op.resource_id);
      }
    }

    OperationFilter pending_filter;
    pending_filter.state = state::kOpPending;
    VBS_ASSIGN_OR_RETURN(auto pending, tx.ListOperations(pending_filter));
    for (auto op : pending) {
      // Measured from when the op was last queued (a requeue after a crash starts the clock
      // again), and never before this server has seen nodes for a whole node timeout: after
      // an outage the agents need a moment to say hello.
      if (now - op.updated_at < policy_.op_timeout_ms) continue;
      if (now - started_ms_ < placement_.node_timeout_ms) continue;
      auto n = by_name.find(op.node);
      if (n != by_name.end() && NodeIsUp(n->second, now, placement_)) continue;
      const std::string from = op.state;
      op.state = state::kOpFailed;
      op.error = "node '" + op.node + "' is down and did not run the operation in time";
      op.updated_at = now;
      VBS_ASSIGN_OR_RETURN(bool won, tx.TryTransitionOp(op, from));
      if (!won) continue;
      ++moved;
      spdlog::warn("operation {} ({} {}) failed: {}", op.id, op.kind, op.resource_id, *op.error);
      VBS_RETURN_IF_ERROR(ApplyOperationFailure(tx, op, *op.error));
    }
    if (moved > 0) return tx.BumpRevision().status();
    return Status::Ok();
  }));
  if (moved > 0) notifier_.Notify();
  return moved;
}

void Reconciler::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      l.unlock();
      auto r = SweepOnce();
      if (!r.ok()) spdlog::error("reconciler sweep failed: {}", r.status().ToString());
      l.lock();
      cv_.wait_for(l, std::chrono::milliseconds(policy_.interval_ms), [&] { return stop_; });
    }
  });
}

void Reconciler::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vbs
