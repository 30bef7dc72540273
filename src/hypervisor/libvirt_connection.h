// LibvirtConnection: one connection to a libvirt daemon (e.g. "qemu:///system") for the
// hypervisor layer: which domains run here, whose they are, and device-removal events.
//
// Contract:
// - Open() connects and subscribes to DEVICE_REMOVED, DEVICE_REMOVAL_FAILED and lifecycle
//   events for all domains; events arrive on the process's LibvirtEventLoop thread. When
//   libvirtd goes away (close callback, keepalive), the next call reopens the connection
//   and subscribes again; until then calls fail with Unavailable "LibvirtUnavailable".
// - ListDomains(): running domains. instance_id = InstanceIdForUuid(uuid); owner = the
//   <owner> of the VBS metadata element (kVbsMetadataNs), "" when absent or invalid;
//   qemu_pid = the pid in `<pid_dir>/<name>.pid` (libvirt's pid file), only if
//   /proc/PID/cmdline carries the domain's UUID (else 0): VBS's NBD server admits that pid.
// - Lookup(ref): a domain by name, UUID or VBS instance id; NotFound
//   "InvalidInstanceID.NotFound" when there is none.
// - WatchRemoval(uuid, alias) before asking libvirt to remove a device, then Wait(): the
//   outcome of the DEVICE_REMOVED / DEVICE_REMOVAL_FAILED event for that alias, or the
//   domain stopping. Registering first means an event that comes quickly is not missed.
// - Thread-safe: libvirt calls are; the event bookkeeping has its own lock.
#pragma once

#include <libvirt/libvirt.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "hypervisor/libvirt_event_loop.h"

namespace vbs::hypervisor {

struct LibvirtDomain {
  std::string uuid;         // "e1b8eae3-1768-437b-acaf-ab02f6a10e31"
  std::string name;         // libvirt's domain name
  std::string instance_id;  // "i-e1b8eae31768437ba"
  std::string owner;        // "" when the platform set none (admins only)
  int qemu_pid = 0;         // 0 when libvirt's pid file is missing or does not match
  bool alive = false;
};

// The Status for the libvirt call that just failed on this thread ("what: libvirt's text").
Status LibvirtStatus(const std::string& what);

struct DomainFree {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
using DomainRef = std::unique_ptr<virDomain, DomainFree>;
struct ConnectFree {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
using ConnectRef = std::unique_ptr<virConnect, ConnectFree>;

class LibvirtConnection {
 public:
  struct Options {
    std::string pid_dir = "/run/libvirt/qemu";  // qemu.conf's run dir for qemu:///system
    int keepalive_interval_s = 5;               // a vanished daemon is noticed in ~15 s
  };
  enum class RemovalOutcome { kPending, kRemoved, kFailed, kDomainStopped };

  class RemovalWatch;

  static Result<std::unique_ptr<LibvirtConnection>> Open(const std::string& uri) {
    return Open(uri, Options{});
  }
  static Result<std::unique_ptr<LibvirtConnection>> Open(const std::string& uri, Options options);
  ~LibvirtConnection();
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;

  Result<std::vector<LibvirtDomain>> ListDomains();
  Result<LibvirtDomain> Describe(const std::string& ref);
  Result<DomainRef> Lookup(const std::string& ref);

  std::unique_ptr<RemovalWatch> WatchRemoval(const std::string& uuid, const std::string& alias);

  // The live connection (a new reference: the caller's copy stays valid across a reconnect).
  Result<ConnectRef> Connection();
  const std::string& uri() const { return uri_; }

 private:
  struct Watch {
    std::string uuid;
    std::string alias;
    RemovalOutcome outcome = RemovalOutcome::kPending;
  };

  LibvirtConnection(std::string uri, Options options) : uri_(std::move(uri)), options_(options) {}
  Status Connect();   // with mu_ held
  void Disconnect();  // with mu_ held
  void Notify(virDomainPtr dom, const char* alias, RemovalOutcome outcome);
  LibvirtDomain DescribeDomain(virDomainPtr dom);
  int VerifiedQemuPid(const std::string& name, const std::string& uuid) const;

  static void OnDeviceRemoved(virConnectPtr, virDomainPtr dom, const char* alias, void* self);
  static void OnRemovalFailed(virConnectPtr, virDomainPtr dom, const char* alias, void* self);
  static int OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* self);
  static void OnClose(virConnectPtr, int reason, void* self);
  static void OnRegistrationFreed(void* self);

  LibvirtEventLoop::Ref loop_;  // first member: outlives the connection
  const std::string uri_;
  const Options options_;

  std::mutex mu_;  // guards conn_ and callback_ids_
  virConnectPtr conn_ = nullptr;
  std::vector<int> callback_ids_;
  // Set by the close callback, which must not take mu_: Disconnect() holds mu_ while
  // libvirt's unregistering waits for a running close callback.
  std::atomic<bool> closed_{true};

  std::mutex ev_mu_;
  std::condition_variable ev_cv_;
  // Event registrations libvirt has not yet released (its free callback). libvirt may still
  // be running a callback after deregistering it; it calls the free callback after that, so
  // the destructor waits for this to reach 0 before the object goes away.
  int live_registrations_ = 0;
  std::list<std::shared_ptr<Watch>> watches_;

  friend class RemovalWatch;
};

class LibvirtConnection::RemovalWatch {
 public:
  RemovalWatch(LibvirtConnection* conn, std::shared_ptr<Watch> w) : conn_(conn), w_(std::move(w)) {}
  ~RemovalWatch();
  // The outcome so far, waiting until `until` for one (kPending when none came).
  RemovalOutcome Wait(std::chrono::steady_clock::time_point until);

 private:
  LibvirtConnection* conn_;
  std::shared_ptr<Watch> w_;
};

}  // namespace vbs::hypervisor
