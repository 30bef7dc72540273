// HostRole's libvirt instances (host_role.h): domains of the configured libvirt as instances,
// attach/detach/resize through hypervisor::LibvirtAttach, and leftovers cleaned after a restart.
#include <spdlog/spdlog.h>

#include <set>

#include "agent/host_op_params.h"
#include "agent/host_role.h"
#include "common/ids.h"
#include "hypervisor/libvirt_attach.h"
#include "hypervisor/libvirt_connection.h"

namespace vbs {
namespace {

using hypervisor::LibvirtAttach;
using hypervisor::LibvirtConnection;
using hypervisor::LibvirtDiskSpec;
using hypervisor::LibvirtDomain;

using host_op::IsParamTrue;

LibvirtAttach::Options Timeouts(std::chrono::milliseconds detach) {
  LibvirtAttach::Options o;
  o.detach_timeout = detach;
  return o;
}

// Only the domain's QEMU may open its exports.
Result<nbd::Consumer> ConsumerOf(const LibvirtDomain& domain) {
  if (domain.qemu_pid == 0) {
    return Status(StatusKind::kUnavailable, "InstanceGone",
                  "the QEMU process of domain '" + domain.name + "' cannot be found");
  }
  return nbd::Consumer::Process(domain.qemu_pid);
}

}  // namespace

Result<LibvirtConnection*> HostRole::Libvirt() const {
  if (options_.libvirt_uri.empty()) {
    return Status(StatusKind::kUnavailable, "UnsupportedInstance",
                  "this agent has no libvirt (agent.libvirt_uri)");
  }
  std::lock_guard<std::mutex> l(libvirt_mu_);
  if (!libvirt_) {
    LibvirtConnection::Options o;
    o.pid_dir = options_.libvirt_pid_dir;
    VBS_ASSIGN_OR_RETURN(libvirt_, LibvirtConnection::Open(options_.libvirt_uri, o));
    spdlog::info("agent {}: connected to libvirt at {}", options_.node, options_.libvirt_uri);
  }
  return libvirt_.get();
}

Result<LibvirtDomain> HostRole::LibvirtDomainOf(const std::string& instance_id) const {
  if (!IsQemuInstanceId(instance_id)) {
    return Status::NotFound("InvalidInstanceID.NotFound", "no domain '" + instance_id + "'");
  }
  VBS_ASSIGN_OR_RETURN(LibvirtConnection * conn, Libvirt());
  VBS_ASSIGN_OR_RETURN(LibvirtDomain d, conn->Describe(instance_id));
  if (!d.alive) {
    return Status::NotFound("InvalidInstanceID.NotFound",
                            "libvirt runs no domain with instance id '" + instance_id + "'");
  }
  return d;
}

void HostRole::AddLibvirtInstances(std::vector<AgentInstance>* out) const {
  if (options_.libvirt_uri.empty()) return;
  auto conn = Libvirt();
  if (!conn.ok()) {
    spdlog::warn("agent {}: libvirt: {}", options_.node, conn.status().ToString());
    return;
  }
  auto domains = (*conn)->ListDomains();
  if (!domains.ok()) {
    spdlog::warn("agent {}: listing libvirt domains: {}", options_.node,
                 domains.status().ToString());
    return;
  }
  std::set<std::string> seen;
  for (const auto& out_i : *out) seen.insert(out_i.id);
  for (const auto& d : *domains) {
    // A domain whose QEMU cannot be told apart cannot be served safely: not an instance.
    if (!d.alive || d.qemu_pid == 0 || !seen.insert(d.instance_id).second) continue;
    out->push_back(AgentInstance{d.instance_id, "libvirt", d.owner});
  }
}

Result<nbd::Consumer> HostRole::LibvirtConsumer(const std::string& instance_id) const {
  VBS_ASSIGN_OR_RETURN(auto domain, LibvirtDomainOf(instance_id));
  return ConsumerOf(domain);
}

Status HostRole::AttachLibvirt(const AgentOp& op, const std::string& volume_id, bool read_only,
                               nlohmann::json* result) {
  const std::string instance_id = op.params.value("instance_id", "");
  auto domain = LibvirtDomainOf(instance_id);
  if (!domain.ok()) {
    if (domain.status().kind() != StatusKind::kNotFound) return domain.status();
    return Status(StatusKind::kUnavailable, "InstanceGone",
                  "the domain '" + instance_id + "' is not running");
  }
  VBS_ASSIGN_OR_RETURN(LibvirtConnection * conn, Libvirt());
  auto lock = VmLock(instance_id);
  std::lock_guard<std::mutex> vm_turn(*lock);
  LibvirtAttach vm(conn, Timeouts(host_op::kDetachTimeout));
  // A rerun of this op (the agent died after plugging) finds its disk: keep its export name.
  std::string name;
  if (auto disks = vm.List(domain->uuid); disks.ok()) {
    for (const auto& d : *disks) {
      if (d.volume_id == volume_id && d.socket == options_.nbd_socket) name = d.export_name;
    }
  }
  const bool reused = !name.empty();
  if (!reused) name = "vbs-" + RandomHex(16);
  bool exported_here = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    exported_here = exports_.count(name) > 0;
  }
  // Only this domain's QEMU may open the export: the name alone lets nobody else in.
  VBS_ASSIGN_OR_RETURN(auto consumer, ConsumerOf(*domain));
  if (!exported_here) {
    VBS_RETURN_IF_ERROR(
        Export(name, op.pool, volume_id, read_only, consumer, host_op::LimitsOf(op.params)));
  }
  const auto spec = LibvirtDiskSpec::ForVolume(volume_id, options_.nbd_socket, name, read_only);
  Status st = vm.Attach(domain->uuid, spec);
  if (!st.ok()) {
    if (!exported_here) (void)Unexport(name);  // leave nothing half-made behind
    return st;
  }
  (*result)["export_name"] = name;
  (*result)["nbd_uri"] = UriOf(name);
  (*result)["device"] = spec.alias;
  spdlog::info(
      "agent {}: attached {} ({}) to libvirt domain {} ({}) as {} (only its QEMU may "
      "open it{})",
      options_.node, volume_id, read_only ? "ro" : "rw", domain->name, instance_id, spec.alias,
      reused ? ", reused" : "");
  return Status::Ok();
}

Status HostRole::DetachLibvirt(const AgentOp& op, const std::string& volume_id, bool* handled) {
  *handled = false;
  const std::string instance_id = op.params.value("instance_id", "");
  if (options_.libvirt_uri.empty() || IsParamTrue(op.params, "instance_gone")) return Status::Ok();
  auto domain = LibvirtDomainOf(instance_id);
  if (!domain.ok()) {
    // Gone (or never a domain: QMP's turn). libvirt not answering: the caller fences.
    if (domain.status().kind() == StatusKind::kNotFound) return Status::Ok();
    if (!IsParamTrue(op.params, "force")) return domain.status();
    spdlog::warn("agent {}: cannot ask libvirt about {} ({}): fencing it off its export",
                 options_.node, instance_id, domain.status().ToString());
    return Status::Ok();
  }
  *handled = true;
  const bool force = IsParamTrue(op.params, "force");
  VBS_ASSIGN_OR_RETURN(LibvirtConnection * conn, Libvirt());
  auto lock = VmLock(instance_id);
  std::lock_guard<std::mutex> vm_turn(*lock);
  Status st =
      LibvirtAttach(conn, Timeouts(force ? host_op::kForcedDetachTimeout : host_op::kDetachTimeout))
          .Detach(domain->uuid, volume_id);
  if (!st.ok()) {
    if (!force) return st;  // still attached; the user may retry, or force
    spdlog::warn("agent {}: domain {} did not let go of {} ({}): fencing it off its export",
                 options_.node, domain->name, volume_id, st.ToString());
  }
  const std::string name = op.params.value("export_name", "");
  VBS_RETURN_IF_ERROR(Unexport(name));
  spdlog::info("agent {}: detached {} from libvirt domain {} ({})", options_.node, volume_id,
               domain->name, instance_id);
  return Status::Ok();
}

Status HostRole::ResizeLibvirt(const LibvirtDomain& domain, const std::string& volume_id,
                               uint64_t size) {
  VBS_ASSIGN_OR_RETURN(LibvirtConnection * conn, Libvirt());
  auto lock = VmLock(domain.instance_id);
  std::lock_guard<std::mutex> vm_turn(*lock);
  Status st = LibvirtAttach(conn).Resize(domain.uuid, volume_id, size);
  if (st.kind() == StatusKind::kNotFound) return Status::Ok();  // not plugged (yet)
  VBS_RETURN_IF_ERROR(st);
  spdlog::info("agent {}: domain {} now sees {} at {} bytes", options_.node, domain.name, volume_id,
               size);
  return Status::Ok();
}

void HostRole::CleanLibvirtDomains(const std::vector<AgentAttachment>& attachments) {
  if (options_.libvirt_uri.empty()) return;
  auto conn = Libvirt();
  if (!conn.ok()) return;
  auto domains = (*conn)->ListDomains();
  if (!domains.ok()) return;
  for (const auto& d : *domains) {
    if (!d.alive) continue;
    std::set<std::string> expected;  // volumes of this domain's live attachments
    for (const auto& a : attachments) {
      if (a.instance_id == d.instance_id) expected.insert(a.volume_id);
    }
    auto lock = VmLock(d.instance_id);
    std::lock_guard<std::mutex> vm_turn(*lock);
    LibvirtAttach vm(*conn, Timeouts(host_op::kCleanupDetachTimeout));
    auto disks = vm.List(d.uuid);
    if (!disks.ok()) continue;
    for (const auto& disk : *disks) {
      if (expected.count(disk.volume_id)) continue;
      Status st = vm.Detach(d.uuid, disk.volume_id);
      if (st.ok()) {
        spdlog::info("agent {}: removed leftover {} from domain {}", options_.node, disk.alias,
                     d.name);
      } else {
        spdlog::warn("agent {}: cannot remove leftover {} from domain {}: {}", options_.node,
                     disk.alias, d.name, st.ToString());
      }
    }
  }
}

}  // namespace vbs
