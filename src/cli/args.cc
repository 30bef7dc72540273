#include "cli/args.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/errors.h"
#include "common/units.h"

namespace vbs::cli {

Result<std::pair<std::string, std::string>> ParseTag(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    return UsageError(fmt::format("tag '{}' must be KEY=VALUE", text));
  }
  if (eq == 0) return UsageError(fmt::format("tag '{}' has an empty key", text));
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

Result<std::map<std::string, std::string>> ParseTags(const std::vector<std::string>& texts,
                                                     const std::string& name) {
  std::map<std::string, std::string> tags;
  for (const std::string& text : texts) {
    VBS_ASSIGN_OR_RETURN(auto tag, ParseTag(text));
    if (tags.contains(tag.first)) {
      return UsageError(fmt::format("tag '{}' is given more than once", tag.first));
    }
    tags.insert(std::move(tag));
  }
  if (!name.empty()) {
    if (tags.contains("Name")) {
      return UsageError("give the name either with --name or with --tag Name=..., not both");
    }
    tags["Name"] = name;
  }
  return tags;
}

Result<uint64_t> CheckVolumeSize(std::string_view text) {
  auto size = ParseSize(text);
  if (!size.ok()) return UsageError(size.status().message());
  if (*size == 0 || *size % kMiB != 0) {
    return UsageError(fmt::format(
        "invalid size '{}': must be a positive multiple of 1 MiB (e.g. 512M, 10G)", text));
  }
  return *size;
}

Status CheckOneOf(std::string_view what, const std::string& value,
                  const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed) {
    if (a == value) return Status::Ok();
  }
  return UsageError(
      fmt::format("invalid {} '{}': expected one of {}", what, value, fmt::join(allowed, ", ")));
}

}  // namespace vbs::cli
