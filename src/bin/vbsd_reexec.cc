#include "bin/vbsd_reexec.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace vbs {
namespace {

constexpr const char* kEnv = "VBS_HANDOVER_FD";
std::string g_program;
std::vector<std::string> g_args;

}  // namespace

void RememberCommandLine(int argc, char** argv) {
  // The path the binary was started from, not its inode: an upgrade replaces the file there.
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string path = ec ? std::string(argv[0]) : self.string();
  const std::string deleted = " (deleted)";
  if (path.size() > deleted.size() && path.ends_with(deleted))
    path.resize(path.size() - deleted.size());
  g_program = path;
  g_args.assign(argv, argv + argc);
}

Status Reexec(const nlohmann::json& state, const std::vector<int>& fds) {
  if (g_program.empty()) return Status::Internal("RememberCommandLine was not called");
  int mfd = ::memfd_create("vbs-handover", 0);  // no MFD_CLOEXEC: the successor reads it
  if (mfd < 0) return Status::FromErrno("memfd_create", errno);
  const std::string text = state.dump();
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(mfd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(mfd);
      return Status::FromErrno("write handover", err);
    }
    off += static_cast<size_t>(n);
  }
  for (int fd : fds) {
    int fl = ::fcntl(fd, F_GETFD);
    if (fl < 0 || ::fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) != 0) {
      int err = errno;
      ::close(mfd);
      return Status::FromErrno("keep fd " + std::to_string(fd) + " open across exec", err);
    }
  }
  ::setenv(kEnv, std::to_string(mfd).c_str(), 1);
  std::vector<char*> argv;
  for (auto& a : g_args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(g_program.c_str(), argv.data());
  int err = errno;
  ::unsetenv(kEnv);
  ::close(mfd);
  return Status::FromErrno("exec " + g_program, err);
}

Result<std::optional<nlohmann::json>> TakeHandover() {
  const char* v = std::getenv(kEnv);
  if (v == nullptr) return std::optional<nlohmann::json>();
  char* end = nullptr;
  long fd = std::strtol(v, &end, 10);
  ::unsetenv(kEnv);  // not for our own successors' successors, nor for children
  if (end == v || *end != '\0' || fd < 0) {
    return Status::InvalidArgument("InvalidConfiguration", std::string(kEnv) + " is not an fd");
  }
  std::string text;
  char buf[65536];
  off_t at = 0;
  for (;;) {
    ssize_t n = ::pread(static_cast<int>(fd), buf, sizeof buf, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(static_cast<int>(fd));
      return Status::FromErrno("read handover", err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
  ::close(static_cast<int>(fd));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("InvalidConfiguration", "the handover state is not JSON");
  }
  return std::optional<nlohmann::json>(std::move(j));
}

}  // namespace vbs
