#include "common/secret_box.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <vector>

namespace vbs {
namespace {

constexpr std::string_view kPrefix = "enc1:";
constexpr size_t kNonce = 12, kTag = 16;

std::string Hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

bool Unhex(std::string_view hex, std::vector<unsigned char>* out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<unsigned char>(hi << 4 | lo));
  }
  return true;
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Status Unreadable() {
  return Status(StatusKind::kInternal, "SecretUnreadable",
                "a stored secret does not open with this server's secrets key");
}

}  // namespace

Result<SecretBox> SecretBox::FromHex(std::string_view key_hex) {
  while (!key_hex.empty() && std::isspace(static_cast<unsigned char>(key_hex.back()))) {
    key_hex.remove_suffix(1);
  }
  std::vector<unsigned char> bytes;
  if (!Unhex(key_hex, &bytes) || bytes.size() != 32) {
    return Status::InvalidArgument("InvalidSecretsKey",
                                   "the secrets key must be 64 hex digits (256 bits)");
  }
  SecretBox box;
  std::copy(bytes.begin(), bytes.end(), box.key_.begin());
  return box;
}

bool SecretBox::IsSealed(std::string_view value) {
  return value.substr(0, kPrefix.size()) == kPrefix;
}

std::string SecretBox::Seal(std::string_view plaintext, std::string_view context) const {
  std::vector<unsigned char> out(kNonce + plaintext.size() + kTag);
  if (RAND_bytes(out.data(), kNonce) != 1) std::abort();  // no randomness: nothing is safe
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok = ctx &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), out.data()) &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(context.data()),
                              static_cast<int>(context.size())) &&
            EVP_EncryptUpdate(ctx.get(), out.data() + kNonce, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) &&
            EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonce + len, &len) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                                out.data() + kNonce + plaintext.size());
  if (!ok) std::abort();  // AES-GCM with a valid key does not fail
  return std::string(kPrefix) + Hex(out.data(), out.size());
}

Result<std::string> SecretBox::Open(std::string_view sealed, std::string_view context) const {
  if (!IsSealed(sealed)) return Unreadable();
  std::vector<unsigned char> raw;
  if (!Unhex(sealed.substr(kPrefix.size()), &raw) || raw.size() < kNonce + kTag) {
    return Unreadable();
  }
  const size_t n = raw.size() - kNonce - kTag;
  std::string plain(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), raw.data()) &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                        raw.data() + kNonce, static_cast<int>(n)) &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, raw.data() + kNonce + n) &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) ==
          1;
  if (!ok) return Unreadable();
  return plain;
}

std::string SecretBox::KeyId() const {
  static constexpr std::string_view kLabel = "vbs secrets key id";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(), mac, &mac_len);
  return Hex(mac, 8);
}

}  // namespace vbs
