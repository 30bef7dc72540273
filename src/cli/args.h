// Local validation of command arguments, so that obvious mistakes get a clear message (and
// exit code 2) without a round trip. The server stays the authority: values that pass here
// are still sent as the user typed them (e.g. the size string) and checked again there.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vbs::cli {

// "K=V" (split at the first '='; V may be empty and may contain '='). Rejects a missing '='
// and an empty key.
Result<std::pair<std::string, std::string>> ParseTag(std::string_view text);

// All --tag values, rejecting the same key twice. `name`, when not empty, is added as the
// tag Name (from --name) and conflicts with an explicit --tag Name=....
Result<std::map<std::string, std::string>> ParseTags(const std::vector<std::string>& texts,
                                                     const std::string& name = "");

// Checks a volume size string with vbs::ParseSize plus the API's rule (a positive multiple
// of 1 MiB); returns the size in bytes.
Result<uint64_t> CheckVolumeSize(std::string_view text);

// `value` must be one of `allowed`; the message lists them. `what` names the argument.
Status CheckOneOf(std::string_view what, const std::string& value,
                  const std::vector<std::string>& allowed);

}  // namespace vbs::cli
