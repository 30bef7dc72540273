// Resource ids: EBS-shaped "vol-", "snap-", "i-" + 17 lowercase hex digits, from a CSPRNG.
#pragma once

#include <string>
#include <string_view>

namespace vbs {

std::string NewId(std::string_view prefix);  // prefix without the dash: "vol", "snap"
bool IsValidId(std::string_view id, std::string_view prefix);

// Hex string of `bytes` random bytes from OpenSSL's CSPRNG (export names, tokens).
std::string RandomHex(size_t bytes);
// A request's id, UUID-shaped (as EC2 answers it): in answers and every log line about it.
std::string NewRequestId();

// Names chosen by operators (nodes, pools, users): [A-Za-z0-9][A-Za-z0-9._-]{0,62}.
bool IsValidName(std::string_view name);

}  // namespace vbs
