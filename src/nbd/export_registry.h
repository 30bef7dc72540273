// ExportRegistry: the exports an NbdServer serves, added and removed at run time by name.
//
// An export is one shared BlockDevice or a factory opening a device per connection. Removing
// an export fences it: every connection attached to it is told to stop at once, and Remove
// returns only when all of them have finished their in-flight requests and closed, so no
// request of a fenced client reaches the device afterwards. Pause holds an export's new writes
// (all its connections) and flushes, for a crash-consistent snapshot; Resume lets them run.
// DropConnections makes clients reconnect (and so learn a grown device's new size).
// Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "nbd/export_catalog.h"
#include "nbd/throttle.h"
#include "nbd/write_gate.h"
#include "nbd/write_lease.h"

namespace vbs::nbd {

using DeviceFactory = std::function<Result<std::shared_ptr<BlockDevice>>()>;

// A connection that can be fenced (told to stop serving, from any thread, without blocking).
class Fenceable {
 public:
  virtual ~Fenceable() = default;
  virtual void Fence() = 0;
};

// A hard-to-guess export name: "vbs-" + 32 hex digits from a CSPRNG.
std::string NewExportName();

class ExportRegistry final : public ExportCatalog {
 public:
  struct Spec {
    std::string name;  // at most 4096 bytes, no NUL
    std::string description;
    bool read_only = false;
    std::shared_ptr<BlockDevice> device;  // either a shared device ...
    DeviceFactory factory;                // ... or a factory called per connection
    // The factory gives the connections that are open at once the same device (as
    // agent/shared_device.h does): CAN_MULTI_CONN as for `device`, whatever the device is.
    bool factory_shares_device = false;
    // Set for an export whose writes must stop when the node's lease runs out.
    std::shared_ptr<const WriteLease> lease;
    // Who may open it (peer.h); anyone by default.
    Consumer consumer;
    // QoS limits (throttle.h), possibly shared with other exports of the volume; null: none.
    std::shared_ptr<Throttle> throttle;
    // What the export served (export_stats.h), possibly shared with the volume's other
    // exports; null: not counted.
    std::shared_ptr<ExportStats> stats;
  };

  // AlreadyExists if the name is taken; InvalidArgument for a bad spec.
  Status Add(Spec spec);
  // NotFound if absent. Blocks until every connection of the export has closed.
  Status Remove(const std::string& name);
  bool Has(const std::string& name);
  // Holds new write-type requests of every connection of the export, waits until those in
  // flight are done, and flushes the devices: the volume is then stable until Resume. The
  // export's reads go on. NotFound if absent; a failed flush resumes and is returned.
  Status Pause(const std::string& name);
  Status Resume(const std::string& name);
  // Disconnects the export's current clients (keeping the export) and returns when they have
  // closed. A client that reconnects opens the device afresh (e.g. with its new size).
  Status DropConnections(const std::string& name);
  // The export served to clients asking for the empty name "" (none by default).
  void SetDefault(const std::string& name);
  size_t connection_count(const std::string& name);
  // Writes held by a pause of the export, waiting for Resume.
  int held_writes(const std::string& name);

  // ExportCatalog.
  std::vector<std::pair<std::string, std::string>> List(const Peer& peer) override;
  bool Admits(std::string_view name, const Peer& peer) override;
  Result<OpenedExport> Open(std::string_view name, const Peer& peer) override;

  // A connection that entered transmission on `exp` registers itself for fencing; false when
  // the export was removed meanwhile (the connection must close without serving).
  bool Attach(const OpenedExport& exp, Fenceable* conn);
  void Detach(const OpenedExport& exp, Fenceable* conn);

 private:
  struct Entry {
    Spec spec;
    bool removed = false;
    std::map<Fenceable*, std::shared_ptr<BlockDevice>> conns;  // the device each one uses
    std::shared_ptr<WriteGate> gate;
    uint64_t drops = 0;  // DropConnections calls: connections opened before one may not attach
  };
  std::shared_ptr<Entry> Find(const std::string& name);
  // The export `name` ("" = the default) if it admits `peer`.
  std::shared_ptr<Entry> FindFor(std::string_view name, const Peer& peer);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> exports_;
  std::string default_;
};

}  // namespace vbs::nbd
