#include "api/ec2/filters.h"

namespace vbs::ec2 {

bool WildcardMatch(const std::string& pattern, const std::string& text) {
  // Iterative glob match with one backtrack point (the last '*'): linear-ish, no recursion.
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '\\' && p + 1 < pattern.size() &&
        pattern[p + 1] == text[t]) {
      p += 2;
      ++t;
    } else if (p < pattern.size() && pattern[p] != '\\' &&
               (pattern[p] == '?' || (pattern[p] != '*' && pattern[p] == text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Status CheckFilterNames(const std::vector<Filter>& filters, const std::set<std::string>& allowed,
                        bool with_tags) {
  for (const auto& f : filters) {
    if (allowed.count(f.name)) continue;
    if (with_tags && (f.name == "tag-key" || (f.name.rfind("tag:", 0) == 0 && f.name.size() > 4))) {
      continue;
    }
    return Status::InvalidArgument("InvalidParameterValue",
                                   "The filter '" + f.name + "' is invalid");
  }
  return Status::Ok();
}

namespace {

bool AnyMatches(const std::vector<std::string>& patterns, const std::vector<std::string>& values) {
  for (const auto& pattern : patterns) {
    for (const auto& v : values) {
      if (WildcardMatch(pattern, v)) return true;
    }
  }
  return false;
}

}  // namespace

bool MatchesFilters(const std::vector<Filter>& filters, const FieldValues& fields,
                    const Tags& tags) {
  for (const auto& f : filters) {
    std::vector<std::string> values;
    if (f.name == "tag-key") {
      for (const auto& [k, _] : tags) values.push_back(k);
    } else if (f.name.rfind("tag:", 0) == 0) {
      auto it = tags.find(f.name.substr(4));
      if (it != tags.end()) values.push_back(it->second);
    } else {
      values = fields(f.name);
    }
    if (!AnyMatches(f.values, values)) return false;
  }
  return true;
}

}  // namespace vbs::ec2
