// Authenticator: who a request comes from, as the database says (design.md §8).
//
// The deployment CA vouches for a certificate's name, the database for everything else: a
// user's role and standing are read from the users table on every request (one lookup on the
// store's side connection, never queued behind writes), so that disabling, deleting or
// demoting a user holds from their very next request on every server. A certificate of a
// name the database has never seen (issued offline by `vbsd pki issue`) enrols that name once,
// with the certificate's role; from then on the record rules. Certificates are known by
// serial: recorded at issue (or at first sight, when issued offline), refused once revoked.
#pragma once

#include <optional>
#include <string>

#include "common/secret_box.h"
#include "core/caller.h"
#include "store/metadata_store.h"

namespace vbs {

struct AccessKeyOwner {
  Caller caller;
  std::string secret;
  // Ok, or why the user may not call (UserDisabled): given only after the signature checks
  // out, so that it tells nothing to someone without the secret.
  Status standing;
};

class Authenticator {
 public:
  // `box` opens the stored access-key secrets (null: stored as is, for unit tests).
  explicit Authenticator(MetadataStore& store, const SecretBox* box = nullptr)
      : store_(store), box_(box) {}

  // The caller behind a verified user or admin certificate. CertificateRevoked (401) for a
  // revoked certificate (or one issued before its user's certificates were revoked and never
  // recorded since), UserDisabled (403) for a disabled user, UserDeleted (401) for a deleted one.
  // `cert` is the certificate as read (serial, user = its CN, issued_at, expires_at).
  Result<Caller> ForCertificate(const CertificateRecord& cert, bool certificate_says_admin);
  // The caller behind an access key, or nullopt when the key is unknown, deleted or
  // inactive, or its user is deleted.
  Result<std::optional<AccessKeyOwner>> ForAccessKey(const std::string& access_key_id);

 private:
  MetadataStore& store_;
  const SecretBox* box_;
};

// Ok for an active user; UserDisabled or UserDeleted otherwise.
Status UserStanding(const UserRecord& user);
// The refusal of a revoked certificate.
Status CertificateRevoked(const std::string& serial);

}  // namespace vbs
