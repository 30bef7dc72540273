#include "core/access_keys.h"

#include "common/ids.h"

namespace vbs {
namespace {

// `n` characters of `alphabet` (whose size divides 256: no bias) from the CSPRNG.
std::string RandomString(size_t n, const std::string& alphabet) {
  const std::string hex = RandomHex(n);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const int byte = std::stoi(hex.substr(2 * i, 2), nullptr, 16);
    out.push_back(alphabet[byte % alphabet.size()]);
  }
  return out;
}

}  // namespace

AccessKeyRecord NewAccessKey(const std::string& user, int64_t now_millis) {
  AccessKeyRecord k;
  k.id = "AKIA" + RandomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
  k.secret = RandomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  k.user = user;
  k.state = "active";
  k.created_at = now_millis;
  return k;
}

}  // namespace vbs
