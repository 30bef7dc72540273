// Log context: what the work a thread is doing is about (a request id, a user, an operation,
// a volume), attached to every log line the thread writes meanwhile, so that an operator can
// follow one request or one volume through the logs (grep for its id, or filter the JSON).
//
// A LogScope adds fields for as long as it lives; scopes nest, and the innermost value of a
// key wins. Fields are per thread: work handed to another thread takes its ids along
// explicitly (an operation carries its request id to the agent in its parameters).
//
// ConfigureLogging sets the default logger's format:
//   text  "[2026-12-07 01:02:03.456] [vbsd] [info] message {request_id=… user=…}"
//   json  {"time":"2026-12-07T01:02:03.456Z","level":"info","logger":"vbsd","thread":123,
//          "message":"…","request_id":"…","user":"…"}   one object per line, for log shippers
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vbs {

using LogFields = std::vector<std::pair<std::string, std::string>>;

class LogScope {
 public:
  // Fields with an empty value are left out.
  explicit LogScope(LogFields fields);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  size_t pushed_ = 0;
};

// The calling thread's fields, outermost first (a key may repeat: the last one counts).
const LogFields& CurrentLogFields();
// The value of `key` in the calling thread's context; "" when it has none.
std::string CurrentLogField(std::string_view key);

// The field name for an object id, from its prefix: "volume" for vol-…, "snapshot" for
// snap-…, "attachment" for att-…, else "resource".
std::string ObjectIdKey(std::string_view id);

enum class LogFormat { kText, kJson };
Result<LogFormat> ParseLogFormat(std::string_view name);  // "text" or "json"
// Installs the format on spdlog's default logger (and every logger made after).
void ConfigureLogging(LogFormat format);

}  // namespace vbs
