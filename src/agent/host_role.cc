#include "agent/host_role.h"

#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <set>

#include "agent/host_op_params.h"
#include "common/ids.h"
#include "hypervisor/instance_discovery.h"
#include "hypervisor/libvirt_connection.h"
#include "hypervisor/qemu_attach.h"
#include "hypervisor/qmp_client.h"

namespace vbs {
namespace {

using hypervisor::AttachSpec;
using hypervisor::InstanceDiscovery;
using hypervisor::QemuAttach;
using hypervisor::QmpClient;

using host_op::kCleanupDetachTimeout;
using host_op::kDetachTimeout;
using host_op::kForcedDetachTimeout;
using host_op::LimitsOf;
constexpr int64_t kMaxConsumerUid = 4294967294;  // (uid_t)-1 is "no uid" to the kernel

nlohmann::json ConsumerToJson(const nbd::Consumer& c) {
  switch (c.kind()) {
    case nbd::Consumer::Kind::kUid:
      return {{"uid", c.uid()}};
    case nbd::Consumer::Kind::kProcess:
      return {{"pid", c.pid()}, {"start_time", c.start_time()}};
    case nbd::Consumer::Kind::kAnyone:
      break;
  }
  return nlohmann::json::object();
}

// What a predecessor recorded; an export it could not describe admits root only.
nbd::Consumer ConsumerFromJson(const nlohmann::json& j) {
  if (j.contains("pid")) {
    return nbd::Consumer::Process(j.at("pid").get<pid_t>(), j.at("start_time").get<uint64_t>());
  }
  return nbd::Consumer::Uid(j.value("uid", uid_t{0}));
}

QemuAttach::Options AttachOptions(std::chrono::milliseconds detach_timeout) {
  QemuAttach::Options o;
  o.detach_timeout = detach_timeout;
  o.command_timeout = std::chrono::seconds(20);
  return o;
}

}  // namespace

static nbd::NbdServerOptions HostNbdOptions() {
  nbd::NbdServerOptions o;
  o.allow_list = false;  // one socket, many tenants: nobody learns another's export names
  o.handshake_timeout_ms = 10000;
  return o;
}

HostRole::HostRole(HostRoleOptions options, std::map<std::string, AgentPool>* pools)
    : options_(std::move(options)),
      pools_(pools),
      nbd_(HostNbdOptions()),
      homes_(std::make_unique<HomeMounter>(
          HomeMountOptions{options_.nbd_socket, options_.mount_state_dir})) {}

HostRole::~HostRole() {
  Stop();
}

Status HostRole::Start(const nlohmann::json* handover) {
  if (handover != nullptr) {
    listening_ = true;  // the predecessor's listener goes on
    return Adopt(*handover);
  }
  // On a thread of its own: thawing takes each file system's s_umount, which writeback may
  // hold while its I/O waits for this agent's NBD socket, and that listens only after the
  // first Reconcile. Inline, a restart could wait for qsd's whole reconnect-delay, and the
  // node then lose its homes (seen: tests/vbsfs/homes.sh under ASan).
  thaw_ = std::thread([this] { ThawAllHomes(); });
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(options_.nbd_socket).parent_path(), ec);
  if (ec) return Status::IoError("cannot create the directory of " + options_.nbd_socket);
  // Listening waits for the first Reconcile: a consumer that reconnects after an agent
  // restart (QEMU's or a VBSFS mount's NBD client, with reconnect-delay) must find its export,
  // not a server that does not know it yet and fails the handshake, which the client takes as
  // final (seen: a mounted home's ext4 aborting its journal).
  return Status::Ok();
}

Status HostRole::Listen() {
  VBS_RETURN_IF_ERROR(nbd_.ListenUnix(options_.nbd_socket));
  // Every local process may connect (QEMUs and users of any uid); the handshake admits to an
  // export only its consumer (nbd/peer.h).
  if (::chmod(options_.nbd_socket.c_str(), 0666) != 0) {
    return Status::FromErrno("chmod " + options_.nbd_socket, errno);
  }
  spdlog::info("agent {}: serving NBD on {}", options_.node, options_.nbd_socket);
  return Status::Ok();
}

Result<nlohmann::json> HostRole::Handover(std::chrono::milliseconds timeout) {
  nlohmann::json exports = nlohmann::json::array();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [name, info] : exports_) {
      // The volume's bucket holds its current limits (a qos_attachments op changes it).
      auto bucket = throttles_.find(info.volume_id);
      const nbd::QosLimits limits =
          bucket != throttles_.end() ? bucket->second->limits() : nbd::QosLimits{};
      exports.push_back({{"name", name},
                         {"volume_id", info.volume_id},
                         {"pool", info.pool},
                         {"read_only", info.read_only},
                         {"consumer", ConsumerToJson(info.consumer)},
                         {"iops", limits.iops},
                         {"throughput", limits.bytes_per_second >> 20}});
    }
  }
  VBS_ASSIGN_OR_RETURN(nbd::ServerHandover nbd, nbd_.Handover(timeout));
  spdlog::info("agent {}: handing over {} export(s), {} connection(s), {} listener(s)",
               options_.node, exports.size(), nbd.connections.size(), nbd.listeners.size());
  // steady_clock is CLOCK_MONOTONIC: the same clock in the successor, across execve.
  return nlohmann::json{{"exports", exports},
                        {"lease_until_ns", lease_->until().time_since_epoch().count()},
                        {"nbd", nbd::HandoverToJson(nbd)}};
}

Status HostRole::Adopt(const nlohmann::json& h) {
  nbd::ServerHandover nbd;
  try {
    lease_->ExtendTo(nbd::WriteLease::Clock::time_point(
        nbd::WriteLease::Clock::duration(h.at("lease_until_ns").get<int64_t>())));
    VBS_ASSIGN_OR_RETURN(nbd, nbd::HandoverFromJson(h.at("nbd")));
    // The exports first: the connections go on serving them.
    for (const auto& e : h.at("exports")) {
      const std::string name = e.at("name").get<std::string>();
      Status st =
          Export(name, e.at("pool").get<std::string>(), e.at("volume_id").get<std::string>(),
                 e.at("read_only").get<bool>(),
                 ConsumerFromJson(e.value("consumer", nlohmann::json::object())), LimitsOf(e));
      if (!st.ok()) {
        spdlog::error("agent {}: cannot take over an export of {}: {}", options_.node,
                      e.at("volume_id").get<std::string>(), st.ToString());
      }
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   std::string("malformed agent handover: ") + e.what());
  }
  for (const auto& l : nbd.listeners) VBS_RETURN_IF_ERROR(nbd_.AdoptListener(l));
  if (nbd.listeners.empty()) VBS_RETURN_IF_ERROR(nbd_.ListenUnix(options_.nbd_socket));
  size_t adopted = 0;
  for (auto& c : nbd.connections) {
    const int fd = c.fd;
    if (nbd_.AdoptConnection(std::move(c)).ok()) {
      ++adopted;
    } else {
      ::close(fd);
    }
  }
  spdlog::info("agent {}: took over {} connection(s) and {} export(s)", options_.node, adopted,
               h.at("exports").size());
  return Status::Ok();
}

void HostRole::Stop() {
  nbd_.Stop();
  if (thaw_.joinable()) thaw_.join();
}

bool HostRole::IsQemuInstanceId(const std::string& id) {
  if (id.size() != 19 || id.rfind("i-", 0) != 0) return false;
  for (size_t i = 2; i < id.size(); ++i) {
    const char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string HostRole::UriOf(const std::string& export_name) const {
  return "nbd+unix:///" + export_name + "?socket=" + options_.nbd_socket;
}

std::vector<AgentInstance> HostRole::Instances() const {
  std::vector<AgentInstance> out = {AgentInstance{"host-" + options_.node, "host", ""}};
  auto vms =
      options_.qmp_dir.empty()
          ? Result<std::vector<hypervisor::QemuInstance>>(std::vector<hypervisor::QemuInstance>())
          : InstanceDiscovery(options_.qmp_dir).List();
  if (!vms.ok()) {  // a missing directory is a host without VMs (yet)
    if (vms.status().kind() == StatusKind::kNotFound) {
      spdlog::debug("agent {}: listing VMs: {}", options_.node, vms.status().ToString());
    } else {
      spdlog::warn("agent {}: listing VMs: {}", options_.node, vms.status().ToString());
    }
  } else {
    for (const auto& vm : *vms) {
      if (vm.alive && IsQemuInstanceId(vm.id)) {
        out.push_back(AgentInstance{vm.id, "qemu", vm.owner});
      }
    }
  }
  AddLibvirtInstances(&out);
  return out;
}

std::shared_ptr<std::mutex> HostRole::VmLock(const std::string& instance_id) {
  std::lock_guard<std::mutex> l(mu_);
  auto& m = vm_locks_[instance_id];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

std::shared_ptr<std::mutex> HostRole::VolumeLock(const std::string& volume_id) {
  std::lock_guard<std::mutex> l(mu_);
  auto& m = volume_locks_[volume_id];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

std::vector<std::string> HostRole::ExportsOf(const std::string& volume_id) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> names;
  for (const auto& [name, info] : exports_) {
    if (info.volume_id == volume_id) names.push_back(name);
  }
  return names;
}

HostRole::WriteHold::WriteHold(HostRole* role, std::shared_ptr<std::mutex> volume_lock)
    : role_(role), volume_lock_(std::move(volume_lock)), volume_turn_(*volume_lock_) {}

HostRole::WriteHold::~WriteHold() {
  for (const auto& name : names_) {
    Status st = role_->nbd_.registry().Resume(name);
    if (!st.ok() && st.kind() != StatusKind::kNotFound) {
      spdlog::error("agent {}: cannot resume export {}: {}", role_->options_.node, name,
                    st.ToString());
    }
  }
}

Result<std::unique_ptr<HostRole::WriteHold>> HostRole::HoldWrites(const std::string& volume_id) {
  std::unique_ptr<WriteHold> hold(new WriteHold(this, VolumeLock(volume_id)));
  for (const auto& name : ExportsOf(volume_id)) {
    Status st = nbd_.registry().Pause(name);
    if (st.kind() == StatusKind::kNotFound) continue;  // detached meanwhile
    VBS_RETURN_IF_ERROR(st);                           // (the hold resumes what it paused so far)
    hold->names_.push_back(name);
  }
  return hold;
}

Status HostRole::ResizeAttachments(const AgentOp& op, const std::string& volume_id) {
  if (!op.params.contains("size") || !op.params["size"].is_number_unsigned()) {
    return Status::InvalidArgument("InvalidParameterValue", "resize_attachments without a size");
  }
  const uint64_t size = op.params["size"].get<uint64_t>();
  // A modification of size and limits together: the limits come along.
  if (op.params.contains("iops")) VBS_RETURN_IF_ERROR(ApplyQos(op, volume_id));
  // NBD cannot tell a client that an export grew: its clients reconnect, which opens the
  // grown volume afresh, and learn the new size in the handshake.
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [name, info] : exports_) {
      if (info.volume_id == volume_id && info.device) info.device->Forget();
    }
  }
  for (const auto& name : ExportsOf(volume_id)) {
    Status st = nbd_.registry().DropConnections(name);
    if (!st.ok() && st.kind() != StatusKind::kNotFound) return st;
  }
  GrowHome(volume_id);
  // QEMU then has to be told to look (block_resize): the guest sees the new size.
  auto ids = op.params.find("instance_ids");
  if (ids == op.params.end() || !ids->is_array()) return Status::Ok();
  for (const auto& id : *ids) {
    const std::string instance_id = id.is_string() ? id.get<std::string>() : "";
    if (!IsQemuInstanceId(instance_id)) continue;  // the host target: the client reconnects
    if (auto domain = LibvirtDomainOf(instance_id); domain.ok()) {
      VBS_RETURN_IF_ERROR(ResizeLibvirt(*domain, volume_id, size));
      continue;
    }
    if (options_.qmp_dir.empty()) continue;
    auto vm = InstanceDiscovery(options_.qmp_dir).Find(instance_id);
    if (!vm.ok() || !vm->alive) continue;  // gone: its attachment is ending anyway
    auto lock = VmLock(instance_id);
    std::lock_guard<std::mutex> vm_turn(*lock);
    const auto spec = AttachSpec::ForVolume(volume_id, options_.nbd_socket, "", false);
    auto qmp = QmpClient::Connect(vm->qmp_socket);
    if (!qmp.ok()) return qmp.status();
    Status st = QemuAttach(qmp->get(), AttachOptions(kDetachTimeout)).Resize(spec.node_name, size);
    if (st.kind() == StatusKind::kNotFound) continue;  // not plugged (yet): it opens the new size
    if (!st.ok()) return st;
    spdlog::info("agent {}: {} now sees {} at {} bytes", options_.node, instance_id, volume_id,
                 size);
  }
  return Status::Ok();
}

Status HostRole::Export(const std::string& name, const std::string& pool,
                        const std::string& volume_id, bool read_only, const nbd::Consumer& consumer,
                        nbd::QosLimits limits) {
  // Not while a snapshot holds the volume's writes: a new export would escape the hold.
  auto volume_lock = VolumeLock(volume_id);
  std::lock_guard<std::mutex> volume_turn(*volume_lock);
  auto it = pools_->find(pool);
  if (it == pools_->end()) {
    return Status::NotFound("InvalidPool.NotFound", "this agent has no pool '" + pool + "'");
  }
  BlockBackend* backend = it->second.backend.get();
  // Fail now, not at the first client, if the volume cannot be opened.
  VBS_ASSIGN_OR_RETURN(auto probe, backend->Open(volume_id, read_only));
  probe.reset();
  auto device = std::make_shared<SharedDevice>(
      [backend, volume_id, read_only]() -> Result<std::shared_ptr<BlockDevice>> {
        VBS_ASSIGN_OR_RETURN(auto dev, backend->Open(volume_id, read_only));
        return std::shared_ptr<BlockDevice>(std::move(dev));
      });
  nbd::NbdServer::ExportOptions eo;
  eo.description = volume_id;
  eo.factory_shares_device = true;          // SharedDevice: CAN_MULTI_CONN also for RBD volumes
  eo.lease = read_only ? nullptr : lease_;  // a rw export writes only under the node's lease
  eo.consumer = consumer;
  eo.throttle = ThrottleFor(volume_id, limits, /*update=*/false);
  eo.stats = stats_.For(volume_id);
  VBS_RETURN_IF_ERROR(nbd_.AddExport(name, device->Factory(), read_only, std::move(eo)));
  std::lock_guard<std::mutex> l(mu_);
  exports_[name] = ExportInfo{volume_id, pool, read_only, consumer, device};
  return Status::Ok();
}

std::shared_ptr<nbd::Throttle> HostRole::ThrottleFor(const std::string& volume_id,
                                                     nbd::QosLimits limits, bool update) {
  std::lock_guard<std::mutex> l(mu_);
  auto& t = throttles_[volume_id];
  if (!t) {
    t = std::make_shared<nbd::Throttle>(limits);
  } else if (update && (t->limits().iops != limits.iops ||
                        t->limits().bytes_per_second != limits.bytes_per_second)) {
    t->SetLimits(limits);
  }
  return t;
}

Status HostRole::ApplyQos(const AgentOp& op, const std::string& volume_id) {
  const nbd::QosLimits limits = LimitsOf(op.params);
  ThrottleFor(volume_id, limits, /*update=*/true);  // its exports, and those made later
  spdlog::info("agent {}: {} now limited to {} IOPS, {} MiB/s (0: none)", options_.node, volume_id,
               limits.iops, limits.bytes_per_second >> 20);
  return Status::Ok();
}

Status HostRole::Unexport(const std::string& name) {
  if (name.empty()) return Status::Ok();
  Status st = nbd_.RemoveExport(name);  // disconnects its clients: fencing
  if (!st.ok() && st.kind() != StatusKind::kNotFound) return st;
  std::lock_guard<std::mutex> l(mu_);
  auto it = exports_.find(name);
  if (it == exports_.end()) return Status::Ok();
  const std::string volume_id = it->second.volume_id;
  exports_.erase(it);
  // The volume's last export here: a later attach starts from the limits it carries.
  bool others = false;
  for (const auto& [n, info] : exports_) others |= info.volume_id == volume_id;
  if (!others) {
    throttles_.erase(volume_id);
    stats_.Forget(volume_id);
  }
  return Status::Ok();
}

Result<nbd::Consumer> HostRole::QemuConsumer(const std::string& qmp_socket) {
  VBS_ASSIGN_OR_RETURN(auto qmp, QmpClient::Connect(qmp_socket));
  return nbd::Consumer::Process(qmp->peer_pid());
}

std::string HostRole::PluggedExport(const std::string& qmp_socket, const std::string& volume_id) {
  auto qmp = QmpClient::Connect(qmp_socket);
  if (!qmp.ok()) return "";
  QemuAttach vm(qmp->get(), AttachOptions(kDetachTimeout));
  auto disks = vm.List();
  if (!disks.ok()) return "";
  const auto spec = AttachSpec::ForVolume(volume_id, options_.nbd_socket, "", false);
  const std::string prefix = "nbd+unix:///";
  const std::string suffix = "?socket=" + options_.nbd_socket;
  for (const auto& d : *disks) {
    if (d.name != spec.node_name || !d.has_node) continue;
    const std::string& f = d.nbd_file;
    if (f.size() <= prefix.size() + suffix.size() || f.rfind(prefix, 0) != 0 ||
        f.compare(f.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    return f.substr(prefix.size(), f.size() - prefix.size() - suffix.size());
  }
  return "";
}

Status HostRole::AttachQemu(const AgentOp& op, const std::string& volume_id, bool read_only,
                            nlohmann::json* result) {
  const std::string instance_id = op.params.value("instance_id", "");
  if (options_.qmp_dir.empty() || !IsQemuInstanceId(instance_id)) {
    return Status::InvalidArgument("UnsupportedInstance",
                                   "this agent has no QEMU VM '" + instance_id + "'");
  }
  VBS_ASSIGN_OR_RETURN(auto vm, InstanceDiscovery(options_.qmp_dir).Find(instance_id));
  if (!vm.alive) {
    return Status(StatusKind::kUnavailable, "InstanceGone",
                  "the VM '" + instance_id + "' is not running");
  }
  auto lock = VmLock(instance_id);
  std::lock_guard<std::mutex> vm_turn(*lock);
  // A rerun of this op (the agent died after plugging) finds its disk: keep its export name.
  std::string name = PluggedExport(vm.qmp_socket, volume_id);
  const bool reused = !name.empty();
  // Otherwise an unguessable name: knowing it is what lets a client in on the unix socket.
  if (!reused) name = "vbs-" + RandomHex(16);
  bool exported_here = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    exported_here = exports_.count(name) > 0;
  }
  const auto spec = AttachSpec::ForVolume(volume_id, options_.nbd_socket, name, read_only);
  Status st;
  {
    auto qmp = QmpClient::Connect(vm.qmp_socket);
    if (!qmp.ok()) return qmp.status();
    // Only this QEMU may open the export: the name alone lets nobody else in.
    auto consumer = nbd::Consumer::Process((*qmp)->peer_pid());
    if (!consumer.ok()) return consumer.status();
    if (!exported_here) {
      VBS_RETURN_IF_ERROR(
          Export(name, op.pool, volume_id, read_only, *consumer, LimitsOf(op.params)));
    }
    st = QemuAttach(qmp->get(), AttachOptions(kDetachTimeout)).Attach(spec);
  }
  if (!st.ok()) {
    if (!exported_here) (void)Unexport(name);  // leave nothing half-made behind
    return st;
  }
  (*result)["export_name"] = name;
  (*result)["nbd_uri"] = UriOf(name);
  (*result)["device"] = spec.device_id;
  // Export names are capabilities of a sort: never at info level, where logs are shared.
  spdlog::debug("agent {}: export {} serves {} to {}", options_.node, name, volume_id, instance_id);
  spdlog::info("agent {}: attached {} ({}) to {} as {} (only its QEMU may open it{})",
               options_.node, volume_id, read_only ? "ro" : "rw", instance_id, spec.device_id,
               reused ? ", reused" : "");
  return Status::Ok();
}

Status HostRole::DetachQemu(const AgentOp& op, const std::string& volume_id) {
  const std::string instance_id = op.params.value("instance_id", "");
  const std::string name = op.params.value("export_name", "");
  const bool force = host_op::IsParamTrue(op.params, "force");
  const bool gone = host_op::IsParamTrue(op.params, "instance_gone");
  if (!gone && !options_.qmp_dir.empty() && IsQemuInstanceId(instance_id)) {
    auto vm = InstanceDiscovery(options_.qmp_dir).Find(instance_id);
    if (vm.ok() && vm->alive) {
      auto lock = VmLock(instance_id);
      std::lock_guard<std::mutex> vm_turn(*lock);
      const auto spec = AttachSpec::ForVolume(volume_id, options_.nbd_socket, name, false);
      Status st;
      auto qmp = QmpClient::Connect(vm->qmp_socket);
      if (qmp.ok()) {
        st = QemuAttach(qmp->get(), AttachOptions(force ? kForcedDetachTimeout : kDetachTimeout))
                 .Detach(spec.device_id, spec.node_name);
      } else {
        st = qmp.status();
      }
      if (!st.ok()) {
        if (!force) return st;  // still attached; the user may retry, or force
        spdlog::warn("agent {}: {} did not let go of {} ({}): fencing it off its export",
                     options_.node, instance_id, volume_id, st.ToString());
      }
    }
  }
  VBS_RETURN_IF_ERROR(Unexport(name));
  spdlog::info("agent {}: detached {} from {}{}", options_.node, volume_id, instance_id,
               gone ? " (instance gone)" : "");
  return Status::Ok();
}

Status HostRole::Execute(const AgentOp& op, nlohmann::json* result) {
  const std::string volume_id = op.params.value("volume_id", "");
  if (op.kind == "attach") {
    const std::string kind = op.params.value("instance_kind", "");
    const bool read_only = op.params.value("mode", "rw") == "ro";
    if (kind == "qemu") return AttachQemu(op, volume_id, read_only, result);
    if (kind == "libvirt") return AttachLibvirt(op, volume_id, read_only, result);
    if (kind != "host") {
      return Status::InvalidArgument(
          "UnsupportedInstance", "this agent cannot attach to instances of kind '" + kind + "'");
    }
    if (op.params.contains("mount")) return AttachHome(op, volume_id, result);
    // Only processes of the consumer's uid may open it (the name is no secret to rely on).
    const int64_t uid = op.params.value("uid", int64_t{0});
    if (uid < 0 || uid > kMaxConsumerUid) {
      return Status::InvalidArgument("InvalidParameterValue", "bad consumer uid");
    }
    const std::string name = "vbs-" + RandomHex(16);
    VBS_RETURN_IF_ERROR(Export(name, op.pool, volume_id, read_only,
                               nbd::Consumer::Uid(static_cast<uid_t>(uid)), LimitsOf(op.params)));
    (*result)["export_name"] = name;
    (*result)["nbd_uri"] = UriOf(name);
    spdlog::info("agent {}: exported {} ({}) for uid {}", options_.node, volume_id,
                 read_only ? "ro" : "rw", uid);
    return Status::Ok();
  }
  if (op.kind == "resize_attachments") return ResizeAttachments(op, volume_id);
  if (op.kind == "qos_attachments") return ApplyQos(op, volume_id);
  if (op.kind == "detach") {
    if (op.params.value("instance_id", "").rfind("i-", 0) == 0) {
      bool handled = false;  // a libvirt domain's, or else a QMP VM's (or one that is gone)
      Status st = DetachLibvirt(op, volume_id, &handled);
      if (!st.ok() || handled) return st;
      return DetachQemu(op, volume_id);
    }
    VBS_RETURN_IF_ERROR(UnmountHome(op, volume_id));
    const std::string name = op.params.value("export_name", "");
    VBS_RETURN_IF_ERROR(Unexport(name));
    spdlog::info("agent {}: unexported {}", options_.node, volume_id);
    return Status::Ok();
  }
  return Status::InvalidArgument("UnknownOperation", "unknown operation kind '" + op.kind + "'");
}

void HostRole::CleanVm(const std::string& instance_id, const std::string& qmp_socket,
                       const std::vector<AgentAttachment>& attachments) {
  std::set<std::string> expected;  // QEMU names of this VM's live attachments
  for (const auto& a : attachments) {
    if (a.instance_id != instance_id) continue;
    expected.insert(AttachSpec::ForVolume(a.volume_id, "", "", false).device_id);
  }
  auto lock = VmLock(instance_id);
  std::lock_guard<std::mutex> vm_turn(*lock);
  auto qmp = QmpClient::Connect(qmp_socket);
  if (!qmp.ok()) {
    spdlog::warn("agent {}: cannot check VM {} for leftovers: {}", options_.node, instance_id,
                 qmp.status().ToString());
    return;
  }
  QemuAttach vm(qmp->get(), AttachOptions(kCleanupDetachTimeout));
  auto disks = vm.List();
  if (!disks.ok()) {
    spdlog::warn("agent {}: cannot list VM {}'s disks: {}", options_.node, instance_id,
                 disks.status().ToString());
    return;
  }
  for (const auto& d : *disks) {
    if (expected.count(d.name)) continue;
    Status st = vm.Detach(d.has_device ? d.name : "", d.has_node ? d.name : d.node_name);
    if (st.ok()) {
      spdlog::info("agent {}: removed leftover {} from VM {}", options_.node, d.name, instance_id);
    } else {
      spdlog::warn("agent {}: cannot remove leftover {} from VM {}: {}", options_.node, d.name,
                   instance_id, st.ToString());
    }
  }
}

void HostRole::LoseLease() {
  lease_->Revoke();
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [name, volume] : exports_) names.push_back(name);
  }
  for (const auto& name : names) {
    Status st = Unexport(name);
    if (!st.ok()) spdlog::error("agent {}: cannot remove export: {}", options_.node, st.ToString());
  }
  spdlog::warn("agent {}: lease lost: writes stopped, {} export(s) removed", options_.node,
               names.size());
}

void HostRole::Reconcile(const std::vector<AgentAttachment>& attachments) {
  for (const auto& a : attachments) {
    // Detaching ones too: their detach is requeued and removes the export again, but until
    // then the guest may still need it to finish I/O and let go of the device.
    if ((a.state != "attached" && a.state != "detaching") || a.export_name.empty()) continue;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (exports_.count(a.export_name)) continue;
    }
    Result<nbd::Consumer> consumer = nbd::Consumer::Uid(static_cast<uid_t>(a.uid));
    if (IsQemuInstanceId(a.instance_id)) {
      auto vm = options_.qmp_dir.empty() ? Result<hypervisor::QemuInstance>(
                                               Status::NotFound("InstanceGone", "no QMP directory"))
                                         : InstanceDiscovery(options_.qmp_dir).Find(a.instance_id);
      consumer = vm.ok() && vm->alive ? QemuConsumer(vm->qmp_socket)
                                      : Result<nbd::Consumer>(Status::NotFound(
                                            "InstanceGone", a.instance_id + " is not running"));
      if (!consumer.ok() && !options_.libvirt_uri.empty())
        consumer = LibvirtConsumer(a.instance_id);
    }
    Status st = consumer.ok() ? Export(a.export_name, a.pool, a.volume_id, a.mode == "ro",
                                       *consumer, LimitsOf(a.iops, a.throughput))
                              : consumer.status();
    if (st.ok()) {
      spdlog::info("agent {}: re-exported {} for {}", options_.node, a.volume_id,
                   consumer->ToString());
    } else {
      spdlog::error("agent {}: cannot re-export {}: {}", options_.node, a.volume_id, st.ToString());
    }
  }
  CleanLibvirtDomains(attachments);
  AbandonStaleMounts(attachments);
  if (!listening_) {
    Status st = Listen();
    if (st.ok()) {
      listening_ = true;
    } else {
      spdlog::error("agent {}: cannot serve NBD: {}", options_.node, st.ToString());
    }
  }
  if (options_.qmp_dir.empty()) return;
  auto vms = InstanceDiscovery(options_.qmp_dir).List();
  if (!vms.ok()) return;
  for (const auto& vm : *vms) {
    if (vm.alive && IsQemuInstanceId(vm.id)) CleanVm(vm.id, vm.qmp_socket, attachments);
  }
}

}  // namespace vbs
