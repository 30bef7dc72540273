#include "core/authenticator.h"

#include "common/clock.h"
#include "core/access_keys.h"

namespace vbs {

Status UserStanding(const UserRecord& user) {
  if (user.state == "active") return Status::Ok();
  if (user.state == "disabled") {
    return Status::PermissionDenied("UserDisabled", "the user '" + user.name +
                                                        "' is disabled; an administrator can "
                                                        "enable it (vbs admin user enable)");
  }
  return Status::Unauthenticated("UserDeleted", "the user '" + user.name + "' was deleted");
}

Status CertificateRevoked(const std::string& serial) {
  return Status::Unauthenticated("CertificateRevoked",
                                 "the client certificate " + serial +
                                     " was revoked; ask an administrator for a new one "
                                     "(vbs admin user reissue)");
}

Result<Caller> Authenticator::ForCertificate(const CertificateRecord& cert,
                                             bool certificate_says_admin) {
  const std::string& name = cert.user;
  VBS_ASSIGN_OR_RETURN(auto user, store_.LookupUser(name));
  if (!user) {
    // First sight of a name the CA vouches for: enrol it (another server may race us).
    UserRecord fresh{name, certificate_says_admin ? "admin" : "user", NowMillis()};
    fresh.updated_at = fresh.created_at;
    VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
      VBS_ASSIGN_OR_RETURN(user, tx.GetUser(name));
      if (user) return Status::Ok();
      user = fresh;
      return tx.InsertUser(fresh);
    }));
  }
  VBS_ASSIGN_OR_RETURN(auto known, store_.LookupCertificate(cert.serial));
  if (known) {
    if (known->state != "valid" || known->user != name) return CertificateRevoked(cert.serial);
  } else {
    // Issued offline: record it, unless it predates a revocation of its user's certificates.
    // Decided inside the transaction, so that a revocation running at the same time either
    // sees this record (and revokes it) or is seen here.
    VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
      VBS_ASSIGN_OR_RETURN(auto now_user, tx.GetUser(name));
      if (now_user) user = now_user;
      if (cert.issued_at < user->certificates_revoked_before) {
        return CertificateRevoked(cert.serial);
      }
      VBS_ASSIGN_OR_RETURN(auto again, tx.GetCertificate(cert.serial));
      if (again) {
        return again->state == "valid" && again->user == name ? Status::Ok()
                                                              : CertificateRevoked(cert.serial);
      }
      return tx.InsertCertificate(
          CertificateRecord{cert.serial, name, cert.issued_at, cert.expires_at, "valid", 0});
    }));
  }
  VBS_RETURN_IF_ERROR(UserStanding(*user));
  return Caller{user->name, user->role == "admin"};
}

Result<std::optional<AccessKeyOwner>> Authenticator::ForAccessKey(
    const std::string& access_key_id) {
  VBS_ASSIGN_OR_RETURN(auto key, store_.LookupAccessKey(access_key_id));
  if (!key || key->state != "active") return std::optional<AccessKeyOwner>();
  VBS_ASSIGN_OR_RETURN(auto user, store_.LookupUser(key->user));
  if (!user || user->state == "deleted") return std::optional<AccessKeyOwner>();
  VBS_ASSIGN_OR_RETURN(std::string secret, SecretOf(*key, box_));
  return std::optional<AccessKeyOwner>(
      AccessKeyOwner{Caller{user->name, user->role == "admin"}, secret, UserStanding(*user)});
}

}  // namespace vbs
