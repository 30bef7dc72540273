// Access keys: the EC2 face's credentials (design.md §8). `vbs admin user create` issues one
// with the user's certificate; the key id names the same user as the certificate's CN, so the
// same ownership rules hold on both faces. The secret is shared (SigV4 is an HMAC), so the
// store keeps it; it is returned once, at creation, and never logged.
#pragma once

#include <optional>
#include <string>

#include "core/caller.h"
#include "store/metadata_store.h"

namespace vbs {

// A fresh active key for `user`: id "AKIA" + 16 of [A-Z2-7], secret 40 of [A-Za-z0-9+/].
AccessKeyRecord NewAccessKey(const std::string& user, int64_t now_millis);

}  // namespace vbs
