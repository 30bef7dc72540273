#include "core/cluster_metrics.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "core/states.h"

namespace vbs {
namespace {

struct Snapshot {
  std::vector<OperationRecord> pending, running;
  std::vector<NodeRecord> nodes;
  std::vector<PoolRecord> pools;
  int64_t now_ms = 0;
};

Result<Snapshot> Read(MetadataStore& store) {
  Snapshot s;
  VBS_RETURN_IF_ERROR(store.Transact([&](Transaction& tx) -> Status {
    OperationFilter f;
    f.state = std::string(state::kOpPending);
    VBS_ASSIGN_OR_RETURN(s.pending, tx.ListOperations(f));
    f.state = std::string(state::kOpRunning);
    VBS_ASSIGN_OR_RETURN(s.running, tx.ListOperations(f));
    VBS_ASSIGN_OR_RETURN(s.nodes, tx.ListNodes());
    VBS_ASSIGN_OR_RETURN(s.pools, tx.ListPools());
    VBS_ASSIGN_OR_RETURN(s.now_ms, tx.ClockMillis());
    return Status::Ok();
  }));
  return s;
}

void Write(const Snapshot& s, MetricsWriter& w) {
  std::map<std::vector<std::string>, int> ops;
  for (const auto& op : s.pending) ++ops[{op.kind, op.state}];
  for (const auto& op : s.running) ++ops[{op.kind, op.state}];
  w.Begin("vbs_operations", "Operations waiting for or running on an agent, by kind and state.",
          MetricType::kGauge);
  for (const auto& [labels, n] : ops) w.Sample("vbs_operations", {"kind", "state"}, labels, n);

  int64_t oldest = s.now_ms;
  for (const auto& op : s.pending) oldest = std::min(oldest, op.created_at);
  w.Begin("vbs_operation_oldest_pending_age_seconds",
          "Age of the oldest operation no agent has taken yet (0: none waits).",
          MetricType::kGauge);
  w.Sample("vbs_operation_oldest_pending_age_seconds", {}, {},
           static_cast<double>(std::max<int64_t>(0, s.now_ms - oldest)) / 1000.0);

  w.Begin("vbs_node_heartbeat_age_seconds",
          "Time since the node's agent last renewed its lease (the database's clock).",
          MetricType::kGauge);
  for (const auto& n : s.nodes) {
    w.Sample("vbs_node_heartbeat_age_seconds", {"node"}, {n.name},
             static_cast<double>(std::max<int64_t>(0, s.now_ms - n.last_heartbeat)) / 1000.0);
  }
  w.Begin("vbs_pool_capacity_bytes", "Bytes the pool may provision (volumes are thin).",
          MetricType::kGauge);
  for (const auto& p : s.pools) {
    w.Sample("vbs_pool_capacity_bytes", {"pool"}, {p.name}, static_cast<double>(p.capacity));
  }
  w.Begin("vbs_pool_reserved_bytes", "Bytes provisioned to the pool's live volumes.",
          MetricType::kGauge);
  for (const auto& p : s.pools) {
    w.Sample("vbs_pool_reserved_bytes", {"pool"}, {p.name}, static_cast<double>(p.reserved));
  }
}

}  // namespace

void AddClusterMetrics(MetricsRegistry& registry, MetadataStore& store) {
  registry.AddCollector([&store](MetricsWriter& w) {
    auto s = Read(store);
    if (!s.ok()) {
      spdlog::warn("metrics: cannot read the cluster state: {}", s.status().ToString());
      return;
    }
    Write(*s, w);
  });
}

}  // namespace vbs
