#include "nbd/peer.h"

#include <sys/socket.h>

#include <fstream>
#include <sstream>

namespace vbs::nbd {

Peer UnixPeerOf(int fd) {
  Peer p;
  struct sockaddr_storage addr {};
  socklen_t alen = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0 ||
      addr.ss_family != AF_UNIX) {
    return p;
  }
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred &&
      cred.pid > 0) {
    p.local = true;
    p.pid = cred.pid;
    p.uid = cred.uid;
    p.gid = cred.gid;
  }
  return p;
}

uint64_t ProcessStartTime(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command name (field 2) is in parentheses and may hold spaces: count after its end.
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
  }
  try {
    return std::stoull(field);
  } catch (...) {
    return 0;
  }
}

Consumer Consumer::Uid(uid_t uid) {
  Consumer c;
  c.kind_ = Kind::kUid;
  c.uid_ = uid;
  return c;
}

Result<Consumer> Consumer::Process(pid_t pid) {
  const uint64_t start = ProcessStartTime(pid);
  if (start == 0) {
    return Status::NotFound("InstanceGone", "process " + std::to_string(pid) + " is not running");
  }
  return Process(pid, start);
}

Consumer Consumer::Process(pid_t pid, uint64_t start_time) {
  Consumer c;
  c.kind_ = Kind::kProcess;
  c.pid_ = pid;
  c.start_time_ = start_time;
  return c;
}

bool Consumer::Admits(const Peer& peer) const {
  switch (kind_) {
    case Kind::kAnyone:
      return true;
    case Kind::kUid:
      return peer.local && peer.uid == uid_;
    case Kind::kProcess:
      // The pid alone could be a newer process that inherited a recycled number.
      return peer.local && start_time_ != 0 && peer.pid == pid_ &&
             ProcessStartTime(peer.pid) == start_time_;
  }
  return false;
}

std::string Consumer::ToString() const {
  switch (kind_) {
    case Kind::kAnyone:
      return "anyone";
    case Kind::kUid:
      return "uid " + std::to_string(uid_);
    case Kind::kProcess:
      return "pid " + std::to_string(pid_);
  }
  return "?";
}

}  // namespace vbs::nbd
