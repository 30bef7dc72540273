// InstanceDiscovery: which QEMU VMs run on this host, found by their QMP sockets.
//
// Contract: every unix socket named "<instance id><suffix>" (suffix ".qmp" by default) in the
// configured directory is one VM; the instance id is the file name without the suffix
// ("i-0123456789abcdef0.qmp" → "i-0123456789abcdef0"). Files of other types or names, and
// names that are not usable ids, are ignored. A socket nobody listens on (connect is
// refused: QEMU exited and left its socket file) is reported with alive = false — the VM is
// gone. Liveness is probed with a bare connect that is closed at once: it never reads the
// greeting, so it does not hold the socket (QMP serves one client at a time) and works
// while the agent or a harness is connected.
//
// The owner file "<instance id>.owner" holds a user name (one line). It counts only if it is a
// regular file (not a link) owned by the socket's owner and writable by nobody else: whoever
// may start VMs here says whose they are, not whoever can write to the directory.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace vbs::hypervisor {

struct QemuInstance {
  std::string id;          // "i-0123456789abcdef0"
  std::string qmp_socket;  // absolute path of the QMP socket
  bool alive = false;      // something accepts connections on the socket
  // The user the VM belongs to, as the platform that started it says in "<id>.owner" beside
  // the socket (docs/hypervisor.md); empty when there is no usable owner file.
  std::string owner;
};

class InstanceDiscovery {
 public:
  explicit InstanceDiscovery(std::string dir, std::string suffix = ".qmp")
      : dir_(std::move(dir)), suffix_(std::move(suffix)) {}

  // All instances, sorted by id. A missing directory is NotFound; an unreadable one IoError.
  Result<std::vector<QemuInstance>> List() const;
  // One instance by id: NotFound when there is no socket for it.
  Result<QemuInstance> Find(const std::string& instance_id) const;

  // The socket path an instance id maps to (whether or not it exists).
  std::string SocketPath(const std::string& instance_id) const;

  // Can something be connected to at this unix socket path right now?
  static bool SocketAlive(const std::string& path);

 private:
  std::string dir_;
  std::string suffix_;
};

}  // namespace vbs::hypervisor
