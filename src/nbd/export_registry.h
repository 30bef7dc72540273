// ExportRegistry: the exports an NbdServer serves, added and removed at run time by name.
//
// An export is one shared BlockDevice or a factory opening a device per connection. Removing
// an export fences it: every connection attached to it is told to stop at once, and Remove
// returns only when all of them have finished their in-flight requests and closed, so no
// request of a fenced client reaches the device afterwards. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "nbd/export_catalog.h"

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
  };

  // AlreadyExists if the name is taken; InvalidArgument for a bad spec.
  Status Add(Spec spec);
  // NotFound if absent. Blocks until every connection of the export has closed.
  Status Remove(const std::string& name);
  bool Has(const std::string& name);
  // The export served to clients asking for the empty name "" (none by default).
  void SetDefault(const std::string& name);
  size_t connection_count(const std::string& name);

  // ExportCatalog.
  std::vector<std::pair<std::string, std::string>> List() override;
  Result<OpenedExport> Open(std::string_view name) override;

  // A connection that entered transmission on `exp` registers itself for fencing; false when
  // the export was removed meanwhile (the connection must close without serving).
  bool Attach(const OpenedExport& exp, Fenceable* conn);
  void Detach(const OpenedExport& exp, Fenceable* conn);

 private:
  struct Entry {
    Spec spec;
    bool removed = false;
    std::set<Fenceable*> conns;
  };

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> exports_;
  std::string default_;
};

}  // namespace vbs::nbd
