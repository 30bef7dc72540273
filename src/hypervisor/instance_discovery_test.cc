// InstanceDiscovery on a real directory: a listening socket (a running VM), a socket left by
// a listener that closed (a VM that is gone), and files that are not instances.
#include "hypervisor/instance_discovery.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace vbs::hypervisor {
namespace {

int Listen(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  if (::listen(fd, 1) != 0) return -1;
  return fd;
}

class InstanceDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vbs-disc-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    std::filesystem::remove_all(dir_);
  }
  std::string P(const std::string& name) { return (dir_ / name).string(); }
  int L(const std::string& name) {
    int fd = Listen(P(name));
    EXPECT_GE(fd, 0) << name;
    fds_.push_back(fd);
    return fd;
  }

  std::filesystem::path dir_;
  std::vector<int> fds_;
};

TEST_F(InstanceDiscoveryTest, ListsSocketsWithLiveness) {
  L("i-0123456789abcdef0.qmp");
  int gone = Listen(P("i-00000000000000001.qmp"));
  ASSERT_GE(gone, 0);
  ::close(gone);  // QEMU exited; its socket file stays behind
  std::ofstream(P("i-2.qmp")) << "not a socket";
  L("i-3.sock");  // wrong suffix
  L(".qmp");      // no id
  std::filesystem::create_directory(P("i-4.qmp"));

  InstanceDiscovery discovery(dir_.string());
  auto list = discovery.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "i-00000000000000001");
  EXPECT_FALSE((*list)[0].alive);
  EXPECT_EQ((*list)[1].id, "i-0123456789abcdef0");
  EXPECT_TRUE((*list)[1].alive);
  EXPECT_EQ((*list)[1].qmp_socket, P("i-0123456789abcdef0.qmp"));
}

TEST_F(InstanceDiscoveryTest, LivenessProbeDoesNotNeedAnAcceptingServer) {
  // A listener that never accepts (QEMU busy with another QMP client): still alive, even
  // with its one-slot backlog already taken.
  L("i-busy.qmp");
  EXPECT_TRUE(InstanceDiscovery::SocketAlive(P("i-busy.qmp")));
  EXPECT_TRUE(InstanceDiscovery::SocketAlive(P("i-busy.qmp")));
  EXPECT_TRUE(InstanceDiscovery::SocketAlive(P("i-busy.qmp")));
  EXPECT_FALSE(InstanceDiscovery::SocketAlive(P("nothing.qmp")));
}

TEST_F(InstanceDiscoveryTest, FindAndSocketPath) {
  L("i-a.qmp");
  InstanceDiscovery discovery(dir_.string());
  EXPECT_EQ(discovery.SocketPath("i-a"), P("i-a.qmp"));
  auto a = discovery.Find("i-a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->alive);
  EXPECT_EQ(discovery.Find("i-b").status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(discovery.Find("../etc").status().kind(), StatusKind::kInvalidArgument);
}

// The owner file counts only when the socket's owner wrote it and nobody else can.
TEST_F(InstanceDiscoveryTest, OwnerFileBesideTheSocket) {
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    std::ofstream(P(name)) << text;
    std::filesystem::permissions(P(name), static_cast<std::filesystem::perms>(mode));
  };
  for (const char* id : {"i-a", "i-b", "i-c", "i-d", "i-e", "i-f"}) L(std::string(id) + ".qmp");
  write("i-a.owner", "carol\n", 0644);
  write("i-b.owner", "carol\n", 0666);                              // writable by anyone: ignored
  write("i-c.owner", "not a name!\n", 0644);                        // not a user name: ignored
  std::filesystem::create_symlink(P("i-a.owner"), P("i-d.owner"));  // a link: ignored
  write("i-e.owner", std::string(300, 'x'), 0644);                  // too long: ignored
  InstanceDiscovery discovery(dir_.string());
  auto all = discovery.List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ((*all)[0].owner, "carol");
  for (size_t i = 1; i < all->size(); ++i) EXPECT_EQ((*all)[i].owner, "") << (*all)[i].id;
  EXPECT_EQ(discovery.Find("i-a")->owner, "carol");
  EXPECT_EQ(discovery.Find("i-f")->owner, "");
}

TEST_F(InstanceDiscoveryTest, CustomSuffixAndMissingDirectory) {
  L("vm1.monitor");
  InstanceDiscovery discovery(dir_.string(), ".monitor");
  auto list = discovery.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, "vm1");
  EXPECT_EQ(InstanceDiscovery(P("missing")).List().status().kind(), StatusKind::kNotFound);
  EXPECT_TRUE(InstanceDiscovery(dir_.string()).List()->empty());
}

}  // namespace
}  // namespace vbs::hypervisor
