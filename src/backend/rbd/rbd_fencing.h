// Fencing a Ceph client out of the cluster (design.md §4, as rbd-nbd and ceph-csi do): a node
// that lost its lease may still be running (paused, cut off from the servers but not from
// Ceph). Before its volumes move, its client address is added to the OSD blocklist, so the
// cluster refuses every request of that client, and the images' exclusive locks it held are
// broken. When the node comes back (a new process, a new client address), the entry goes.
#pragma once

#include <string>

#include <rados/librados.h>

#include "common/status.h"

namespace vbs::rbdfence {

// The address of this process's session with the cluster, as `ceph osd blocklist` takes it
// ("127.0.0.1:0/3021546331"; the v1/v2 type and brackets of an address vector removed).
Result<std::string> ClientAddress(rados_t cluster);

// `ceph osd blocklist add|rm ADDR` through the monitors. Idempotent: adding a listed address
// or removing an absent one succeeds.
Status Blocklist(rados_t cluster, const std::string& addr, bool add);

// Breaks every lock on `image_name` (the fenced client's exclusive lock). No lock: OK.
Status BreakLocks(rados_ioctx_t io, const std::string& image_name);

}  // namespace vbs::rbdfence
