#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vbs {

Status SdNotify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return Status::Ok();
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) {
    return Status::InvalidArgument("InvalidConfiguration",
                                   std::string("NOTIFY_SOCKET is not a socket path: ") + path);
  }
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // the abstract namespace
  const socklen_t addr_len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno("socket for NOTIFY_SOCKET", errno);
  ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), addr_len);
  const int err = errno;
  ::close(fd);
  if (n < 0) return Status::FromErrno(std::string("sendto ") + path, err);
  return Status::Ok();
}

std::optional<std::chrono::microseconds> SdWatchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::nullopt;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && *pid != '\0') {
    char* end = nullptr;
    const long who = std::strtol(pid, &end, 10);
    if (*end != '\0' || who != static_cast<long>(::getpid())) return std::nullopt;
  }
  char* end = nullptr;
  const unsigned long long us = std::strtoull(usec, &end, 10);
  if (end == usec || *end != '\0' || us == 0) return std::nullopt;
  return std::chrono::microseconds(us);
}

}  // namespace vbs
