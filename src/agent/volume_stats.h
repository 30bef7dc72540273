// VolumeStats: the NBD counters of each volume exported on this node (nbd/export_stats.h),
// shared by the volume's exports, and their rendering for the agent's /metrics:
//   vbs_volume_operations_total{volume,node,op}        op: read, write, flush, trim, ...
//   vbs_volume_operation_errors_total{volume,node,op}
//   vbs_volume_bytes_total{volume,node,op}
//   vbs_volume_operation_duration_seconds{volume,node,op}   (histogram)
//   vbs_volume_operations_in_flight{volume,node}
//   vbs_volume_throttled_seconds_total{volume,node}    time spent waiting for QoS limits
//   vbs_nbd_connections{volume,node}
// Labels are the volume's id and the node's name: never names or tags users chose.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/metrics.h"
#include "nbd/export_stats.h"

namespace vbs {

class VolumeStats {
 public:
  explicit VolumeStats(std::string node) : node_(std::move(node)) {}
  // The volume's counters, made on first use.
  std::shared_ptr<nbd::ExportStats> For(const std::string& volume_id);
  // The volume has no export here any more: its series end (Prometheus takes a later
  // attachment's fresh counters as a reset).
  void Forget(const std::string& volume_id);
  void Write(MetricsWriter& w) const;

 private:
  const std::string node_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<nbd::ExportStats>> volumes_;
};

}  // namespace vbs
