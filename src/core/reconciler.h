// Reconciler: the server's background sweep that makes every transitional state end.
//
// - A running operation whose lease ran out (its agent died or hung) goes back to pending,
//   or fails (and its resource goes to `error`) once it has used up its attempts.
// - A pending storage operation of a shared pool whose node is down moves to a live node that
//   declares the pool (its volumes are reachable from there).
// - A pending operation whose node has been down longer than op_timeout fails with a message
//   naming the node, so nothing waits forever on a machine that is gone.
// - Takeover: the attachments of a node that is down (its lease ran out, plus the margin:
//   scheduler.h) end by themselves, with the reason in the attachment's error, so that a
//   volume of a shared pool can be attached elsewhere without an admin; the node gets a new
//   epoch, so its agent must say hello again and re-exports only what is still live. Where the
//   storage can refuse the node itself (Ceph), a live node of the pool first fences the dead
//   node's client (fence_client: blocklist, break the image lock); the volume attaches
//   elsewhere only once that is done (AttachmentService), and the node lifts the fence of its
//   old client when it says hello again (WorkService).
// Several servers run a Reconciler on one database; only the holder of the "reconciler"
// leader lease (a row in the database, renewed by every sweep in the sweep's own transaction)
// sweeps, so two servers never take the same step. Every step is also a conditional update
// (TryTransitionOp), which keeps it single even if two servers' clocks disagree about the
// lease.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/metrics.h"
#include "core/revision_notifier.h"
#include "core/scheduler.h"
#include "core/work_service.h"
#include "store/metadata_store.h"

namespace vbs {

struct ReconcilePolicy {
  int64_t op_timeout_ms = 10 * 60 * 1000;
  int64_t interval_ms = 1000;
  int64_t leader_lease_ms = 5000;  // a killed leader's duty passes on after this long
};

class Reconciler {
 public:
  // `holder` names this server in the leader lease (unique per process; random if empty).
  Reconciler(MetadataStore& store, RevisionNotifier& notifier, WorkPolicy work,
             PlacementPolicy placement, ReconcilePolicy policy, std::string holder = "");
  ~Reconciler() { Stop(); }

  // One sweep; returns how many operations it moved (0 when another server leads).
  Result<int> SweepOnce();
  bool leading() const { return leading_.load(); }
  // Lease and takeover events for /metrics, counted once their sweep has committed:
  //   vbs_reconciler_leader                          1 while this server sweeps
  //   vbs_reconciler_leadership_acquired_total        times this server took the leader lease
  //   vbs_operation_lease_expirations_total{kind,outcome}   an agent stopped reporting on a
  //                                                  running op: outcome requeued or failed
  //   vbs_operation_node_moves_total{kind}           pending ops moved off a down node
  //   vbs_node_takeovers_total{node}                 a node lost its lease; its attachments end
  //   vbs_takeover_attachments_ended_total{node}
  //   vbs_storage_client_fences_total{node}          fences ordered before its volumes move
  // Call before Start().
  void ExportMetrics(MetricsRegistry& registry);
  void Start();
  void Stop();

 private:
  // Moves a pending storage op of a shared pool off its down node; true if it did.
  Result<bool> MoveOffDownNode(Transaction& tx, OperationRecord& op,
                               const std::map<std::string, NodeRecord>& nodes, int64_t now,
                               int64_t clock);
  // A node's storage client to fence (Ceph) before `volume_id` moves, by `target`'s node.
  struct Fence {
    std::string volume_id;
    std::string client;
    PoolRecord target;  // the pool, with the live node that fences
  };
  // The fences that the node's attachments need; nullopt when one is needed that no live
  // node can do yet (the attachments then stay until one can).
  Result<std::optional<std::vector<Fence>>> FencesFor(Transaction& tx, const NodeRecord& n,
                                                      const std::vector<AttachmentRecord>& held);
  // Ends the live attachments of nodes that are down; returns how many.
  Result<int> TakeOverFromDeadNodes(Transaction& tx, const std::vector<NodeRecord>& nodes,
                                    int64_t clock);

  MetadataStore& store_;
  RevisionNotifier& notifier_;
  WorkPolicy work_;
  PlacementPolicy placement_;
  ReconcilePolicy policy_;
  const std::string holder_;
  std::atomic<bool> leading_{false};
  // What one sweep did, applied to the metrics only once its transaction committed.
  struct SweepEvents {
    std::vector<std::pair<std::string, std::string>> expirations;  // kind, outcome
    std::vector<std::string> moves;                                // kind
    std::map<std::string, int> takeovers, ended, fences;           // by node
  };
  void Count(const SweepEvents& e, bool became_leader);
  SweepEvents* events_ = nullptr;  // the sweep's, while it runs (the sweep thread only)
  struct Metrics {
    Gauge* leader = nullptr;
    Counter* acquired = nullptr;
    Family<Counter>* expirations = nullptr;
    Family<Counter>* moves = nullptr;
    Family<Counter>* takeovers = nullptr;
    Family<Counter>* ended = nullptr;
    Family<Counter>* fences = nullptr;
  } metrics_;
  const int64_t started_ms_ = NowMillis();
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace vbs
