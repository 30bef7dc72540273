// ExportCatalog: what the NBD handshake needs to know about exports (list them, open one).
//
// The handshake is written against this interface so it can run over a byte buffer in tests
// and the fuzzer; ExportRegistry is the real implementation. An OpenedExport holds the device
// a connection will use and a token that ties the connection to its export for fencing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/block_device.h"
#include "common/status.h"
#include "nbd/export_stats.h"
#include "nbd/peer.h"

namespace vbs::nbd {

class WriteGate;
class WriteLease;
class Throttle;

struct OpenedExport {
  std::string name;
  std::string description;
  std::shared_ptr<BlockDevice> device;
  uint64_t size = 0;
  bool read_only = false;
  bool multi_conn = false;      // NBD_FLAG_CAN_MULTI_CONN may be advertised
  std::shared_ptr<void> token;  // registry entry (opaque here)
  uint64_t epoch = 0;           // the registry's count of the export's connection drops
  // Writes pass this gate (snapshots pause it); null: never held.
  std::shared_ptr<WriteGate> gate;
  // Writes run only while this lease is valid (write_lease.h); null: no lease, always.
  std::shared_ptr<const WriteLease> lease;
  // IOPS and throughput limits shared by the export's connections (throttle.h); null: none.
  std::shared_ptr<Throttle> throttle;
  // Counters its connections bump (export_stats.h); null: not counted.
  std::shared_ptr<ExportStats> stats;
};

class ExportCatalog {
 public:
  virtual ~ExportCatalog() = default;
  // (name, description) of every export `peer` may open, for NBD_OPT_LIST.
  virtual std::vector<std::pair<std::string, std::string>> List(const Peer& peer) = 0;
  // Whether the export exists and admits `peer` (opens nothing).
  virtual bool Admits(std::string_view name, const Peer& peer) = 0;
  // Opens the export for one connection of `peer` (a fresh device from a factory, or the
  // shared one). NotFound when there is no such export or it does not admit `peer`: the two
  // answers are the same, so a name cannot be tested for existence by someone else.
  virtual Result<OpenedExport> Open(std::string_view name, const Peer& peer) = 0;
};

// Transmission flags for an export as seen by one connection.
uint16_t TransmissionFlags(const OpenedExport& e, bool structured);

}  // namespace vbs::nbd
