// Wall-clock time as unix milliseconds, and its ISO 8601 form for APIs.
#pragma once

#include <cstdint>
#include <string>

namespace vbs {

int64_t NowMillis();
std::string FormatIso8601(int64_t unix_millis);  // "2026-11-24T10:00:00.000Z"

}  // namespace vbs
