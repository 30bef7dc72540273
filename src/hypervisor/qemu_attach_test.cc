// QemuAttach against a fake QEMU: a small model of block nodes and devices behind the fake
// QMP server, answering as QEMU 7.2 does (messages copied from real runs). The real thing is
// exercised by tests/vm/qemu_attach_e2e.sh.
#include "hypervisor/qemu_attach.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "hypervisor/fake_qmp_testing.h"

namespace vbs::hypervisor {
namespace {

using nlohmann::json;
using testing::ErrorReply;
using testing::Event;
using testing::FakeQmpServer;
using testing::Reply;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1 << 20;
const char* kVol = "vol-0123456789abcdef0";

struct FakeQemu {
  struct Node {
    std::string file;
    bool ro = false;
    uint64_t size = 0;      // what the guest sees
    uint64_t nbd_size = 0;  // what QEMU's NBD client negotiated
  };
  std::mutex mu;
  std::map<std::string, Node> nodes;
  std::map<std::string, std::string> devices;  // id → drive
  uint64_t export_size = 64 * kMiB;            // served size, learnt on (re)connect
  bool connection_dropped = false;             // the export closed its connection
  bool guest_releases = true;
  bool fail_device_add = false;
  std::vector<std::string> pending_unplug;

  std::vector<std::string> Handle(const json& cmd) {
    std::lock_guard lock(mu);
    const std::string name = cmd.value("execute", "");
    const json args = cmd.value("arguments", json::object());
    if (name == "query-named-block-nodes") {
      json out = json::array();
      for (auto& [n, node] : nodes) {
        out.push_back({{"node-name", n},
                       {"drv", "nbd"},
                       {"file", node.file},
                       {"ro", node.ro},
                       {"image", {{"virtual-size", node.size}, {"format", "nbd"}}}});
      }
      out.push_back({{"node-name", "#block123"}, {"drv", "file"}, {"file", "/x"}, {"ro", false}});
      return {Reply(cmd, out)};
    }
    if (name == "qom-list") {
      json out = json::array({{{"name", "type"}, {"type", "string"}},
                              {{"name", "other-disk"}, {"type", "child<virtio-blk-pci>"}}});
      for (auto& [id, drive] : devices) {
        out.push_back({{"name", id}, {"type", "child<virtio-blk-pci>"}});
      }
      return {Reply(cmd, out)};
    }
    if (name == "qom-get") {
      std::string id = args.value("path", "").substr(std::string("/machine/peripheral/").size());
      if (!devices.count(id)) {
        return {
            ErrorReply(cmd, "DeviceNotFound", "Device '/machine/peripheral/" + id + "' not found")};
      }
      return {Reply(cmd, devices[id])};
    }
    if (name == "blockdev-add") {
      std::string n = args.value("node-name", "");
      if (nodes.count(n)) {
        return {ErrorReply(cmd, "GenericError", "Duplicate nodes with node-name='" + n + "'")};
      }
      Node node;
      node.file =
          QemuAttach::NbdFileName(args["server"].value("path", ""), args.value("export", ""));
      node.ro = args.value("read-only", false);
      node.size = node.nbd_size = export_size;
      nodes[n] = node;
      return {Reply(cmd, json::object())};
    }
    if (name == "device_add") {
      std::string id = args.value("id", "");
      std::string drive = args.value("drive", "");
      if (devices.count(id)) {
        return {ErrorReply(cmd, "GenericError", "Duplicate device ID '" + id + "'")};
      }
      if (!nodes.count(drive) || fail_device_add) {
        return {ErrorReply(cmd, "GenericError",
                           "Property 'virtio-blk-device.drive' can't "
                           "find value '" +
                               drive + "'")};
      }
      devices[id] = drive;
      return {Reply(cmd, json::object())};
    }
    if (name == "device_del") {
      std::string id = args.value("id", "");
      if (!devices.count(id)) {
        return {ErrorReply(cmd, "DeviceNotFound", "Device '" + id + "' not found")};
      }
      if (!guest_releases) {
        pending_unplug.push_back(id);
        return {Reply(cmd, json::object())};
      }
      devices.erase(id);
      return {Reply(cmd, json::object()),
              Event("DEVICE_DELETED", {{"path", "/machine/peripheral/" + id + "/virtio-backend"}}),
              Event("DEVICE_DELETED", {{"device", id}, {"path", "/machine/peripheral/" + id}})};
    }
    if (name == "blockdev-del") {
      std::string n = args.value("node-name", "");
      if (!nodes.count(n)) {
        return {ErrorReply(cmd, "GenericError", "Failed to find node with node-name='" + n + "'")};
      }
      for (auto& [id, drive] : devices) {
        if (drive == n) return {ErrorReply(cmd, "GenericError", "Node " + n + " is in use")};
      }
      nodes.erase(n);
      return {Reply(cmd, json::object())};
    }
    if (name == "block_resize") {
      std::string n = args.value("node-name", "");
      if (!nodes.count(n)) return {ErrorReply(cmd, "GenericError", "Cannot find node " + n)};
      uint64_t size = args.value("size", uint64_t{0});
      if (size > nodes[n].nbd_size) {
        return {ErrorReply(cmd, "GenericError", "Cannot grow NBD nodes")};
      }
      nodes[n].size = size;
      return {Reply(cmd, json::object())};
    }
    if (name == "human-monitor-command") {
      // qemu-io read: I/O on a dropped connection makes QEMU reconnect and renegotiate.
      if (connection_dropped) {
        for (auto& [n, node] : nodes) node.nbd_size = export_size;
        connection_dropped = false;
      }
      return {Reply(cmd, "")};
    }
    return {ErrorReply(cmd, "CommandNotFound", "The command " + name + " has not been found")};
  }
};

class QemuAttachTest : public ::testing::Test {
 protected:
  QemuAttachTest() : server_([this](const json& cmd) { return qemu_.Handle(cmd); }) {
    QmpClient::Options o;
    o.connect_timeout = 2000ms;
    auto c = QmpClient::FromFd(server_.TakeClientFd(), o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    qmp_ = std::move(c).value();
    QemuAttach::Options ao;
    ao.detach_timeout = 300ms;
    ao.resize_timeout = 300ms;
    attach_ = std::make_unique<QemuAttach>(qmp_.get(), ao);
  }
  std::vector<std::string> Commands() {
    std::vector<std::string> out;
    for (const json& c : server_.Received()) out.push_back(c.value("execute", ""));
    return out;
  }
  size_t Count(const std::string& name) {
    auto c = Commands();
    return static_cast<size_t>(std::count(c.begin(), c.end(), name));
  }
  json Args(const std::string& name) {
    for (const json& c : server_.Received()) {
      if (c.value("execute", "") == name) return c.value("arguments", json::object());
    }
    return nullptr;
  }

  FakeQemu qemu_;
  FakeQmpServer server_;
  std::unique_ptr<QmpClient> qmp_;
  std::unique_ptr<QemuAttach> attach_;
  AttachSpec spec_ = AttachSpec::ForVolume(kVol, "/run/vbs/nbd.sock", "e-secret", false);
};

TEST_F(QemuAttachTest, ForVolumeNames) {
  EXPECT_EQ(spec_.node_name, "vbs-vol-0123456789abcdef0");
  EXPECT_EQ(spec_.device_id, spec_.node_name);
  EXPECT_EQ(spec_.serial, "vol0123456789abcdef0");  // 20 bytes: the virtio-blk limit
  EXPECT_EQ(QemuAttach::SerialForVolume("vol-0123456789abcdef0123"), "vol0123456789abcdef0");
  EXPECT_EQ(QemuAttach::NbdFileName("/s", "x"), "nbd+unix:///x?socket=/s");
  EXPECT_EQ(QemuAttach::NbdFileName("/s", ""), "nbd+unix://?socket=/s");
}

TEST_F(QemuAttachTest, AttachAddsNodeThenDeviceWithAllOptions) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  json node = Args("blockdev-add");
  EXPECT_EQ(node["driver"], "nbd");
  EXPECT_EQ(node["node-name"], spec_.node_name);
  EXPECT_EQ(node["server"], json({{"type", "unix"}, {"path", "/run/vbs/nbd.sock"}}));
  EXPECT_EQ(node["export"], "e-secret");
  EXPECT_EQ(node["read-only"], false);
  EXPECT_EQ(node["reconnect-delay"], 30);
  json dev = Args("device_add");
  EXPECT_EQ(dev["driver"], "virtio-blk-pci");
  EXPECT_EQ(dev["drive"], spec_.node_name);
  EXPECT_EQ(dev["id"], spec_.device_id);
  EXPECT_EQ(dev["serial"], "vol0123456789abcdef0");
}

TEST_F(QemuAttachTest, AttachIsIdempotent) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  EXPECT_EQ(Count("blockdev-add"), 1u);
  EXPECT_EQ(Count("device_add"), 1u);
}

TEST_F(QemuAttachTest, AttachedDifferentlyIsAConflict) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  AttachSpec ro = spec_;
  ro.read_only = true;
  EXPECT_EQ(attach_->Attach(ro).kind(), StatusKind::kConflict);
  AttachSpec other = spec_;
  other.export_name = "e-other";
  EXPECT_EQ(attach_->Attach(other).kind(), StatusKind::kConflict);
  EXPECT_EQ(qemu_.devices.size(), 1u);  // nothing touched
}

TEST_F(QemuAttachTest, LeftoverNodeIsReusedWhenItMatchesAndReplacedWhenNot) {
  qemu_.nodes[spec_.node_name] = {QemuAttach::NbdFileName(spec_.nbd_socket_path, "e-secret"), false,
                                  64 * kMiB, 64 * kMiB};
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  EXPECT_EQ(Count("blockdev-add"), 0u);
  EXPECT_EQ(Count("device_add"), 1u);

  AttachSpec other = AttachSpec::ForVolume("vol-00000000000000002", "/s", "new", true);
  qemu_.nodes[other.node_name] = {QemuAttach::NbdFileName("/s", "old"), false, 1, 1};
  ASSERT_TRUE(attach_->Attach(other).ok());
  EXPECT_EQ(Count("blockdev-del"), 1u);
  EXPECT_EQ(qemu_.nodes[other.node_name].file, "nbd+unix:///new?socket=/s");
  EXPECT_TRUE(qemu_.nodes[other.node_name].ro);
}

TEST_F(QemuAttachTest, FailedDeviceAddRollsTheNodeBack) {
  qemu_.fail_device_add = true;
  Status st = attach_->Attach(spec_);
  EXPECT_EQ(st.code(), "Qmp.GenericError");
  EXPECT_TRUE(qemu_.nodes.empty());
}

TEST_F(QemuAttachTest, InvalidSpecsAreRefusedBeforeTouchingQemu) {
  AttachSpec long_name = spec_;
  long_name.node_name = "vbs-" + std::string(28, 'a');  // 32 > 31
  EXPECT_EQ(attach_->Attach(long_name).kind(), StatusKind::kInvalidArgument);
  AttachSpec bad_id = spec_;
  bad_id.device_id = "1abc";
  EXPECT_EQ(attach_->Attach(bad_id).kind(), StatusKind::kInvalidArgument);
  AttachSpec long_serial = spec_;
  long_serial.serial = std::string(21, 's');
  EXPECT_EQ(attach_->Attach(long_serial).kind(), StatusKind::kInvalidArgument);
  EXPECT_EQ(Commands().size(), 1u);  // only qmp_capabilities
}

TEST_F(QemuAttachTest, DetachWaitsForDeviceDeletedThenDeletesTheNode) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  ASSERT_TRUE(attach_->Detach(spec_.device_id, spec_.node_name).ok());
  EXPECT_TRUE(qemu_.devices.empty());
  EXPECT_TRUE(qemu_.nodes.empty());
  auto cmds = Commands();
  auto del = std::find(cmds.begin(), cmds.end(), "device_del");
  auto bdel = std::find(cmds.begin(), cmds.end(), "blockdev-del");
  EXPECT_LT(del, bdel);
  // Gone already: success, and no device_del for nothing.
  ASSERT_TRUE(attach_->Detach(spec_.device_id, spec_.node_name).ok());
  EXPECT_EQ(Count("device_del"), 1u);
  EXPECT_EQ(Count("blockdev-del"), 1u);
}

TEST_F(QemuAttachTest, DetachOfAHalfAttachRemovesTheNode) {
  qemu_.nodes[spec_.node_name] = {"nbd+unix:///x?socket=/s", false, 1, 1};
  ASSERT_TRUE(attach_->Detach(spec_.device_id, spec_.node_name).ok());
  EXPECT_TRUE(qemu_.nodes.empty());
  EXPECT_EQ(Count("device_del"), 0u);
}

TEST_F(QemuAttachTest, GuestThatDoesNotReleaseTimesOutThenARetryFinishes) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  qemu_.guest_releases = false;
  Status st = attach_->Detach(spec_.device_id, spec_.node_name);
  EXPECT_EQ(st.code(), "GuestDidNotReleaseDevice");
  EXPECT_EQ(st.kind(), StatusKind::kUnavailable);
  EXPECT_EQ(qemu_.nodes.size(), 1u);  // the node stays while the device may use it
  {
    std::lock_guard lock(qemu_.mu);
    qemu_.devices.clear();  // the guest let go later; the event went to nobody
  }
  EXPECT_TRUE(attach_->Detach(spec_.device_id, spec_.node_name).ok());
  EXPECT_TRUE(qemu_.nodes.empty());
}

TEST_F(QemuAttachTest, ListReportsVbsDisksAndLeftoversOnly) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  AttachSpec ro = AttachSpec::ForVolume("vol-00000000000000002", "/s2", "e2", true);
  ASSERT_TRUE(attach_->Attach(ro).ok());
  qemu_.nodes["vbs-vol-00000000000000003"] = {"nbd+unix:///e3?socket=/s3", false, 5, 5};
  auto list = attach_->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);  // "other-disk" and "#block123" are not ours; sorted by name
  EXPECT_EQ((*list)[0].name, "vbs-vol-00000000000000002");
  EXPECT_TRUE((*list)[0].read_only);
  EXPECT_EQ((*list)[1].name, "vbs-vol-00000000000000003");
  EXPECT_TRUE((*list)[1].has_node);
  EXPECT_FALSE((*list)[1].has_device);  // a leftover to reconcile
  const AttachedDisk& a = (*list)[2];
  EXPECT_EQ(a.name, "vbs-vol-0123456789abcdef0");
  EXPECT_TRUE(a.has_device && a.has_node);
  EXPECT_EQ(a.node_name, a.name);
  EXPECT_EQ(a.nbd_file, "nbd+unix:///e-secret?socket=/run/vbs/nbd.sock");
  EXPECT_FALSE(a.read_only);
  EXPECT_EQ(a.size_bytes, 64 * kMiB);
}

TEST_F(QemuAttachTest, ResizeWaitsForTheNbdReconnectToLearnTheNewSize) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  qemu_.export_size = 128 * kMiB;
  qemu_.connection_dropped = true;  // the export was grown and dropped its client
  ASSERT_TRUE(attach_->Resize(spec_.node_name, 128 * kMiB).ok());
  EXPECT_EQ(qemu_.nodes[spec_.node_name].size, 128 * kMiB);
  EXPECT_GE(Count("human-monitor-command"), 1u);
  EXPECT_TRUE(attach_->Resize(spec_.node_name, 128 * kMiB).ok());  // idempotent
}

TEST_F(QemuAttachTest, ResizeFailsClearlyWhenTheExportDidNotReconnect) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  Status st = attach_->Resize(spec_.node_name, 128 * kMiB);
  EXPECT_EQ(st.code(), "ExportNotResized");
  EXPECT_EQ(attach_->Resize(spec_.node_name, 32 * kMiB).kind(), StatusKind::kInvalidArgument);
  EXPECT_EQ(attach_->Resize("vbs-vol-nothere", 32 * kMiB).kind(), StatusKind::kNotFound);
}

TEST_F(QemuAttachTest, QemuExitingMidCallIsUnavailable) {
  ASSERT_TRUE(attach_->Attach(spec_).ok());
  qemu_.guest_releases = false;
  server_.Close();
  Status st = attach_->Detach(spec_.device_id, spec_.node_name);
  EXPECT_EQ(st.code(), "QmpDisconnected");
  EXPECT_EQ(st.kind(), StatusKind::kUnavailable);
}

}  // namespace
}  // namespace vbs::hypervisor
