#include "hypervisor/instance_discovery.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace vbs::hypervisor {

namespace {

// An instance id becomes part of QEMU/agent names and paths: keep it to a safe alphabet.
bool UsableId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id[0] == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// The owner named by the file beside a socket of uid `socket_uid` (see the header), or "".
std::string ReadOwner(const std::string& path, uid_t socket_uid) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != socket_uid ||
      (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || st.st_size > 256) {
    return "";
  }
  std::ifstream in(path);
  std::string name;
  std::getline(in, name);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  const bool valid =
      !name.empty() && name.size() <= 63 && std::isalnum(static_cast<unsigned char>(name[0])) &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  return valid ? name : "";
}

}  // namespace

std::string InstanceDiscovery::SocketPath(const std::string& instance_id) const {
  return (std::filesystem::path(dir_) / (instance_id + suffix_)).string();
}

bool InstanceDiscovery::SocketAlive(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  // Non-blocking: a listener with a full backlog answers EAGAIN, which still means alive.
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::close(fd);
  return rc == 0 || err == EAGAIN || err == EINPROGRESS;
}

Result<std::vector<QemuInstance>> InstanceDiscovery::List() const {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return Status::NotFound("InstanceDirNotFound", "QMP socket directory " + dir_ + " missing");
    }
    return Status::IoError("listing " + dir_ + ": " + ec.message());
  }
  std::vector<QemuInstance> out;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return Status::IoError("listing " + dir_ + ": " + ec.message());
    const std::string name = it->path().filename().string();
    if (name.size() <= suffix_.size() ||
        name.compare(name.size() - suffix_.size(), suffix_.size(), suffix_) != 0) {
      continue;
    }
    std::string id = name.substr(0, name.size() - suffix_.size());
    if (!UsableId(id)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    QemuInstance inst;
    inst.id = std::move(id);
    inst.qmp_socket = it->path().string();
    inst.alive = SocketAlive(inst.qmp_socket);
    inst.owner =
        ReadOwner((std::filesystem::path(dir_) / (inst.id + ".owner")).string(), st.st_uid);
    out.push_back(std::move(inst));
  }
  std::sort(out.begin(), out.end(),
            [](const QemuInstance& a, const QemuInstance& b) { return a.id < b.id; });
  return out;
}

Result<QemuInstance> InstanceDiscovery::Find(const std::string& instance_id) const {
  if (!UsableId(instance_id)) {
    return Status::InvalidArgument("InvalidInstanceID.Malformed", "bad instance id " + instance_id);
  }
  QemuInstance inst;
  inst.id = instance_id;
  inst.qmp_socket = SocketPath(instance_id);
  struct stat st {};
  if (::lstat(inst.qmp_socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return Status::NotFound("InvalidInstanceID.NotFound",
                            "no QMP socket for instance " + instance_id + " in " + dir_);
  }
  inst.alive = SocketAlive(inst.qmp_socket);
  inst.owner = ReadOwner((std::filesystem::path(dir_) / (inst.id + ".owner")).string(), st.st_uid);
  return inst;
}

}  // namespace vbs::hypervisor
