#include "common/log_context.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

namespace vbs {
namespace {

thread_local LogFields t_fields;

// The fields with the last value of each key, in first-seen order.
LogFields Effective() {
  LogFields out;
  for (const auto& [k, v] : t_fields) {
    bool replaced = false;
    for (auto& [ok, ov] : out) {
      if (ok == k) {
        ov = v;
        replaced = true;
      }
    }
    if (!replaced) out.emplace_back(k, v);
  }
  return out;
}

// %* in a text pattern: " {key=value …}" when the thread has a context, else nothing.
class ContextFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_fields.empty()) return;
    std::string s = " {";
    bool first = true;
    for (const auto& [k, v] : Effective()) {
      if (!first) s += ' ';
      first = false;
      s += k + "=" + v;
    }
    s += '}';
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<ContextFlag>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const int millis = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char when[64];
    std::snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    const auto level = spdlog::level::to_string_view(msg.level);
    nlohmann::ordered_json j;
    j["time"] = when;
    j["level"] = std::string(level.data(), level.size());
    j["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    j["thread"] = msg.thread_id;
    j["message"] = std::string(msg.payload.data(), msg.payload.size());
    for (const auto& [k, v] : Effective()) {
      if (!j.contains(k)) j[k] = v;
    }
    // Invalid UTF-8 in a message (a path, a peer's bytes) is replaced, never a throw.
    const std::string line =
        j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

LogScope::LogScope(LogFields fields) {
  for (auto& f : fields) {
    if (f.second.empty()) continue;
    t_fields.push_back(std::move(f));
    ++pushed_;
  }
}

LogScope::~LogScope() {
  t_fields.resize(t_fields.size() - pushed_);
}

const LogFields& CurrentLogFields() {
  return t_fields;
}

std::string CurrentLogField(std::string_view key) {
  for (auto it = t_fields.rbegin(); it != t_fields.rend(); ++it) {
    if (it->first == key) return it->second;
  }
  return "";
}

std::string ObjectIdKey(std::string_view id) {
  if (id.rfind("vol-", 0) == 0) return "volume";
  if (id.rfind("snap-", 0) == 0) return "snapshot";
  if (id.rfind("att-", 0) == 0) return "attachment";
  return "resource";
}

Result<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return Status::InvalidArgument("InvalidParameterValue",
                                 "the log format is text or json, not '" + std::string(name) + "'");
}

void ConfigureLogging(LogFormat format) {
  std::unique_ptr<spdlog::formatter> f;
  if (format == LogFormat::kJson) {
    f = std::make_unique<JsonFormatter>();
  } else {
    auto p = std::make_unique<spdlog::pattern_formatter>();
    p->add_flag<ContextFlag>('*').set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %v%*");
    f = std::move(p);
  }
  spdlog::set_formatter(std::move(f));
}

}  // namespace vbs
