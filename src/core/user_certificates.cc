// Revoking users' certificates (design.md §8). A certificate is refused when its serial is
// recorded revoked, or when it was issued before its user's certificates were last revoked
// and never recorded as valid since: so also a certificate issued offline that no server has
// seen yet is covered by a revocation.
#include "common/clock.h"
#include "core/admin_service.h"

namespace vbs {
namespace {

// Revokes in `tx`: the recorded certificates now, and any other issued up to this second.
Result<int64_t> RevokeAll(Transaction& tx, const std::string& name) {
  VBS_ASSIGN_OR_RETURN(UserRecord user, LiveUser(tx, name));
  const int64_t now = NowMillis();
  VBS_ASSIGN_OR_RETURN(int64_t revoked, tx.RevokeCertificates(name, now));
  // Certificates carry whole seconds: one issued in this very second is refused too (safe:
  // reissue records its new one as valid; an offline one is simply issued a second later).
  user.certificates_revoked_before = now / 1000 + 1;
  user.updated_at = now;
  VBS_RETURN_IF_ERROR(tx.UpdateUser(user));
  return revoked;
}

}  // namespace

Status AdminService::ReplaceCertificates(const Caller& caller, const std::string& name,
                                         const CertificateRecord& fresh) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  return store_.Transact([&](Transaction& tx) -> Status {
    VBS_RETURN_IF_ERROR(RevokeAll(tx, name).status());
    return tx.InsertCertificate(fresh);
  });
}

Result<int64_t> AdminService::RevokeCertificates(const Caller& caller, const std::string& name) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  int64_t revoked = 0;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(revoked, RevokeAll(tx, name));
    return Status::Ok();
  }));
  return revoked;
}

}  // namespace vbs
