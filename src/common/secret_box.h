// SecretBox: seals small secrets (access-key secrets) for storage under one 256-bit key, with
// AES-256-GCM. Each value gets a fresh random nonce, and `context` (e.g. the access key id) is
// authenticated with it, so a sealed value moved to another row does not open there. A
// database copied without the key file yields no usable secret.
//
// Sealed form: "enc1:" + hex(nonce[12] | ciphertext | tag[16]).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vbs {

class SecretBox {
 public:
  // `key_hex`: 64 hex digits (the key file's content, whitespace trimmed).
  static Result<SecretBox> FromHex(std::string_view key_hex);
  std::string Seal(std::string_view plaintext, std::string_view context) const;
  // kInternal "SecretUnreadable" when the value was not sealed with this key and context.
  Result<std::string> Open(std::string_view sealed, std::string_view context) const;
  static bool IsSealed(std::string_view value);
  // A fingerprint of the key (not the key): servers sharing a database compare theirs.
  std::string KeyId() const;

 private:
  std::array<unsigned char, 32> key_{};
};

}  // namespace vbs
