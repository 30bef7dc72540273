// LibvirtAttach: hot-plugs NBD-served volumes into running libvirt domains — QemuAttach's
// contract (qemu_attach.h) for VMs that libvirt manages, where QMP belongs to libvirtd.
//
// Contract:
// - Attach = virDomainAttachDeviceFlags(LIVE) of DiskXml(spec) on the first free vdX of the
//   live XML. Idempotent: a disk with the same alias and the same export, socket and
//   read-only flag succeeds without change; the same alias with anything else is Conflict
//   "AttachConflict" (the caller detaches first). <reconnect delay> is sent only to
//   libvirt >= 9.2 (9.0 drops it silently, so QEMU's reconnect-delay stays 0 there).
// - Detach = virDomainDetachDeviceAlias(LIVE), then wait (bounded by detach_timeout) for the
//   DEVICE_REMOVED event for the alias; the live XML is re-read every second too, so an
//   event lost to a reconnect costs at most a second. A disk that is already gone, or a
//   domain that stopped meanwhile, is success. DEVICE_REMOVAL_FAILED or the timeout is
//   Unavailable "GuestDidNotReleaseDevice"; calling Detach again continues waiting (QEMU
//   keeps the unplug request pending).
// - Resize = virDomainBlockResize(BYTES) on the disk's target. QEMU's NBD client learns an
//   export's size only when it reconnects (NBD has no resize notification), so the caller
//   grows the export and drops its connection first; QEMU reconnects on the next guest I/O
//   (libvirt offers no way to poke the node as QemuAttach does over QMP). Resize retries
//   until resize_timeout, then Conflict "ExportNotResized". Shrinking is refused.
// - List = the VBS disks (alias starting kVbsAliasPrefix) of a domain.
// - Domains are named by name, UUID or VBS instance id (LibvirtConnection::Lookup).
// - Calls on one LibvirtAttach run one at a time (each reads the live XML, then changes it).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "hypervisor/libvirt_connection.h"
#include "hypervisor/libvirt_xml.h"

namespace vbs::hypervisor {

struct LibvirtAttachedDisk {
  std::string volume_id;    // the alias without kVbsAliasPrefix
  std::string alias;        // "ua-vbs-vol-…"
  std::string target_dev;   // "vda"
  std::string export_name;  // NBD export
  std::string socket;       // NBD unix socket
  std::string serial;
  bool read_only = false;
};

class LibvirtAttach {
 public:
  struct Options {
    std::chrono::milliseconds detach_timeout{30000};  // detach → DEVICE_REMOVED
    std::chrono::milliseconds resize_timeout{15000};  // waiting for the NBD reconnect
  };

  // `conn` must outlive this object.
  explicit LibvirtAttach(LibvirtConnection* conn) : LibvirtAttach(conn, Options{}) {}
  LibvirtAttach(LibvirtConnection* conn, Options options) : conn_(conn), options_(options) {}

  Status Attach(const std::string& domain, const LibvirtDiskSpec& spec);
  Status Detach(const std::string& domain, const std::string& volume_id);
  Status Resize(const std::string& domain, const std::string& volume_id, uint64_t new_size_bytes);
  Result<std::vector<LibvirtAttachedDisk>> List(const std::string& domain);

  static constexpr unsigned long kReconnectSince = 9002000;  // libvirt 9.2.0

 private:
  Result<std::vector<DomainDisk>> LiveDisks(virDomainPtr dom);
  Result<std::optional<DomainDisk>> FindDisk(virDomainPtr dom, const std::string& alias);

  std::mutex mu_;
  LibvirtConnection* conn_;
  Options options_;
};

}  // namespace vbs::hypervisor
