#include "agent/mount_tools.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "nbd/protocol.h"

extern char** environ;

namespace vbs {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string Joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Reads what is there now; false at EOF or on error.
bool Drain(int fd, std::string* into) {
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (into->size() < (1u << 20)) into->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Unescape(const std::string& s) {  // mountinfo's \040 and friends
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t j = 1; j <= 3; ++j) {
        char c = s[i + j];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        r.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    r.push_back(s[i]);
  }
  return r;
}

bool Under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

Status WriteFull(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno("nbd write", errno);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status ReadFull(int fd, void* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::read(fd, static_cast<char*>(buf) + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("nbd read", errno);
    if (n == 0) return Status::IoError("nbd server closed the connection");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

void Put(std::string* s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t Get(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Status MountFailed(const std::string& message) {
  return Status(StatusKind::kIoError, "MountFailed", message);
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout) {
  if (argv.empty()) return Status::Internal("RunCommand without a program");
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno("pipe", errno);
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno("pipe", errno);
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);

  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "LC_ALL=", 7) != 0) env_store.emplace_back(*e);
  }
  env_store.emplace_back("LC_ALL=C");
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return MountFailed("cannot run " + argv[0] + ": " + std::strerror(rc));
  out_w.Close();
  err_w.Close();

  CommandResult result;
  const auto deadline = Clock::now() + timeout;
  bool out_open = true, err_open = true, exited = false, killed = false;
  int wstatus = 0;
  while (!exited) {
    pollfd pfds[2] = {{out_open ? out_r.fd : -1, POLLIN, 0}, {err_open ? err_r.fd : -1, POLLIN, 0}};
    ::poll(pfds, 2, 50);
    if (out_open) out_open = Drain(out_r.fd, &result.out);
    if (err_open) err_open = Drain(err_r.fd, &result.err);
    pid_t w = ::waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) exited = true;
    if (!exited && !killed && Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  if (out_open) Drain(out_r.fd, &result.out);
  if (err_open) Drain(err_r.fd, &result.err);
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (killed) {
    return MountFailed(Joined(argv) + ": timed out after " + std::to_string(timeout.count()) +
                       " ms");
  }
  return result;
}

Status RunChecked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  VBS_ASSIGN_OR_RETURN(CommandResult r, RunCommand(argv, timeout));
  if (r.exit_code == 0) return Status::Ok();
  return MountFailed(Joined(argv) + " exited " + std::to_string(r.exit_code) + ": " +
                     Trimmed(r.err.empty() ? r.out : r.err));
}

std::vector<MountEntry> ReadMountInfo() {
  std::vector<MountEntry> entries;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    MountEntry e;
    std::string parent, devno, root, field;
    ls >> e.mount_id >> parent >> devno >> root >> e.mount_point >> e.options;
    while (ls >> field && field != "-") {
    }
    ls >> e.fs_type >> e.source;
    if (std::sscanf(devno.c_str(), "%u:%u", &e.major, &e.minor) != 2) continue;
    e.mount_point = Unescape(e.mount_point);
    e.source = Unescape(e.source);
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<BusyProcess> ProcessesUsing(int mount_id, unsigned major, unsigned minor,
                                        const std::string& mount_point) {
  std::vector<BusyProcess> busy;
  std::error_code ec;
  const std::string self = std::to_string(::getpid());
  char devfield[32];
  std::snprintf(devfield, sizeof(devfield), "%02x:%02x", major, minor);
  for (const auto& d : fs::directory_iterator("/proc", ec)) {
    const std::string pid = d.path().filename();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid == self) {
      continue;
    }
    const std::string base = "/proc/" + pid;
    bool uses = false;
    for (const char* link : {"/cwd", "/root", "/exe"}) {
      auto target = fs::read_symlink(base + link, ec);
      // A root of "/" contains every mount point; only a root inside the mount counts.
      if (!ec && Under(target.string(), mount_point) &&
          !(std::string(link) == "/root" && target == "/")) {
        uses = true;
      }
    }
    for (const auto& f : fs::directory_iterator(base + "/fdinfo", ec)) {
      if (uses) break;
      std::ifstream info(f.path());
      std::string key;
      int id = -1;
      while (info >> key) {
        if (key == "mnt_id:") {
          info >> id;
          break;
        }
      }
      if (id == mount_id) uses = true;
    }
    if (!uses) {
      std::ifstream maps(base + "/maps");
      std::string line;
      while (std::getline(maps, line)) {
        std::istringstream ls(line);
        std::string range, perms, offset, dev;
        ls >> range >> perms >> offset >> dev;
        if (dev == devfield) {
          uses = true;
          break;
        }
      }
    }
    if (!uses) continue;
    std::ifstream comm(base + "/comm");
    BusyProcess p;
    p.pid = static_cast<pid_t>(std::stol(pid));
    std::getline(comm, p.command);
    busy.push_back(std::move(p));
  }
  return busy;
}

Result<uint64_t> NbdExportSize(const std::string& socket_path, const std::string& export_name) {
  using namespace nbd;
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("InvalidParameterValue", "NBD socket path too long");
  }
  Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.fd < 0) return Status::FromErrno("socket", errno);
  timeval tv{10, 0};
  ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(sock.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Status::FromErrno("connect " + socket_path, errno);
  }
  unsigned char hello[18];
  VBS_RETURN_IF_ERROR(ReadFull(sock.fd, hello, sizeof(hello)));
  if (Get(hello, 8) != kNbdMagic || Get(hello + 8, 8) != kIHaveOpt ||
      !(Get(hello + 16, 2) & kFlagFixedNewstyle)) {
    return Status::IoError("not a fixed-newstyle NBD server at " + socket_path);
  }
  std::string req;
  Put(&req, kClientFixedNewstyle | (Get(hello + 16, 2) & kFlagNoZeroes ? kClientNoZeroes : 0), 4);
  Put(&req, kIHaveOpt, 8);
  Put(&req, kOptInfo, 4);
  Put(&req, 4 + export_name.size() + 2, 4);
  Put(&req, export_name.size(), 4);
  req += export_name;
  Put(&req, 0, 2);
  VBS_RETURN_IF_ERROR(WriteFull(sock.fd, req));
  std::optional<uint64_t> size;
  while (true) {
    unsigned char head[20];
    VBS_RETURN_IF_ERROR(ReadFull(sock.fd, head, sizeof(head)));
    const uint32_t type = static_cast<uint32_t>(Get(head + 12, 4));
    const uint32_t len = static_cast<uint32_t>(Get(head + 16, 4));
    if (Get(head, 8) != kOptReplyMagic || len > (1u << 20)) {
      return Status::IoError("bad NBD option reply from " + socket_path);
    }
    std::string data(len, '\0');
    VBS_RETURN_IF_ERROR(ReadFull(sock.fd, data.data(), len));
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    if (type == kRepInfo && len >= 12 && Get(p, 2) == kInfoExport) size = Get(p + 2, 8);
    if (type == kRepAck) break;
    if (type & 0x80000000u) {
      return Status::NotFound("ExportNotFound", "NBD export '" + export_name + "' on " +
                                                    socket_path + " refused: " + data);
    }
  }
  std::string abort;
  Put(&abort, kIHaveOpt, 8);
  Put(&abort, kOptAbort, 4);
  Put(&abort, 0, 4);
  (void)WriteFull(sock.fd, abort);
  if (!size) return Status::IoError("NBD server gave no size for '" + export_name + "'");
  return *size;
}

std::vector<std::string> LoopDevicesOf(const std::string& file) {
  std::vector<std::string> devices;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/sys/block", ec)) {
    const std::string name = d.path().filename();
    if (name.rfind("loop", 0) != 0) continue;
    std::ifstream in(d.path() / "loop" / "backing_file");
    std::string backing;
    if (std::getline(in, backing) && backing == file) devices.push_back("/dev/" + name);
  }
  return devices;
}

uint64_t BlockDeviceBytes(const std::string& device) {
  int fd = ::open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t bytes = 0;
  if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) bytes = 0;
  ::close(fd);
  return bytes;
}

uint64_t Ext4Bytes(const std::string& device) {
  auto r = RunCommand({"dumpe2fs", "-h", device}, std::chrono::seconds(60));
  if (!r.ok() || r->exit_code != 0) return 0;
  uint64_t blocks = 0, block_size = 0;
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    auto value = [&line](const char* key) -> uint64_t {
      if (line.rfind(key, 0) != 0) return 0;
      return std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
    };
    if (uint64_t v = value("Block count:")) blocks = v;
    if (uint64_t v = value("Block size:")) block_size = v;
  }
  return blocks * block_size;
}

}  // namespace vbs
