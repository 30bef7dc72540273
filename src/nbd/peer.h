// Peer and Consumer: who is at the other end of an NBD connection, and whom an export admits.
//
// Knowing an export's name is not enough to open it (design.md §6): every export names its
// consumer and the handshake admits only that one. On a unix socket the kernel tells the
// server who connected (SO_PEERCRED: pid, uid, gid of the process, fixed at connect time and
// not forgeable); over TLS the client certificate's role does. A consumer is
//   anyone        — the export of `vbsd nbd-serve`, whose socket or TLS decides;
//   a local uid   — a host attachment: processes of that uid on the node (`vbs attach --uid`);
//   a process     — a VM attachment: that one QEMU, by pid and the process's start time (so a
//                   recycled pid is not the same consumer).
// Local consumers are never admitted over TCP.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/status.h"

namespace vbs::nbd {

struct Peer {
  bool local = false;  // a unix socket peer with kernel-given credentials below
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string tls_role;  // role of the verified client certificate (TLS up), else ""
};

// The credentials of the process connected to unix socket `fd` (local=false if not known).
Peer UnixPeerOf(int fd);
// A process's start time in clock ticks since boot (/proc/PID/stat field 22); 0 if gone.
uint64_t ProcessStartTime(pid_t pid);

class Consumer {
 public:
  enum class Kind { kAnyone, kUid, kProcess };

  static Consumer Anyone() { return Consumer(); }
  static Consumer Uid(uid_t uid);
  // The running process `pid` (NotFound if it is not running).
  static Result<Consumer> Process(pid_t pid);
  // As recorded before (a handover): start_time 0 admits no one.
  static Consumer Process(pid_t pid, uint64_t start_time);

  bool Admits(const Peer& peer) const;
  Kind kind() const { return kind_; }
  uid_t uid() const { return uid_; }
  pid_t pid() const { return pid_; }
  uint64_t start_time() const { return start_time_; }
  std::string ToString() const;  // "anyone", "uid 1000", "pid 4242"

 private:
  Kind kind_ = Kind::kAnyone;
  uid_t uid_ = 0;
  pid_t pid_ = 0;
  uint64_t start_time_ = 0;
};

}  // namespace vbs::nbd
