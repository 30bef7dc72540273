// The Beast-free half of http_server.h: request accessors, percent-decoding, query parsing.
#include "api/http_server.h"

namespace vbs {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> HttpRequest::QueryParam(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Result<std::string> PercentDecode(const std::string& s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("InvalidParameterValue",
                                       "malformed percent-escape in '" + s + "'");
      }
      char decoded = static_cast<char>(hi * 16 + lo);
      // A NUL byte has no legitimate use in a path or parameter and truncates C strings
      // further down, so it is refused rather than passed on.
      if (decoded == '\0') {
        return Status::InvalidArgument("InvalidParameterValue", "'%00' is not allowed");
      }
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::multimap<std::string, std::string>> ParseQuery(const std::string& query) {
  std::multimap<std::string, std::string> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string raw_key = eq == std::string::npos ? pair : pair.substr(0, eq);
      std::string raw_value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      VBS_ASSIGN_OR_RETURN(std::string key, PercentDecode(raw_key, true));
      VBS_ASSIGN_OR_RETURN(std::string value, PercentDecode(raw_value, true));
      out.emplace(std::move(key), std::move(value));
    }
    start = end + 1;
  }
  return out;
}

}  // namespace vbs
