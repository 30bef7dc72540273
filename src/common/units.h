// Parsing and printing of byte sizes ("512M", "10G", "1T", "1048576").
//
// Units are binary (K = KiB = 1024). A bare number is bytes. Rejects empty strings, signs,
// fractions, unknown suffixes and values that overflow 64 bits, with InvalidParameterValue.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vbs {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;
inline constexpr uint64_t kTiB = 1024 * kGiB;

Result<uint64_t> ParseSize(std::string_view text);

// "1.5G", "512M", "1T", "300B": shortest exact-ish human form (one decimal).
std::string FormatSize(uint64_t bytes);

}  // namespace vbs
