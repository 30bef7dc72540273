#include "cli/options.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli/errors.h"

namespace vbs::cli {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMaxRequestTimeout{30'000};
constexpr milliseconds kDefaultWaitTimeout{600'000};

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Flag value if given, else the variable's value, else empty.
std::string Pick(const std::string& flag, const EnvLookup& env, const char* var) {
  if (!flag.empty()) return flag;
  auto v = env(var);
  return v ? *v : std::string();
}

Result<std::string> Required(const std::string& flag, const EnvLookup& env, const char* var,
                             const char* option, const char* what) {
  std::string v = Pick(flag, env, var);
  if (v.empty()) {
    return UsageError(fmt::format("no {} given: set {} or pass {}", what, var, option));
  }
  return v;
}

}  // namespace

milliseconds Settings::RequestTimeout() const {
  if (timeout && *timeout < kMaxRequestTimeout) return *timeout;
  return kMaxRequestTimeout;
}

milliseconds Settings::WaitTimeout() const {
  return timeout ? *timeout : kDefaultWaitTimeout;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<OutputFormat> ResolveOutput(const GlobalFlags& flags, const EnvLookup& env) {
  std::string v = Pick(flags.output, env, "VBS_OUTPUT");
  if (v.empty() || v == "table") return OutputFormat::kTable;
  if (v == "json") return OutputFormat::kJson;
  const char* source = flags.output.empty() ? "VBS_OUTPUT" : "--output";
  return UsageError(fmt::format("{} must be 'table' or 'json', not '{}'", source, v));
}

Result<std::vector<std::string>> NormalizeEndpoints(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const std::string& entry : raw) {
    size_t start = 0;
    while (start <= entry.size()) {
      size_t comma = entry.find(',', start);
      if (comma == std::string::npos) comma = entry.size();
      std::string e = Trim(std::string_view(entry).substr(start, comma - start));
      start = comma + 1;
      if (e.empty()) continue;
      if (e.starts_with("http://")) {
        return UsageError(
            fmt::format("endpoint '{}': the VBS API is HTTPS only (use https://)", e));
      }
      if (!e.starts_with("https://")) {
        if (e.find("://") != std::string::npos) {
          return UsageError(fmt::format("endpoint '{}': unsupported scheme (use https://)", e));
        }
        e = "https://" + e;
      }
      while (e.size() > 8 && e.back() == '/') e.pop_back();
      std::string_view authority = std::string_view(e).substr(8);
      if (authority.empty() || authority.find_first_of("/?# ") != std::string_view::npos) {
        return UsageError(
            fmt::format("endpoint '{}': expected https://HOST[:PORT] with no path", e));
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

Result<Settings> ResolveSettings(const GlobalFlags& flags, const EnvLookup& env) {
  Settings s;
  VBS_ASSIGN_OR_RETURN(s.output, ResolveOutput(flags, env));

  std::vector<std::string> raw = flags.endpoints;
  if (raw.empty()) {
    if (auto v = env("VBS_ENDPOINT")) raw.push_back(*v);
  }
  VBS_ASSIGN_OR_RETURN(s.endpoints, NormalizeEndpoints(raw));
  if (s.endpoints.empty()) {
    return UsageError(
        "no server endpoint given: set VBS_ENDPOINT or pass --endpoint https://HOST:PORT");
  }
  VBS_ASSIGN_OR_RETURN(s.ca_file, Required(flags.ca_file, env, "VBS_CA", "--ca FILE",
                                           "CA certificate (to verify the server)"));
  VBS_ASSIGN_OR_RETURN(
      s.cert_file, Required(flags.cert_file, env, "VBS_CERT", "--cert FILE", "client certificate"));
  VBS_ASSIGN_OR_RETURN(s.key_file,
                       Required(flags.key_file, env, "VBS_KEY", "--key FILE", "client key"));
  if (flags.timeout_seconds < 0) return UsageError("--timeout must be positive");
  if (flags.timeout_seconds > 0) {
    s.timeout = milliseconds(static_cast<int64_t>(flags.timeout_seconds * 1000 + 0.5));
    if (*s.timeout < milliseconds(1)) s.timeout = milliseconds(1);
  }
  return s;
}

Status CheckCredentialFiles(const Settings& settings) {
  const std::pair<const char*, const std::string*> files[] = {
      {"--ca/VBS_CA", &settings.ca_file},
      {"--cert/VBS_CERT", &settings.cert_file},
      {"--key/VBS_KEY", &settings.key_file},
  };
  for (const auto& [option, path] : files) {
    int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return UsageError(
          fmt::format("cannot read {} file '{}': {}", option, *path, std::strerror(errno)));
    }
    struct stat st {};
    bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    ::close(fd);
    if (!regular) {
      return UsageError(fmt::format("{} file '{}' is not a regular file", option, *path));
    }
  }
  return Status::Ok();
}

}  // namespace vbs::cli
