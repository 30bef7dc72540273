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

Result<std::optional<AccessKeyOwner>> ResolveAccessKey(MetadataStore& store,
                                                       const std::string& access_key_id) {
  std::optional<AccessKeyOwner> owner;
  VBS_RETURN_IF_ERROR(store.Transact([&](Transaction& tx) -> Status {
    owner.reset();
    VBS_ASSIGN_OR_RETURN(auto key, tx.GetAccessKey(access_key_id));
    if (!key || key->state != "active") return Status::Ok();
    VBS_ASSIGN_OR_RETURN(auto user, tx.GetUser(key->user));
    if (!user) return Status::Ok();
    owner = AccessKeyOwner{Caller{user->name, user->role == "admin"}, key->secret};
    return Status::Ok();
  }));
  return owner;
}

}  // namespace vbs
