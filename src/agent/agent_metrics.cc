// The agent's /metrics, beside the NBD counters of its volumes (agent/volume_stats.h):
//   vbs_agent_lease_renewals_total{node,result}   result: ok, failed (no server answered in
//                                                 time), refused (the servers took the node over)
//   vbs_agent_leases_lost_total{node}             times every export went because of a refusal
//   vbs_pool_size_bytes{pool,node}, vbs_pool_used_bytes{pool,node}   the storage under the pool,
//                                                 read from the backend at scrape time
// A pool whose storage cannot be read at scrape time is left out (and logged at debug level).
#include <spdlog/spdlog.h>

#include "agent/agent.h"

namespace vbs {

void Agent::WriteMetrics(MetricsWriter& w) const {
  host_.volume_stats().Write(w);
  const std::string& node = options_.node;
  w.Begin("vbs_agent_lease_renewals_total", "Lease renewals the agent sent, by outcome.",
          MetricType::kCounter);
  const std::vector<std::string> labels = {"node", "result"};
  w.Sample("vbs_agent_lease_renewals_total", labels, {node, "ok"},
           static_cast<double>(renewals_ok_.load(std::memory_order_relaxed)));
  w.Sample("vbs_agent_lease_renewals_total", labels, {node, "failed"},
           static_cast<double>(renewals_failed_.load(std::memory_order_relaxed)));
  w.Sample("vbs_agent_lease_renewals_total", labels, {node, "refused"},
           static_cast<double>(renewals_refused_.load(std::memory_order_relaxed)));
  w.Begin("vbs_agent_leases_lost_total",
          "Times the servers refused the node's lease and every export here was removed.",
          MetricType::kCounter);
  w.Sample("vbs_agent_leases_lost_total", {"node"}, {node},
           static_cast<double>(leases_lost_.load(std::memory_order_relaxed)));

  std::vector<std::pair<std::string, PoolStats>> stats;
  for (const auto& [name, pool] : pools_) {
    auto s = pool.backend->Stats();
    if (s.ok()) {
      stats.emplace_back(name, *s);
    } else {
      spdlog::debug("agent {}: metrics: pool {}: {}", node, name, s.status().ToString());
    }
  }
  w.Begin("vbs_pool_size_bytes", "Physical size of the storage under the pool, seen from here.",
          MetricType::kGauge);
  for (const auto& [name, s] : stats) {
    w.Sample("vbs_pool_size_bytes", {"pool", "node"}, {name, node},
             static_cast<double>(s.total_bytes));
  }
  w.Begin("vbs_pool_used_bytes", "Physical bytes used on the storage under the pool.",
          MetricType::kGauge);
  for (const auto& [name, s] : stats) {
    const uint64_t used = s.total_bytes > s.free_bytes ? s.total_bytes - s.free_bytes : 0;
    w.Sample("vbs_pool_used_bytes", {"pool", "node"}, {name, node}, static_cast<double>(used));
  }
}

}  // namespace vbs
