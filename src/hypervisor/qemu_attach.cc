#include "hypervisor/qemu_attach.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <thread>

namespace vbs::hypervisor {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxNodeName = 31;  // QEMU: node-name must fit in char[32]
constexpr size_t kMaxSerial = 20;    // VIRTIO_BLK_ID_BYTES

bool HasVbsPrefix(const std::string& name) {
  return name.rfind(kVbsPrefix, 0) == 0;
}

// QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'.
bool WellFormedId(const std::string& id) {
  if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

std::string PeripheralPath(const std::string& device_id) {
  return "/machine/peripheral/" + device_id;
}

std::string StrField(const json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

uint64_t VirtualSize(const json& node) {
  auto image = node.find("image");
  if (image == node.end() || !image->is_object()) return 0;
  auto size = image->find("virtual-size");
  return (size != image->end() && size->is_number_unsigned()) ? size->get<uint64_t>() : 0;
}

bool BoolField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

AttachSpec AttachSpec::ForVolume(std::string_view volume_id, std::string nbd_socket_path,
                                 std::string export_name, bool read_only) {
  AttachSpec spec;
  spec.node_name = std::string(kVbsPrefix) + std::string(volume_id);
  spec.device_id = spec.node_name;
  spec.serial = QemuAttach::SerialForVolume(volume_id);
  spec.nbd_socket_path = std::move(nbd_socket_path);
  spec.export_name = std::move(export_name);
  spec.read_only = read_only;
  return spec;
}

std::string QemuAttach::SerialForVolume(std::string_view volume_id) {
  std::string serial;
  for (char c : volume_id) {
    if (c != '-') serial.push_back(c);
  }
  if (serial.size() > kMaxSerial) serial.resize(kMaxSerial);
  return serial;
}

std::string QemuAttach::NbdFileName(const std::string& socket_path,
                                    const std::string& export_name) {
  // Mirrors QEMU's nbd_refresh_filename() for a unix socket address.
  return "nbd+unix://" + (export_name.empty() ? std::string() : "/" + export_name) +
         "?socket=" + socket_path;
}

Result<json> QemuAttach::Run(const std::string& command, const json& args) {
  return qmp_->Execute(command, args, options_.command_timeout);
}

Result<QemuAttach::NodeInfo> QemuAttach::FindNode(const std::string& node_name) {
  VBS_ASSIGN_OR_RETURN(json nodes, Run("query-named-block-nodes", {{"flat", true}}));
  NodeInfo info;
  if (!nodes.is_array()) return info;
  for (const json& n : nodes) {
    if (!n.is_object() || StrField(n, "node-name") != node_name) continue;
    info.present = true;
    info.file = StrField(n, "file");
    info.read_only = BoolField(n, "ro");
    info.size_bytes = VirtualSize(n);
    break;
  }
  return info;
}

Result<bool> QemuAttach::DeviceExists(const std::string& device_id) {
  VBS_ASSIGN_OR_RETURN(json props, Run("qom-list", {{"path", "/machine/peripheral"}}));
  if (!props.is_array()) return false;
  for (const json& p : props) {
    if (p.is_object() && StrField(p, "name") == device_id &&
        StrField(p, "type").rfind("child<", 0) == 0) {
      return true;
    }
  }
  return false;
}

Result<std::string> QemuAttach::DeviceDrive(const std::string& device_id) {
  VBS_ASSIGN_OR_RETURN(
      json drive, Run("qom-get", {{"path", PeripheralPath(device_id)}, {"property", "drive"}}));
  return drive.is_string() ? drive.get<std::string>() : std::string();
}

Status QemuAttach::DeleteNode(const std::string& node_name) {
  // Right after DEVICE_DELETED the device's reference to the node may still be dropping;
  // "in use" then clears within moments, so retry briefly before reporting it.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (true) {
    auto r = Run("blockdev-del", {{"node-name", node_name}});
    if (r.ok()) return Status::Ok();
    const std::string& msg = r.status().message();
    if (msg.find("Failed to find node") != std::string::npos) return Status::Ok();  // gone
    if (msg.find("in use") == std::string::npos || Clock::now() > deadline) return r.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status QemuAttach::Attach(const AttachSpec& spec) {
  std::lock_guard lock(mu_);
  if (!WellFormedId(spec.node_name) || spec.node_name.size() > kMaxNodeName) {
    return Status::InvalidArgument(
        "InvalidAttachSpec",
        "node name must be a QEMU id of at most 31 characters: " + spec.node_name);
  }
  if (!WellFormedId(spec.device_id)) {
    return Status::InvalidArgument("InvalidAttachSpec", "bad device id: " + spec.device_id);
  }
  if (spec.serial.size() > kMaxSerial || spec.nbd_socket_path.empty() ||
      spec.reconnect_delay_s < 0) {
    return Status::InvalidArgument(
        "InvalidAttachSpec", "serial over 20 bytes, empty socket path or negative reconnect delay");
  }
  const std::string want_file = NbdFileName(spec.nbd_socket_path, spec.export_name);
  VBS_ASSIGN_OR_RETURN(NodeInfo node, FindNode(spec.node_name));
  VBS_ASSIGN_OR_RETURN(bool has_device, DeviceExists(spec.device_id));
  const bool node_matches =
      node.present && node.file == want_file && node.read_only == spec.read_only;

  if (has_device) {
    VBS_ASSIGN_OR_RETURN(std::string drive, DeviceDrive(spec.device_id));
    if (drive == spec.node_name && node_matches) return Status::Ok();  // already attached
    return Status::Conflict(
        "AttachConflict", "device " + spec.device_id + " is attached with drive '" + drive + "' (" +
                              node.file + (node.read_only ? ", ro" : ", rw") + "), not " +
                              want_file + (spec.read_only ? ", ro" : ", rw") + ": detach it first");
  }
  if (node.present && !node_matches) {
    // A leftover of an earlier, different attach that never got its device: replace it.
    VBS_RETURN_IF_ERROR(DeleteNode(spec.node_name));
  }
  bool created_node = false;
  if (!node_matches) {
    json args = {{"driver", "nbd"},
                 {"node-name", spec.node_name},
                 {"server", {{"type", "unix"}, {"path", spec.nbd_socket_path}}},
                 {"export", spec.export_name},
                 {"read-only", spec.read_only},
                 {"reconnect-delay", spec.reconnect_delay_s}};
    auto added = Run("blockdev-add", args);
    if (!added.ok()) return added.status();
    created_node = true;
  }
  json dev = {{"driver", "virtio-blk-pci"}, {"id", spec.device_id}, {"drive", spec.node_name}};
  if (!spec.serial.empty()) dev["serial"] = spec.serial;
  auto added = Run("device_add", dev);
  if (!added.ok()) {
    // Leave nothing half-made behind; the node is useless without its device.
    if (created_node) (void)DeleteNode(spec.node_name);
    return added.status();
  }
  return Status::Ok();
}

Status QemuAttach::WaitDeviceGone(const std::string& device_id) {
  const auto deadline = Clock::now() + options_.detach_timeout;
  auto is_ours = [&](const QmpEvent& ev) { return StrField(ev.data, "device") == device_id; };
  while (true) {
    // The event is the fast path; the qom-list check covers an event that was emitted
    // before we connected (an agent restarted mid-detach) or one left from an older unplug.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto slice = std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(1000));
    auto ev = qmp_->WaitForEvent("DEVICE_DELETED", is_ours, slice);
    if (!ev.ok() && ev.status().code() != "QmpTimeout") return ev.status();
    VBS_ASSIGN_OR_RETURN(bool exists, DeviceExists(device_id));
    if (!exists) return Status::Ok();
    if (Clock::now() >= deadline) {
      return Status(StatusKind::kUnavailable, "GuestDidNotReleaseDevice",
                    "device " + device_id +
                        " is still present after device_del: the guest has not released it "
                        "(no PCI hot-plug support, or busy); detach again to keep waiting");
    }
  }
}

Status QemuAttach::Detach(const std::string& device_id, const std::string& node_name) {
  std::lock_guard lock(mu_);
  VBS_ASSIGN_OR_RETURN(bool has_device, DeviceExists(device_id));
  if (has_device) {
    auto del = Run("device_del", {{"id", device_id}});
    if (!del.ok()) {
      // DeviceNotFound: it vanished between the two calls. "already in the process of
      // unplug": an earlier device_del is still pending, so waiting is the right thing.
      const bool gone = IsQmpError(del.status(), "DeviceNotFound");
      const bool pending = del.status().message().find("process of unplug") != std::string::npos;
      if (!gone && !pending) return del.status();
    }
    VBS_RETURN_IF_ERROR(WaitDeviceGone(device_id));
  }
  if (node_name.empty()) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(NodeInfo node, FindNode(node_name));
  if (!node.present) return Status::Ok();
  return DeleteNode(node_name);
}

Status QemuAttach::Resize(const std::string& node_name, uint64_t new_size_bytes) {
  std::lock_guard lock(mu_);
  VBS_ASSIGN_OR_RETURN(NodeInfo node, FindNode(node_name));
  if (!node.present) {
    return Status::NotFound("AttachmentNotFound", "no block node " + node_name + " in this VM");
  }
  if (new_size_bytes < node.size_bytes) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "volumes only grow: " + std::to_string(new_size_bytes) +
                                       " < current " + std::to_string(node.size_bytes));
  }
  if (new_size_bytes == node.size_bytes) return Status::Ok();
  const auto deadline = Clock::now() + options_.resize_timeout;
  while (true) {
    auto r = Run("block_resize", {{"node-name", node_name}, {"size", new_size_bytes}});
    if (r.ok()) return Status::Ok();
    if (r.status().message().find("Cannot grow NBD nodes") == std::string::npos) {
      return r.status();
    }
    if (Clock::now() >= deadline) {
      return Status::Conflict(
          "ExportNotResized",
          "QEMU's NBD connection for " + node_name + " still reports " +
              std::to_string(node.size_bytes) +
              " bytes: grow the export, then drop its connection so QEMU reconnects and "
              "learns the new size (NBD has no resize notification)");
    }
    // QEMU notices a dropped NBD connection only on I/O; an idle guest does none. A read
    // through the node makes it reconnect, which re-negotiates the export size.
    (void)Run("human-monitor-command",
              {{"command-line", "qemu-io " + node_name + " \"read 0 512\""}});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<std::vector<AttachedDisk>> QemuAttach::List() {
  std::lock_guard lock(mu_);
  std::map<std::string, AttachedDisk> disks;
  VBS_ASSIGN_OR_RETURN(json nodes, Run("query-named-block-nodes", {{"flat", true}}));
  if (nodes.is_array()) {
    for (const json& n : nodes) {
      std::string name = n.is_object() ? StrField(n, "node-name") : std::string();
      if (!HasVbsPrefix(name)) continue;
      AttachedDisk& d = disks[name];
      d.name = name;
      d.has_node = true;
      d.nbd_file = StrField(n, "file");
      d.read_only = BoolField(n, "ro");
      d.size_bytes = VirtualSize(n);
    }
  }
  VBS_ASSIGN_OR_RETURN(json props, Run("qom-list", {{"path", "/machine/peripheral"}}));
  if (props.is_array()) {
    for (const json& p : props) {
      std::string name = p.is_object() ? StrField(p, "name") : std::string();
      if (!HasVbsPrefix(name) || StrField(p, "type").rfind("child<", 0) != 0) continue;
      AttachedDisk& d = disks[name];
      d.name = name;
      d.has_device = true;
      auto drive = DeviceDrive(name);
      if (drive.ok()) d.node_name = *drive;
    }
  }
  std::vector<AttachedDisk> out;
  for (auto& [name, d] : disks) {
    if (d.node_name.empty() && d.has_node) d.node_name = name;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace vbs::hypervisor
