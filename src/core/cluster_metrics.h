// Cluster metrics: what the metadata says at scrape time, for the server's /metrics.
//   vbs_operations{kind,state}                    pending and running operations
//   vbs_operation_oldest_pending_age_seconds      0 when nothing waits
//   vbs_node_heartbeat_age_seconds{node}          by the database's clock, as leases are judged
//   vbs_pool_capacity_bytes{pool}, vbs_pool_reserved_bytes{pool}
// Each scrape reads the store once (two short transactions); a failed read writes nothing
// and is logged, so that a scrape never hangs on a lost database for longer than a request.
#pragma once

#include "common/metrics.h"
#include "store/metadata_store.h"

namespace vbs {

void AddClusterMetrics(MetricsRegistry& registry, MetadataStore& store);

}  // namespace vbs
