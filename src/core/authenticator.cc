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

Result<Caller> Authenticator::ForCertificate(const std::string& name, bool certificate_says_admin) {
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
