#include "cli/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/errors.h"
#include "common/ids.h"

namespace vbs::cli {
namespace {

namespace fs = std::filesystem;

// Writes `content` to a fresh temporary file in the target's directory, fsyncs it, and
// moves it into place: link() fails if the target exists (no overwrite), rename() replaces.
Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode,
                           bool overwrite) {
  std::string tmp = fmt::format("{}.tmp-{}", path, RandomHex(6));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno("create " + tmp, errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::FromErrno("write " + tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  // The umask may have narrowed the mode; make it exactly what was asked.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::FromErrno("finish " + tmp, err);
  }
  ::close(fd);
  int rc = overwrite ? ::rename(tmp.c_str(), path.c_str()) : ::link(tmp.c_str(), path.c_str());
  int err = errno;
  if (!overwrite || rc != 0) ::unlink(tmp.c_str());
  if (rc != 0) return Status::FromErrno("write " + path, err);
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("read " + path, errno ? errno : ENOENT);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ShellQuote(const std::string& s) {
  bool safe = !s.empty();
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string_view("/._-+:,@=%").find(c) != std::string_view::npos)) {
      safe = false;
    }
  }
  if (safe) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Result<CredentialPaths> PlanCredentialFiles(const std::string& dir, const std::string& name,
                                            bool force, const std::string& expected_ca_pem) {
  if (!IsValidName(name)) {
    return UsageError(fmt::format(
        "invalid user name '{}': use letters, digits, '.', '_' and '-' (at most 63, starting "
        "with a letter or digit)",
        name));
  }
  std::error_code ec;
  fs::path base = fs::absolute(dir.empty() ? fs::path(".") : fs::path(dir), ec).lexically_normal();
  if (ec) return UsageError(fmt::format("--out-dir '{}': {}", dir, ec.message()));
  if (!fs::exists(base, ec)) {
    // Created private (0700): it is about to hold a private key.
    if (!fs::create_directories(base, ec) || ::chmod(base.c_str(), 0700) != 0) {
      return UsageError(fmt::format("cannot create --out-dir '{}': {}", base.string(),
                                    ec ? ec.message() : std::strerror(errno)));
    }
  }
  if (!fs::is_directory(base, ec)) {
    return UsageError(fmt::format("--out-dir '{}' is not a directory", base.string()));
  }
  if (::access(base.c_str(), W_OK) != 0) {
    return UsageError(fmt::format("--out-dir '{}' is not writable", base.string()));
  }
  std::string b = base.string();
  if (b.size() > 1 && b.back() == '/') b.pop_back();
  CredentialPaths p{b, b + "/" + name + ".crt", b + "/" + name + ".key", b + "/ca.crt",
                    b + "/" + name + ".aws-credentials"};
  if (force) return p;
  for (const std::string* f : {&p.cert, &p.key, &p.aws}) {
    if (fs::exists(*f, ec)) {
      return UsageError(fmt::format("{} already exists (use --force to overwrite it)", *f));
    }
  }
  if (fs::exists(p.ca, ec)) {
    auto existing = ReadWholeFile(p.ca);
    if (!existing.ok() || *existing != expected_ca_pem) {
      return UsageError(fmt::format(
          "{} already exists and is not the CA of this server (use --force to overwrite it, or "
          "another --out-dir)",
          p.ca));
    }
  }
  return p;
}

Status WriteAwsCredentialsFile(const CredentialPaths& paths, const std::string& access_key_id,
                               const std::string& secret, bool force) {
  return WriteFileAtomically(paths.aws,
                             fmt::format("[default]\naws_access_key_id = {}\n"
                                         "aws_secret_access_key = {}\n",
                                         access_key_id, secret),
                             0600, force);
}

Status WriteCredentialFiles(const CredentialPaths& paths, const std::string& cert_pem,
                            const std::string& key_pem, const std::string& ca_pem, bool force) {
  VBS_RETURN_IF_ERROR(WriteFileAtomically(paths.key, key_pem, 0600, force));
  VBS_RETURN_IF_ERROR(WriteFileAtomically(paths.cert, cert_pem, 0644, force));
  std::error_code ec;
  if (!force && fs::exists(paths.ca, ec)) {
    auto existing = ReadWholeFile(paths.ca);
    if (existing.ok() && *existing == ca_pem) return Status::Ok();  // same CA: nothing to do
    return Status::AlreadyExists("vbs.FileExists", paths.ca +
                                                       " exists with another CA; "
                                                       "the user's files were written");
  }
  return WriteFileAtomically(paths.ca, ca_pem, 0644, force);
}

}  // namespace vbs::cli
