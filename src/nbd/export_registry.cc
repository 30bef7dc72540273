#include "nbd/export_registry.h"

#include <algorithm>

#include "common/ids.h"
#include "nbd/protocol.h"

namespace vbs::nbd {

std::string NewExportName() {
  return "vbs-" + RandomHex(16);
}

Status ExportRegistry::Add(Spec spec) {
  if (spec.name.size() > kMaxStringSize || spec.name.find('\0') != std::string::npos) {
    return Status::InvalidArgument("InvalidParameterValue", "bad export name");
  }
  if (!spec.device && !spec.factory) {
    return Status::InvalidArgument("InvalidParameterValue", "export needs a device or factory");
  }
  std::lock_guard lock(mu_);
  auto entry = std::make_shared<Entry>();
  entry->spec = std::move(spec);
  entry->gate = std::make_shared<WriteGate>();
  auto [it, inserted] = exports_.emplace(entry->spec.name, entry);
  if (!inserted) return Status::AlreadyExists("ExportExists", "export " + it->first + " exists");
  return Status::Ok();
}

Status ExportRegistry::Remove(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = exports_.find(name);
  if (it == exports_.end()) return Status::NotFound("ExportNotFound", "no export " + name);
  std::shared_ptr<Entry> entry = it->second;
  exports_.erase(it);
  entry->removed = true;
  // Fence() only flags and wakes the connection, so calling it under the lock is safe.
  for (auto& [c, dev] : entry->conns) c->Fence();
  lock.unlock();
  entry->gate->Close();  // writes held by a pause are refused, never run
  lock.lock();
  cv_.wait(lock, [&] { return entry->conns.empty(); });
  return Status::Ok();
}

std::shared_ptr<ExportRegistry::Entry> ExportRegistry::Find(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = exports_.find(name);
  return it == exports_.end() ? nullptr : it->second;
}

Status ExportRegistry::Pause(const std::string& name) {
  std::shared_ptr<Entry> entry = Find(name);
  if (!entry) return Status::NotFound("ExportNotFound", "no export " + name);
  std::vector<std::shared_ptr<BlockDevice>> devices;
  {
    std::lock_guard lock(mu_);
    if (entry->spec.device) devices.push_back(entry->spec.device);
    for (auto& [c, dev] : entry->conns) {
      if (dev && dev != entry->spec.device && !dev->read_only()) devices.push_back(dev);
    }
  }
  // A first flush while writes still flow writes out most dirty data, so the flush inside the
  // pause (which the guest waits for) has only what came in meanwhile.
  for (auto& dev : devices) VBS_RETURN_IF_ERROR(dev->Flush());
  entry->gate->Pause();
  {
    std::lock_guard lock(mu_);  // and the connections that came meanwhile
    for (auto& [c, dev] : entry->conns) {
      if (dev && std::find(devices.begin(), devices.end(), dev) == devices.end() &&
          !dev->read_only()) {
        devices.push_back(dev);
      }
    }
  }
  for (auto& dev : devices) {
    Status st = dev->Flush();
    if (!st.ok()) {
      entry->gate->Resume();
      return st;
    }
  }
  return Status::Ok();
}

Status ExportRegistry::Resume(const std::string& name) {
  std::shared_ptr<Entry> entry = Find(name);
  if (!entry) return Status::NotFound("ExportNotFound", "no export " + name);
  entry->gate->Resume();
  return Status::Ok();
}

Status ExportRegistry::DropConnections(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = exports_.find(name);
  if (it == exports_.end()) return Status::NotFound("ExportNotFound", "no export " + name);
  std::shared_ptr<Entry> entry = it->second;
  ++entry->drops;  // also those still in their handshake
  std::set<Fenceable*> dropped;
  for (auto& [c, dev] : entry->conns) {
    c->Fence();
    dropped.insert(c);
  }
  // Only those: clients that reconnect meanwhile are new connections and stay.
  cv_.wait(lock, [&] {
    for (Fenceable* c : dropped) {
      if (entry->conns.count(c)) return false;
    }
    return true;
  });
  return Status::Ok();
}

bool ExportRegistry::Has(const std::string& name) {
  std::lock_guard lock(mu_);
  return exports_.count(name) > 0;
}

void ExportRegistry::SetDefault(const std::string& name) {
  std::lock_guard lock(mu_);
  default_ = name;
}

size_t ExportRegistry::connection_count(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = exports_.find(name);
  return it == exports_.end() ? 0 : it->second->conns.size();
}

int ExportRegistry::held_writes(const std::string& name) {
  auto entry = Find(name);
  return entry ? entry->gate->held() : 0;
}

std::vector<std::pair<std::string, std::string>> ExportRegistry::List(const Peer& peer) {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, e] : exports_) {
    if (e->spec.consumer.Admits(peer)) out.emplace_back(name, e->spec.description);
  }
  return out;
}

std::shared_ptr<ExportRegistry::Entry> ExportRegistry::FindFor(std::string_view name,
                                                               const Peer& peer) {
  std::lock_guard lock(mu_);
  auto it = exports_.find(name.empty() ? std::string_view(default_) : name);
  if (it == exports_.end() || !it->second->spec.consumer.Admits(peer)) return nullptr;
  return it->second;
}

bool ExportRegistry::Admits(std::string_view name, const Peer& peer) {
  return FindFor(name, peer) != nullptr;
}

Result<OpenedExport> ExportRegistry::Open(std::string_view name, const Peer& peer) {
  // Checked before the device is opened: a client that is not the consumer costs no backend
  // work, and it is told exactly what a wrong name gets.
  std::shared_ptr<Entry> entry = FindFor(name, peer);
  if (!entry) return Status::NotFound("ExportNotFound", "no such export");
  OpenedExport e;
  {
    std::lock_guard lock(mu_);
    e.epoch = entry->drops;
  }
  e.name = entry->spec.name;
  e.description = entry->spec.description;
  if (entry->spec.device) {
    e.device = entry->spec.device;
    e.multi_conn = true;  // one device object serves every connection
  } else {
    // Outside the lock: opening may be slow (a remote backend).
    auto dev = entry->spec.factory();
    if (!dev.ok()) return dev.status();
    if (!*dev) return Status::Internal("device factory returned null");
    e.device = std::move(dev).value();
    e.multi_conn = entry->spec.factory_shares_device || e.device->coherent_across_opens();
  }
  e.size = e.device->size();
  e.read_only = entry->spec.read_only || e.device->read_only();
  e.token = entry;
  e.gate = entry->gate;
  e.lease = entry->spec.lease;
  e.throttle = entry->spec.throttle;
  e.stats = entry->spec.stats;
  return e;
}

bool ExportRegistry::Attach(const OpenedExport& exp, Fenceable* conn) {
  auto entry = std::static_pointer_cast<Entry>(exp.token);
  if (!entry) return false;
  std::lock_guard lock(mu_);
  if (entry->removed || exp.epoch != entry->drops) return false;
  entry->conns[conn] = exp.device;
  return true;
}

void ExportRegistry::Detach(const OpenedExport& exp, Fenceable* conn) {
  auto entry = std::static_pointer_cast<Entry>(exp.token);
  if (!entry) return;
  std::lock_guard lock(mu_);
  entry->conns.erase(conn);
  cv_.notify_all();
}

}  // namespace vbs::nbd
