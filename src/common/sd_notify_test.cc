// SdNotify against a datagram socket standing in for systemd's, path and abstract.
#include "common/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace vbs {
namespace {

class SdNotifyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  // Binds a datagram socket at `name` ('@': abstract) and points NOTIFY_SOCKET at it.
  void Listen(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr),
                     static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + name.size())),
              0)
        << std::strerror(errno);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  std::string Receive() {
    char buf[512];
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<size_t>(n));
  }
  int fd_ = -1;
};

TEST_F(SdNotifyTest, WithoutNotifySocketNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(SdNotify("READY=1").ok());
}

TEST_F(SdNotifyTest, SendsToAPathSocket) {
  const std::string path = ::testing::TempDir() + "/sd_notify_test." + std::to_string(::getpid());
  ::unlink(path.c_str());
  Listen(path);
  ASSERT_TRUE(SdNotify("READY=1\nSTATUS=listening").ok());
  EXPECT_EQ(Receive(), "READY=1\nSTATUS=listening");
  ::unlink(path.c_str());
}

TEST_F(SdNotifyTest, SendsToAnAbstractSocket) {
  Listen("@vbs-sd-notify-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(SdNotify("WATCHDOG=1").ok());
  EXPECT_EQ(Receive(), "WATCHDOG=1");
}

TEST_F(SdNotifyTest, ABadSocketIsAnErrorNotACrash) {
  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  EXPECT_EQ(SdNotify("READY=1").code(), "InvalidConfiguration");
  ::setenv("NOTIFY_SOCKET", "/nonexistent/dir/sock", 1);
  EXPECT_FALSE(SdNotify("READY=1").ok());
}

TEST_F(SdNotifyTest, WatchdogIntervalIsOursOnly) {
  EXPECT_FALSE(SdWatchdogInterval().has_value());
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ASSERT_TRUE(SdWatchdogInterval().has_value());
  EXPECT_EQ(SdWatchdogInterval()->count(), 3000000);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_TRUE(SdWatchdogInterval().has_value());
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_FALSE(SdWatchdogInterval().has_value()) << "another process's watchdog";
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "soon", 1);
  EXPECT_FALSE(SdWatchdogInterval().has_value());
}

}  // namespace
}  // namespace vbs
