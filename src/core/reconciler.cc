#include "core/reconciler.h"

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/clock.h"
#include "common/ids.h"
#include "core/operations.h"
#include "core/states.h"

namespace vbs {
namespace {

bool IsStorageKind(const std::string& kind) {
  return kind == opkind::kCreateVolume || kind == opkind::kDeleteVolume ||
         kind == opkind::kCreateSnapshot || kind == opkind::kDeleteSnapshot ||
         kind == opkind::kResizeVolume;
}

constexpr const char* kLeaseName = "reconciler";

}  // namespace

Reconciler::Reconciler(MetadataStore& store, RevisionNotifier& notifier, WorkPolicy work,
                       PlacementPolicy placement, ReconcilePolicy policy, std::string holder)
    : store_(store),
      notifier_(notifier),
      work_(work),
      placement_(placement),
      policy_(policy),
      holder_(holder.empty() ? NewId("srv") : holder + "/" + RandomHex(4)) {}

Result<int> Reconciler::SweepOnce() {
  int moved = 0;
  bool leading = false;
  SweepEvents events;
  Status swept = store_.Transact([&](Transaction& tx) -> Status {
    moved = 0;
    events = SweepEvents();  // a retried transaction starts again
    events_ = &events;
    const int64_t now = NowMillis();
    VBS_ASSIGN_OR_RETURN(const int64_t clock, tx.ClockMillis());  // for node liveness
    // The lease and the sweep commit together: a sweep only writes while its server leads.
    VBS_ASSIGN_OR_RETURN(
        leading, tx.TryAcquireLease(kLeaseName, holder_, now, now + policy_.leader_lease_ms));
    if (!leading) return Status::Ok();
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
      events.expirations.emplace_back(op.kind,
                                      op.state == state::kOpFailed ? "failed" : "requeued");
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
      VBS_ASSIGN_OR_RETURN(bool moved_off, MoveOffDownNode(tx, op, by_name, now, clock));
      if (moved_off) {
        ++moved;
        continue;
      }
      // Measured from when the op was last queued (a requeue after a crash starts the clock
      // again), and never before this server has seen nodes for a whole node timeout: after
      // an outage the agents need a moment to say hello.
      if (now - op.updated_at < policy_.op_timeout_ms) continue;
      if (now - started_ms_ < placement_.node_timeout_ms) continue;
      auto n = by_name.find(op.node);
      if (n != by_name.end() && NodeIsUp(n->second, clock, placement_)) continue;
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
    if (now - started_ms_ >= placement_.node_timeout_ms) {
      VBS_ASSIGN_OR_RETURN(int ended, TakeOverFromDeadNodes(tx, nodes, clock));
      moved += ended;
    }
    if (moved > 0) return tx.BumpRevision().status();
    return Status::Ok();
  });
  events_ = nullptr;
  VBS_RETURN_IF_ERROR(swept);
  const bool was_leading = leading_.exchange(leading);
  if (leading != was_leading) {
    spdlog::info("reconciler {}: {} the sweep", holder_, leading ? "now leads" : "no longer leads");
  }
  Count(events, leading && !was_leading);
  if (moved > 0) notifier_.Notify();
  return moved;
}

void Reconciler::ExportMetrics(MetricsRegistry& registry) {
  metrics_.leader =
      &registry.AddGauge("vbs_reconciler_leader", "1 while this server holds the sweep's lease.")
           .With({});
  metrics_.acquired = &registry
                           .AddCounter("vbs_reconciler_leadership_acquired_total",
                                       "Times this server took the reconciler's leader lease.")
                           .With({});
  metrics_.expirations = &registry.AddCounter(
      "vbs_operation_lease_expirations_total",
      "Running operations whose agent stopped reporting, requeued or failed.", {"kind", "outcome"});
  metrics_.moves = &registry.AddCounter(
      "vbs_operation_node_moves_total",
      "Pending storage operations moved off a node that is down, by kind.", {"kind"});
  metrics_.takeovers = &registry.AddCounter(
      "vbs_node_takeovers_total", "Times a node lost its lease and was taken over.", {"node"});
  metrics_.ended =
      &registry.AddCounter("vbs_takeover_attachments_ended_total",
                           "Attachments ended because their node lost its lease.", {"node"});
  metrics_.fences = &registry.AddCounter(
      "vbs_storage_client_fences_total",
      "Storage clients of a node that lost its lease, fenced before its volumes moved.", {"node"});
}

void Reconciler::Count(const SweepEvents& e, bool became_leader) {
  if (!metrics_.leader) return;
  metrics_.leader->Set(leading_.load() ? 1 : 0);
  if (became_leader) metrics_.acquired->Add();
  for (const auto& [kind, outcome] : e.expirations)
    metrics_.expirations->With({kind, outcome}).Add();
  for (const auto& kind : e.moves) metrics_.moves->With({kind}).Add();
  for (const auto& [node, n] : e.takeovers) metrics_.takeovers->With({node}).Add(n);
  for (const auto& [node, n] : e.ended) metrics_.ended->With({node}).Add(n);
  for (const auto& [node, n] : e.fences) metrics_.fences->With({node}).Add(n);
}

Result<int> Reconciler::TakeOverFromDeadNodes(Transaction& tx, const std::vector<NodeRecord>& nodes,
                                              int64_t clock) {
  int ended = 0;
  for (NodeRecord n : nodes) {
    if (NodeIsUp(n, clock, placement_)) continue;
    AttachmentFilter f;
    f.node = n.name;
    VBS_ASSIGN_OR_RETURN(auto held, tx.ListAttachments(f));
    if (held.empty()) continue;
    VBS_ASSIGN_OR_RETURN(auto fences, FencesFor(tx, n, held));
    if (!fences) continue;  // no live node can fence it out of the storage yet: nothing moves
    // The node's agent stopped writing when its lease ran out, a margin ago (scheduler.h).
    // A new epoch refuses any renewal still on its way; and a renewal that committed after
    // this transaction began makes this write of the same row fail, so the sweep is retried
    // and sees the node alive (the database serializes the two).
    n.epoch += 1;
    VBS_RETURN_IF_ERROR(tx.UpsertNode(n));
    if (events_) {
      ++events_->takeovers[n.name];
      events_->fences[n.name] += static_cast<int>(fences->size());
      events_->ended[n.name] += static_cast<int>(held.size());
    }
    const std::string reason = "node '" + n.name + "' lost its lease (no heartbeat for " +
                               std::to_string((clock - n.last_heartbeat) / 1000) +
                               " s); the attachment ended";
    for (const auto& fence : *fences) {
      VBS_RETURN_IF_ERROR(tx.UpsertStorageClient(StorageClientRecord{
          fence.target.name, fence.client, n.name, state::kClientFenced, clock}));
      nlohmann::json params = {{"client", fence.client}, {"node", n.name}};
      VBS_RETURN_IF_ERROR(
          EnqueueOperation(tx, opkind::kFenceClient, fence.volume_id, fence.target, params.dump()));
      spdlog::warn(
          "node '{}' lost its lease: its client {} of pool {} is fenced by node '{}' "
          "before {} moves",
          n.name, fence.client, fence.target.name, fence.target.node, fence.volume_id);
    }
    for (auto a : held) {
      VBS_RETURN_IF_ERROR(EndAttachmentWithoutNode(tx, a, reason));
      spdlog::warn("attachment {} of {} to {} ended: {}", a.id, a.volume_id, a.instance_id, reason);
      ++ended;
    }
  }
  return ended;
}

Result<std::optional<std::vector<Reconciler::Fence>>> Reconciler::FencesFor(
    Transaction& tx, const NodeRecord& n, const std::vector<AttachmentRecord>& held) {
  VBS_ASSIGN_OR_RETURN(auto clients, tx.NodeStorageClients(n.name));
  std::vector<Fence> fences;
  for (const auto& a : held) {
    VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(a.volume_id));
    if (!v) continue;
    for (const auto& c : clients) {
      if (c.pool != v->pool) continue;
      VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v->pool));
      if (!pool) continue;
      auto to = StorageNodeFor(tx, *pool, placement_);
      if (!to.ok() || *to == n.name) return std::optional<std::vector<Fence>>();
      PoolRecord target = *pool;
      target.node = *to;
      fences.push_back(Fence{a.volume_id, c.client, target});
    }
  }
  return std::optional<std::vector<Fence>>(std::move(fences));
}

Result<bool> Reconciler::MoveOffDownNode(Transaction& tx, OperationRecord& op,
                                         const std::map<std::string, NodeRecord>& nodes,
                                         int64_t now, int64_t clock) {
  if (!IsStorageKind(op.kind)) return false;  // attach/detach belong to the instance's host
  if (now - started_ms_ < placement_.node_timeout_ms) return false;  // agents still saying hello
  auto n = nodes.find(op.node);
  if (n != nodes.end() && NodeIsUp(n->second, clock, placement_)) return false;
  VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(op.pool));
  if (!pool || !pool->shared) return false;
  auto to = StorageNodeFor(tx, *pool, placement_);
  if (!to.ok() || *to == op.node) return false;  // nobody else can take it: it waits
  const std::string from_node = op.node;
  op.node = *to;
  op.updated_at = now;
  VBS_ASSIGN_OR_RETURN(bool won, tx.TryTransitionOp(op, state::kOpPending));
  if (!won) return false;
  if (events_) events_->moves.push_back(op.kind);
  spdlog::info("operation {} ({} {}): node '{}' is down, moved to node '{}'", op.id, op.kind,
               op.resource_id, from_node, op.node);
  return true;
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
