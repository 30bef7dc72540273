#include "hypervisor/libvirt_connection.h"

#include <libvirt/virterror.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

#include "hypervisor/libvirt_xml.h"

namespace vbs::hypervisor {

namespace {

std::string UuidOf(virDomainPtr dom) {
  char buf[VIR_UUID_STRING_BUFLEN] = {};
  return virDomainGetUUIDString(dom, buf) == 0 ? std::string(buf) : std::string();
}

bool LooksLikeUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

Status LibvirtStatus(const std::string& what) {
  virErrorPtr e = virGetLastError();
  const int code = e != nullptr ? e->code : VIR_ERR_INTERNAL_ERROR;
  std::string msg = what + ": " + (e != nullptr && e->message ? e->message : "unknown error");
  switch (code) {
    case VIR_ERR_NO_DOMAIN:
      return Status::NotFound("InvalidInstanceID.NotFound", msg);
    case VIR_ERR_DEVICE_MISSING:
      return Status::NotFound("AttachmentNotFound", msg);
    case VIR_ERR_OPERATION_INVALID:  // e.g. the domain is not running
      return Status::Conflict("IncorrectInstanceState", msg);
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
      return Status::InvalidArgument("InvalidParameterValue", msg);
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_OPERATION_TIMEOUT:
      return Status(StatusKind::kUnavailable, "LibvirtUnavailable", msg);
    default:
      return Status(StatusKind::kUnavailable, "LibvirtError", msg);
  }
}

Result<std::unique_ptr<LibvirtConnection>> LibvirtConnection::Open(const std::string& uri,
                                                                   Options options) {
  std::unique_ptr<LibvirtConnection> c(new LibvirtConnection(uri, std::move(options)));
  std::lock_guard lock(c->mu_);
  VBS_RETURN_IF_ERROR(c->Connect());
  return c;
}

LibvirtConnection::~LibvirtConnection() {
  {
    std::lock_guard lock(mu_);
    Disconnect();
  }
  // The event loop (loop_) still runs here, so a deferred release does happen; bounded all
  // the same, so that a wedged libvirt cannot hang the caller.
  std::unique_lock lock(ev_mu_);
  ev_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return live_registrations_ == 0; });
}

Status LibvirtConnection::Connect() {
  conn_ = virConnectOpen(uri_.c_str());
  if (conn_ == nullptr) return LibvirtStatus("connecting to " + uri_);
  // Keepalives notice a daemon that vanished without closing the socket.
  virConnectSetKeepAlive(conn_, options_.keepalive_interval_s, 3);
  if (virConnectRegisterCloseCallback(conn_, OnClose, this, nullptr) < 0) {
    Status st = LibvirtStatus("registering the close callback on " + uri_);
    Disconnect();
    return st;
  }
  struct Sub {
    int id;
    virConnectDomainEventGenericCallback cb;
  };
  const Sub subs[] = {
      {VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(OnDeviceRemoved)},
      {VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, VIR_DOMAIN_EVENT_CALLBACK(OnRemovalFailed)},
      {VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle)},
  };
  for (const Sub& s : subs) {
    {
      std::lock_guard lock(ev_mu_);
      ++live_registrations_;
    }
    int id =
        virConnectDomainEventRegisterAny(conn_, nullptr, s.id, s.cb, this, OnRegistrationFreed);
    if (id < 0) {
      OnRegistrationFreed(this);  // libvirt does not call it for a failed registration
      Status st = LibvirtStatus("subscribing to domain events on " + uri_);
      Disconnect();
      return st;
    }
    callback_ids_.push_back(id);
  }
  closed_ = false;
  return Status::Ok();
}

void LibvirtConnection::Disconnect() {
  if (conn_ == nullptr) return;
  for (int id : callback_ids_) virConnectDomainEventDeregisterAny(conn_, id);
  callback_ids_.clear();
  virConnectUnregisterCloseCallback(conn_, OnClose);
  virConnectClose(conn_);
  conn_ = nullptr;
  closed_ = true;
}

Result<ConnectRef> LibvirtConnection::Connection() {
  std::lock_guard lock(mu_);
  if (closed_ || conn_ == nullptr || virConnectIsAlive(conn_) != 1) {
    Disconnect();
    Status st = Connect();
    if (!st.ok()) {
      return Status(StatusKind::kUnavailable, "LibvirtUnavailable", st.message());
    }
  }
  virConnectRef(conn_);
  return ConnectRef(conn_);
}

int LibvirtConnection::VerifiedQemuPid(const std::string& name, const std::string& uuid) const {
  std::string text = ReadFile(options_.pid_dir + "/" + name + ".pid");
  int pid = 0;
  std::istringstream(text) >> pid;
  if (pid <= 0) return 0;
  // The pid file could be stale and the pid reused: only QEMU started for this domain
  // carries its UUID on the command line (-uuid).
  std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.find(uuid) != std::string::npos ? pid : 0;
}

LibvirtDomain LibvirtConnection::DescribeDomain(virDomainPtr dom) {
  LibvirtDomain d;
  d.uuid = UuidOf(dom);
  const char* name = virDomainGetName(dom);
  d.name = name != nullptr ? name : "";
  d.instance_id = InstanceIdForUuid(d.uuid);
  d.alive = virDomainIsActive(dom) == 1;
  const std::string ns(kVbsMetadataNs);
  if (char* meta = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ns.c_str(),
                                        d.alive ? VIR_DOMAIN_AFFECT_LIVE : 0)) {
    d.owner = OwnerFromMetadata(meta);
    free(meta);  // NOLINT: libvirt allocates with malloc
  }
  if (d.alive) d.qemu_pid = VerifiedQemuPid(d.name, d.uuid);
  return d;
}

Result<std::vector<LibvirtDomain>> LibvirtConnection::ListDomains() {
  VBS_ASSIGN_OR_RETURN(ConnectRef conn, Connection());
  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn.get(), &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) return LibvirtStatus("listing domains on " + uri_);
  std::vector<LibvirtDomain> out;
  for (int i = 0; i < n; ++i) {
    DomainRef dom(doms[i]);
    LibvirtDomain d = DescribeDomain(dom.get());
    if (d.alive) out.push_back(std::move(d));  // one that stopped meanwhile is not listed
  }
  free(doms);  // NOLINT: libvirt allocates with malloc
  return out;
}

Result<DomainRef> LibvirtConnection::Lookup(const std::string& ref) {
  VBS_ASSIGN_OR_RETURN(ConnectRef conn, Connection());
  if (ref.empty()) return Status::InvalidArgument("InvalidParameterValue", "empty domain");
  virDomainPtr dom = nullptr;
  if (ref.rfind("i-", 0) == 0 && ref.size() == 19) {
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn.get(), &doms, 0);
    if (n < 0) return LibvirtStatus("listing domains on " + uri_);
    for (int i = 0; i < n; ++i) {
      if (dom == nullptr && InstanceIdForUuid(UuidOf(doms[i])) == ref) {
        dom = doms[i];
      } else {
        virDomainFree(doms[i]);
      }
    }
    free(doms);  // NOLINT: libvirt allocates with malloc
  } else if (LooksLikeUuid(ref)) {
    dom = virDomainLookupByUUIDString(conn.get(), ref.c_str());
  } else {
    dom = virDomainLookupByName(conn.get(), ref.c_str());
  }
  if (dom == nullptr) {
    return Status::NotFound("InvalidInstanceID.NotFound", "no domain '" + ref + "' on " + uri_);
  }
  return DomainRef(dom);
}

Result<LibvirtDomain> LibvirtConnection::Describe(const std::string& ref) {
  VBS_ASSIGN_OR_RETURN(DomainRef dom, Lookup(ref));
  return DescribeDomain(dom.get());
}

std::unique_ptr<LibvirtConnection::RemovalWatch> LibvirtConnection::WatchRemoval(
    const std::string& uuid, const std::string& alias) {
  auto w = std::make_shared<Watch>();
  w->uuid = uuid;
  w->alias = alias;
  std::lock_guard lock(ev_mu_);
  watches_.push_back(w);
  return std::make_unique<RemovalWatch>(this, std::move(w));
}

void LibvirtConnection::Notify(virDomainPtr dom, const char* alias, RemovalOutcome outcome) {
  const std::string uuid = UuidOf(dom);
  std::lock_guard lock(ev_mu_);
  for (auto& w : watches_) {
    if (w->uuid != uuid || w->outcome != RemovalOutcome::kPending) continue;
    if (alias == nullptr || w->alias == alias) w->outcome = outcome;
  }
  ev_cv_.notify_all();
}

void LibvirtConnection::OnDeviceRemoved(virConnectPtr, virDomainPtr dom, const char* alias,
                                        void* self) {
  if (alias != nullptr)
    static_cast<LibvirtConnection*>(self)->Notify(dom, alias, RemovalOutcome::kRemoved);
}

void LibvirtConnection::OnRemovalFailed(virConnectPtr, virDomainPtr dom, const char* alias,
                                        void* self) {
  if (alias != nullptr)
    static_cast<LibvirtConnection*>(self)->Notify(dom, alias, RemovalOutcome::kFailed);
}

int LibvirtConnection::OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int, void* self) {
  if (event == VIR_DOMAIN_EVENT_STOPPED || event == VIR_DOMAIN_EVENT_UNDEFINED) {
    static_cast<LibvirtConnection*>(self)->Notify(dom, nullptr, RemovalOutcome::kDomainStopped);
  }
  return 0;
}

void LibvirtConnection::OnRegistrationFreed(void* self) {
  auto* c = static_cast<LibvirtConnection*>(self);
  std::lock_guard lock(c->ev_mu_);
  --c->live_registrations_;
  c->ev_cv_.notify_all();
}

void LibvirtConnection::OnClose(virConnectPtr, int, void* self) {
  static_cast<LibvirtConnection*>(self)->closed_ = true;
}

LibvirtConnection::RemovalWatch::~RemovalWatch() {
  std::lock_guard lock(conn_->ev_mu_);
  conn_->watches_.remove(w_);
}

LibvirtConnection::RemovalOutcome LibvirtConnection::RemovalWatch::Wait(
    std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(conn_->ev_mu_);
  conn_->ev_cv_.wait_until(lock, until, [&] { return w_->outcome != RemovalOutcome::kPending; });
  return w_->outcome;
}

}  // namespace vbs::hypervisor
