// HostRole: what the agent does as a host of consumers (design.md §6, §7): it serves volumes
// over NBD, one export with an unguessable name per attachment (read-only for ro), and
// removes the export on detach, which disconnects its clients at once (fencing).
//
// Instances it reports: the node itself ("host-<node>", the bare NBD export target) and every
// live QEMU VM in `qmp_dir` (kind "qemu", id = socket name "i-<17 hex>"; other files and
// sockets nobody listens on are left out, so the server sees a killed VM as gone).
//
// Attach to a QEMU VM: export the volume, then hot-plug it over the VM's QMP socket
// (hypervisor::QemuAttach, AttachSpec::ForVolume). If the plug fails the export is removed
// again. QEMU names are always ForVolume's: device id = node name = "vbs-<volume id>", serial
// = the volume id without its dash; the attachment's `device` parameter is not used as the
// QEMU id (user names would escape List()'s "vbs-" ownership rule) — the result's `device`
// reports the real QEMU device id, which the server records. A rerun attach (the agent died
// mid-op) reuses the export name of a disk already plugged for that volume.
// Detach from a VM: device_del + wait + blockdev-del, then remove the export. The VM is not
// asked when the server says it is gone or its socket is dead. With `force`, a guest that does
// not release the device (or a VM that does not answer QMP) still loses its export: fenced.
// QMP connections are made per operation and serialised per VM (QMP serves one client).
//
// libvirt (options.libvirt_uri; agent/host_role_libvirt.cc): the running domains of that
// libvirt are instances too (kind "libvirt", id "i-" + the UUID's first 17 hex digits, owner
// from the platform's metadata element). Attach exports the volume for the domain's QEMU
// process only and hot-plugs an NBD network disk through libvirt (hypervisor::LibvirtAttach:
// alias "ua-vbs-<volume id>", serial as for QMP); detach removes it and waits for libvirt's
// device-removed event; resize uses libvirt's block resize. The connection is opened on first
// use and reopened after libvirtd restarts.
//
// After a restart (Reconcile) it re-creates the exports of live attachments under their old
// names, so that consumers — QEMU's NBD client with reconnect-delay, or a user's — reconnect
// to the same URI, and it removes "vbs-" devices/nodes from live VMs that no live attachment
// of this node accounts for.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/home_mount.h"
#include "agent/server_client.h"
#include "agent/shared_device.h"
#include "agent/storage_role.h"
#include "agent/volume_stats.h"
#include "nbd/nbd_server.h"
#include "nbd/write_lease.h"

namespace vbs::hypervisor {
class LibvirtConnection;
struct LibvirtDomain;
}  // namespace vbs::hypervisor

namespace vbs {

struct HostRoleOptions {
  std::string node;
  std::string nbd_socket;     // unix socket of the node's NBD server
  std::string qmp_dir;        // QEMU VMs' QMP sockets "<instance id>.qmp"; "" = none
  std::string libvirt_uri{};  // libvirt whose running domains are instances; "" = none
  std::string libvirt_pid_dir = "/run/libvirt/qemu";
  std::string home_root = "/vbs/home";              // VBSFS homes are mounted at home_root/USER
  std::string mount_state_dir = "/run/vbs/mounts";  // agent/home_mount.h
  // The public volume's published version is mounted here read-only; its draft, for an
  // admin's edit, read-write at public_root + ".draft".
  std::string public_root = "/vbs/public";
};

class HostRole {
 public:
  HostRole(HostRoleOptions options, std::map<std::string, AgentPool>* pools);
  ~HostRole();

  // Prepares the NBD socket, which listens from the first Reconcile on (once the exports of
  // live attachments exist again); or, with `handover` (what a predecessor's Handover
  // returned), re-creates its exports, keeps its lease and serves its listener and client
  // connections.
  Status Start(const nlohmann::json* handover = nullptr);
  void Stop();
  // For a successor process (the agent re-executing itself): the exports, the lease and the
  // NBD server's listener and connections, quiesced (nbd/handover.h). Serves nothing after.
  Result<nlohmann::json> Handover(std::chrono::milliseconds timeout);
  // The NBD counters of the volumes exported here, for the agent's /metrics.
  const VolumeStats& volume_stats() const { return stats_; }

  // attach / detach / resize_attachments operations. On success `result` carries what the
  // server records.
  Status Execute(const AgentOp& op, nlohmann::json* result);

  // Holds the writes of every export of `volume_id` this node serves (design.md §5): new
  // writes wait, in-flight ones finish, the devices are flushed. The volume is stable until
  // the returned hold is destroyed; exports of the volume are not created meanwhile.
  class WriteHold {
   public:
    ~WriteHold();
    size_t exports() const { return names_.size(); }

   private:
    friend class HostRole;
    WriteHold(HostRole* role, std::shared_ptr<std::mutex> volume_lock);
    HostRole* role_;
    std::shared_ptr<std::mutex> volume_lock_;
    std::unique_lock<std::mutex> volume_turn_;
    std::vector<std::string> names_;
  };
  Result<std::unique_ptr<WriteHold>> HoldWrites(const std::string& volume_id);
  // A VBSFS file system of `volume_id` mounted here is frozen (FIFREEZE: a file-system-
  // consistent point for a snapshot) until ThawHome; true if there was one. Freeze before
  // HoldWrites: freezing writes the file system's dirty state through the export.
  Result<bool> FreezeHome(const std::string& volume_id);
  void ThawHome(const std::string& volume_id);
  // The VBSFS file systems mounted here and their usage (statvfs).
  std::map<std::string, MountUsage> MountUsages() const;
  // The node's lease (design.md §4): read-write exports write only until `until`, on this
  // process's monotonic clock (nbd/write_lease.h).
  void ExtendLease(std::chrono::steady_clock::time_point until) { lease_->ExtendTo(until); }
  // The servers refused a renewal: the node may have been taken over. Every write stops at
  // once and every export is removed (clients are cut off); Reconcile after a new Hello
  // re-creates only what is still live.
  void LoseLease();
  // Re-creates exports for live attachments of this node; cleans VBS leftovers out of VMs.
  void Reconcile(const std::vector<AgentAttachment>& attachments);
  std::vector<AgentInstance> Instances() const;

  // "i-" and 17 lower-case hex digits: the ids QEMU VMs are reported under.
  static bool IsQemuInstanceId(const std::string& id);

 private:
  Status Export(const std::string& name, const std::string& pool, const std::string& volume_id,
                bool read_only, const nbd::Consumer& consumer, nbd::QosLimits limits);
  // The token bucket every export of `volume_id` on this node shares: made with `limits`, or
  // the existing one, set to `limits` only when `update` (a qos_attachments op may run before
  // the attach that was queued ahead of it: the attach's older limits must not win). The
  // bucket goes with the volume's last export.
  std::shared_ptr<nbd::Throttle> ThrottleFor(const std::string& volume_id, nbd::QosLimits limits,
                                             bool update);
  // qos_attachments: the volume's new limits.
  Status ApplyQos(const AgentOp& op, const std::string& volume_id);
  // The consumer of a VM's exports: its QEMU process, as the QMP socket's peer.
  Result<nbd::Consumer> QemuConsumer(const std::string& qmp_socket);
  Status Unexport(const std::string& name);
  Status Adopt(const nlohmann::json& handover);
  std::string UriOf(const std::string& export_name) const;

  Status AttachQemu(const AgentOp& op, const std::string& volume_id, bool read_only,
                    nlohmann::json* result);
  Status DetachQemu(const AgentOp& op, const std::string& volume_id);
  // The export name of a disk for `volume_id` already plugged into the VM ("" if none).
  std::string PluggedExport(const std::string& qmp_socket, const std::string& volume_id);
  void CleanVm(const std::string& instance_id, const std::string& qmp_socket,
               const std::vector<AgentAttachment>& attachments);
  std::shared_ptr<std::mutex> VmLock(const std::string& instance_id);
  std::shared_ptr<std::mutex> VolumeLock(const std::string& volume_id);
  std::vector<std::string> ExportsOf(const std::string& volume_id);
  Status ResizeAttachments(const AgentOp& op, const std::string& volume_id);

  // libvirt (host_role_libvirt.cc). The connection, opened on first use; Unavailable when
  // there is none (no libvirt_uri, or libvirtd does not answer).
  Result<hypervisor::LibvirtConnection*> Libvirt() const;
  // The running domain with this instance id; NotFound when libvirt has none.
  Result<hypervisor::LibvirtDomain> LibvirtDomainOf(const std::string& instance_id) const;
  void AddLibvirtInstances(std::vector<AgentInstance>* out) const;
  Status AttachLibvirt(const AgentOp& op, const std::string& volume_id, bool read_only,
                       nlohmann::json* result);
  // Detaches from a running domain; false in *handled when the instance is no live domain.
  Status DetachLibvirt(const AgentOp& op, const std::string& volume_id, bool* handled);
  Status ResizeLibvirt(const hypervisor::LibvirtDomain& domain, const std::string& volume_id,
                       uint64_t size);
  Result<nbd::Consumer> LibvirtConsumer(const std::string& instance_id) const;
  // Removes "ua-vbs-" disks that no live attachment of this node accounts for.
  void CleanLibvirtDomains(const std::vector<AgentAttachment>& attachments);

  // VBSFS (host_role_home.cc): a home attachment exports the volume to the agent itself under
  // a fixed name and mounts it (agent/home_mount.h); its detach unmounts first.
  Status AttachHome(const AgentOp& op, const std::string& volume_id, nlohmann::json* result);
  Status UnmountHome(const AgentOp& op, const std::string& volume_id);
  // After the volume grew: a home mounted here grows its file system online, or, where that
  // is refused, at its next mount (the volume's growth stands either way).
  void GrowHome(const std::string& volume_id);
  // At a fresh start: an agent that died during a snapshot left its file system frozen.
  void ThawAllHomes();
  // The VBSFS mounts here whose volume has no attachment to this node any more (the node was
  // cut off and the attachment ended without it, e.g. to move the home): taken away without
  // a sync, so that nothing stale reaches the volume or is served from this page cache.
  void AbandonStaleMounts(const std::vector<AgentAttachment>& attachments);

  HostRoleOptions options_;
  std::map<std::string, AgentPool>* pools_;
  nbd::NbdServer nbd_;
  std::shared_ptr<nbd::WriteLease> lease_ = std::make_shared<nbd::WriteLease>();
  std::mutex mu_;
  // Whether the NBD socket listens: from the first Reconcile on (or the predecessor's).
  bool listening_ = false;
  std::thread thaw_;  // ThawAllHomes at a fresh start, joined by Stop
  Status Listen();
  struct ExportInfo {
    std::string volume_id;
    std::string pool;
    bool read_only = false;
    nbd::Consumer consumer;
    std::shared_ptr<SharedDevice> device;  // the volume opened for its connections
  };
  std::map<std::string, ExportInfo> exports_;                        // by export name
  std::map<std::string, std::shared_ptr<std::mutex>> vm_locks_;      // instance id → its QMP turn
  std::map<std::string, std::shared_ptr<nbd::Throttle>> throttles_;  // volume id → its bucket
  VolumeStats stats_{options_.node};  // volume id → its NBD counters (metrics)
  // volume id → held while a snapshot holds its writes (exports wait for it)
  std::map<std::string, std::shared_ptr<std::mutex>> volume_locks_;
  std::unique_ptr<HomeMounter> homes_;
  mutable std::mutex libvirt_mu_;
  mutable std::unique_ptr<hypervisor::LibvirtConnection> libvirt_;
};

}  // namespace vbs
