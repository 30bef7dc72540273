// HostRole without a server or QEMU: which VMs it reports, and attach/detach paths that must
// not reach QMP (a VM that is gone). The full QEMU path is tests/vm/vbs_attach_e2e.sh.
#include "agent/host_role.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace vbs {
namespace {

namespace fs = std::filesystem;

// A unix socket at `path`; listening (alive) or closed at once (a VM that exited).
int MakeSocket(const std::string& path, bool listen) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
  if (listen) {
    EXPECT_EQ(::listen(fd, 1), 0);
    return fd;
  }
  ::close(fd);
  return -1;
}

class HostRoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vbs-hr-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/qmp");
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    fs::remove_all(dir_);
  }
  HostRoleOptions Options() { return HostRoleOptions{"n1", dir_ + "/nbd.sock", dir_ + "/qmp"}; }
  void Vm(const std::string& name, bool alive) {
    int fd = MakeSocket(dir_ + "/qmp/" + name, alive);
    if (fd >= 0) fds_.push_back(fd);
  }

  std::string dir_;
  std::vector<int> fds_;
  std::map<std::string, AgentPool> pools_;
};

TEST(HostRoleIds, QemuInstanceIds) {
  EXPECT_TRUE(HostRole::IsQemuInstanceId("i-0123456789abcdef0"));
  EXPECT_FALSE(HostRole::IsQemuInstanceId("i-0123456789ABCDEF0"));
  EXPECT_FALSE(HostRole::IsQemuInstanceId("i-0123456789abcdef"));
  EXPECT_FALSE(HostRole::IsQemuInstanceId("i-0123456789abcdef00"));
  EXPECT_FALSE(HostRole::IsQemuInstanceId("x-0123456789abcdef0"));
  EXPECT_FALSE(HostRole::IsQemuInstanceId("host-n1"));
}

TEST_F(HostRoleTest, ReportsLiveVmsWithValidIdsAndItself) {
  Vm("i-00000000000000a01.qmp", true);
  Vm("i-00000000000000b02.qmp", false);  // QEMU exited, its socket file stayed
  Vm("vm1.qmp", true);                   // not an instance id
  Vm("i-00000000000000c03.sock", true);  // not a QMP socket name
  std::ofstream(dir_ + "/qmp/i-00000000000000d04.qmp") << "a file";
  HostRole role(Options(), &pools_);
  auto got = role.Instances();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "host-n1");
  EXPECT_EQ(got[0].kind, "host");
  EXPECT_EQ(got[1].id, "i-00000000000000a01");
  EXPECT_EQ(got[1].kind, "qemu");
}

TEST_F(HostRoleTest, NoQmpDirMeansOnlyTheHost) {
  HostRoleOptions o = Options();
  o.qmp_dir.clear();
  HostRole role(o, &pools_);
  ASSERT_EQ(role.Instances().size(), 1u);
  fs::remove_all(dir_ + "/qmp");
  HostRole missing(Options(), &pools_);  // a missing directory is no VMs, not a failure
  EXPECT_EQ(missing.Instances().size(), 1u);
}

AgentOp AttachOp(const std::string& instance) {
  AgentOp op;
  op.id = "op-1";
  op.kind = "attach";
  op.pool = "default";
  op.params = {{"volume_id", "vol-0123456789abcdef0"},
               {"instance_id", instance},
               {"instance_kind", "qemu"},
               {"mode", "rw"},
               {"device", "vbs-0123456789abcdef0"}};
  return op;
}

TEST_F(HostRoleTest, AttachToAVmThatIsGoneOrUnknownFailsBeforeExporting) {
  Vm("i-00000000000000b02.qmp", false);
  HostRole role(Options(), &pools_);  // no pools: reaching Export would fail differently
  nlohmann::json result = nlohmann::json::object();
  Status st = role.Execute(AttachOp("i-00000000000000b02"), &result);
  EXPECT_EQ(st.code(), "InstanceGone") << st.ToString();
  st = role.Execute(AttachOp("i-00000000000000e05"), &result);
  EXPECT_EQ(st.code(), "InvalidInstanceID.NotFound") << st.ToString();
  st = role.Execute(AttachOp("host-other"), &result);
  EXPECT_EQ(st.code(), "UnsupportedInstance") << st.ToString();
  EXPECT_TRUE(result.empty());
}

TEST_F(HostRoleTest, DetachFromAGoneVmSkipsQmpAndSucceeds) {
  Vm("i-00000000000000b02.qmp", false);
  HostRole role(Options(), &pools_);
  ASSERT_TRUE(role.Start().ok());
  AgentOp op;
  op.id = "op-2";
  op.kind = "detach";
  op.params = {{"volume_id", "vol-0123456789abcdef0"},
               {"instance_id", "i-00000000000000b02"},
               {"device", "vbs-vol-0123456789abcdef0"},
               {"force", false},
               {"export_name", "vbs-00000000000000000000000000000000"}};
  nlohmann::json result = nlohmann::json::object();
  EXPECT_TRUE(role.Execute(op, &result).ok());  // socket dead: nothing to ask, export gone
  op.params["instance_gone"] = true;
  op.params["instance_id"] = "i-00000000000000f06";  // no socket at all
  EXPECT_TRUE(role.Execute(op, &result).ok());
  role.Stop();
}

}  // namespace
}  // namespace vbs
