// Access keys: the EC2 face's credentials (design.md §8). `vbs admin user create` issues one
// with the user's certificate; the key id names the same user as the certificate's CN, so the
// same ownership rules hold on both faces. The secret is shared (SigV4 is an HMAC), so the
// store keeps it, sealed under the deployment's secrets key (common/secret_box.h); it is
// returned once, at creation, and never logged.
#pragma once

#include <optional>
#include <string>

#include "common/secret_box.h"
#include "core/caller.h"
#include "store/metadata_store.h"

namespace vbs {

// A fresh active key for `user`: id "AKIA" + 16 of [A-Z2-7], secret 40 of [A-Za-z0-9+/].
AccessKeyRecord NewAccessKey(const std::string& user, int64_t now_millis);

// The record as stored: the secret sealed with `box` (as is when `box` is null: unit tests).
AccessKeyRecord StoredAccessKey(AccessKeyRecord key, const SecretBox* box);
// The secret of a stored key. A value stored before secrets were sealed (an older server)
// passes as is; the next server start seals it (SealStoredSecrets).
Result<std::string> SecretOf(const AccessKeyRecord& stored, const SecretBox* box);

// At server start: refuses a secrets key other than the one the database's secrets were
// sealed with (servers sharing a database must share PKI_DIR/secrets.key), records it when
// the database has none, then seals every secret still stored in plain text. Returns how
// many it sealed.
Result<int> AdoptSecretsKey(MetadataStore& store, const SecretBox& box);

}  // namespace vbs
