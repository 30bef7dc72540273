// QemuAttach: hot-plugs NBD-served volumes into one running QEMU VM over QMP.
//
// Contract:
// - Attach = blockdev-add {driver nbd, server {type unix, path}, export, read-only,
//   reconnect-delay} + device_add virtio-blk-pci {drive = node, id = device id, serial}.
//   Idempotent: what is already attached the same way succeeds without change; a node left
//   behind by a half-done attach is reused if it matches, replaced if not. A device that
//   exists with a different node, or a node in use with different NBD settings, is a
//   Conflict (the caller detaches first). device_add failing rolls the node back.
// - Detach = device_del, wait (bounded) for DEVICE_DELETED, blockdev-del. Idempotent: a
//   device or node that is already gone is success. A guest that does not release the
//   device in time yields Unavailable "GuestDidNotReleaseDevice"; calling Detach again
//   continues waiting (QEMU keeps the unplug request pending).
// - Resize = block_resize on the node. QEMU's NBD client learns an export's size only when
//   it (re)connects (NBD has no resize notification), so the export must be grown first and
//   must then drop its connection; Resize pokes the node with a read so QEMU notices the
//   closed connection and reconnects, and retries until `resize_timeout`. Shrinking is
//   refused (volumes only grow).
// - List = every VBS-owned device and block node present (names start with kVbsPrefix), so
//   an agent can reconcile after a crash: what it does not expect, it Detach()es.
// - Names: device id = node name = "vbs-" + volume id (QEMU keeps the two in separate
//   namespaces; node names are limited to 31 characters); serial = the volume id without
//   dashes ("vol0123…", 20 bytes, the virtio-blk serial limit, as EC2 does for NVMe), which
//   a guest reads from /sys/block/vdX/serial or /dev/disk/by-id/virtio-<serial>.
// - Every call is bounded; QEMU exiting mid-call yields Unavailable "QmpDisconnected".
// - Calls on one QemuAttach run one at a time (each checks QEMU's state, then changes it).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "hypervisor/qmp_client.h"

namespace vbs::hypervisor {

inline constexpr std::string_view kVbsPrefix = "vbs-";

struct AttachSpec {
  std::string node_name;        // QEMU block node name ("vbs-vol-…")
  std::string device_id;        // QEMU device id ("vbs-vol-…")
  std::string serial;           // virtio-blk serial the guest sees (≤ 20 bytes)
  std::string nbd_socket_path;  // the export's unix socket
  std::string export_name;      // NBD export name
  bool read_only = false;
  // Seconds QEMU keeps guest I/O waiting while it reconnects to a vanished export (an agent
  // restart) before failing it with EIO; reconnection attempts continue after that.
  int reconnect_delay_s = 30;

  // The standard names for volume `volume_id` (a "vol-…" id).
  static AttachSpec ForVolume(std::string_view volume_id, std::string nbd_socket_path,
                              std::string export_name, bool read_only);
};

// What List() finds. A device without a node or a node without a device is a leftover of a
// half-done attach/detach.
struct AttachedDisk {
  std::string name;  // device id and/or node name (they are equal for VBS disks)
  bool has_device = false;
  bool has_node = false;
  std::string node_name;  // the node the device uses ("" when unknown)
  std::string nbd_file;   // QEMU's description: "nbd+unix:///EXPORT?socket=PATH"
  bool read_only = false;
  uint64_t size_bytes = 0;
};

class QemuAttach {
 public:
  struct Options {
    std::chrono::milliseconds detach_timeout{30000};  // device_del → DEVICE_DELETED
    std::chrono::milliseconds resize_timeout{15000};  // waiting for the NBD reconnect
    std::chrono::milliseconds command_timeout{30000};
  };

  // `qmp` must outlive this object; QemuAttach does not own it.
  explicit QemuAttach(QmpClient* qmp) : QemuAttach(qmp, Options{}) {}
  QemuAttach(QmpClient* qmp, Options options) : qmp_(qmp), options_(options) {}

  Status Attach(const AttachSpec& spec);
  Status Detach(const std::string& device_id, const std::string& node_name);
  Status Resize(const std::string& node_name, uint64_t new_size_bytes);
  Result<std::vector<AttachedDisk>> List();

  // The description QEMU gives an NBD node on a unix socket (to compare with List()).
  static std::string NbdFileName(const std::string& socket_path, const std::string& export_name);
  // "vol-0123…" → "vol0123…", cut to 20 bytes.
  static std::string SerialForVolume(std::string_view volume_id);

 private:
  struct NodeInfo {
    bool present = false;
    std::string file;
    bool read_only = false;
    uint64_t size_bytes = 0;
  };
  Result<NodeInfo> FindNode(const std::string& node_name);
  Result<bool> DeviceExists(const std::string& device_id);
  Result<std::string> DeviceDrive(const std::string& device_id);
  Status DeleteNode(const std::string& node_name);
  Status WaitDeviceGone(const std::string& device_id);
  Result<nlohmann::json> Run(const std::string& command, const nlohmann::json& args = nullptr);

  std::mutex mu_;
  QmpClient* qmp_;
  Options options_;
};

}  // namespace vbs::hypervisor
