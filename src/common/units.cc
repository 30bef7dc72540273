#include "common/units.h"

#include <cctype>
#include <fmt/format.h>

namespace vbs {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "invalid size '" + std::string(text) + "': " + why);
  };
  if (text.empty()) return bad("empty");
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = text[i] - '0';
    if (value > (UINT64_MAX - digit) / 10) return bad("too large");
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return bad("expected a number of bytes, optionally with a unit K, M, G, T, P");
  std::string_view suffix = text.substr(i);
  uint64_t mult = 1;
  if (!suffix.empty()) {
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
    std::string_view rest = suffix.substr(1);
    switch (u) {
      case 'B': mult = 1; if (!rest.empty()) return bad("unknown unit"); break;
      case 'K': mult = kKiB; break;
      case 'M': mult = kMiB; break;
      case 'G': mult = kGiB; break;
      case 'T': mult = kTiB; break;
      case 'P': mult = 1024 * kTiB; break;
      default: return bad("unknown unit");
    }
    // Accept K, KB, KiB (all binary).
    if (u != 'B' && !(rest.empty() || rest == "B" || rest == "b" || rest == "iB" ||
                      rest == "ib")) {
      return bad("unknown unit");
    }
  }
  if (value != 0 && mult > UINT64_MAX / value) return bad("too large");
  return value * mult;
}

std::string FormatSize(uint64_t bytes) {
  static const char* kUnits[] = {"B", "K", "M", "G", "T", "P"};
  int u = 0;
  double v = static_cast<double>(bytes);
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return fmt::format("{}B", bytes);
  if (v == static_cast<double>(static_cast<uint64_t>(v))) {
    return fmt::format("{}{}", static_cast<uint64_t>(v), kUnits[u]);
  }
  return fmt::format("{:.1f}{}", v, kUnits[u]);
}

}  // namespace vbs
