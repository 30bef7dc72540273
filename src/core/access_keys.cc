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

AccessKeyRecord StoredAccessKey(AccessKeyRecord key, const SecretBox* box) {
  if (box != nullptr) key.secret = box->Seal(key.secret, key.id);
  return key;
}

Result<std::string> SecretOf(const AccessKeyRecord& stored, const SecretBox* box) {
  if (box == nullptr || !SecretBox::IsSealed(stored.secret)) return stored.secret;
  return box->Open(stored.secret, stored.id);
}

Result<int> AdoptSecretsKey(MetadataStore& store, const SecretBox& box) {
  constexpr const char* kMetaKey = "secrets_key_id";
  int sealed = 0;
  VBS_RETURN_IF_ERROR(store.Transact([&](Transaction& tx) -> Status {
    sealed = 0;
    VBS_ASSIGN_OR_RETURN(auto known, tx.GetMeta(kMetaKey));
    if (known && *known != box.KeyId()) {
      return Status::InvalidArgument(
          "SecretsKeyMismatch",
          "this server's secrets key (PKI_DIR/secrets.key, id " + box.KeyId() +
              ") is not the one the database's secrets are sealed with (id " + *known +
              "): copy secrets.key from a server of this deployment");
    }
    if (!known) VBS_RETURN_IF_ERROR(tx.PutMeta(kMetaKey, box.KeyId()));
    VBS_ASSIGN_OR_RETURN(auto keys, tx.ListAccessKeys(std::nullopt));
    for (auto& k : keys) {
      if (SecretBox::IsSealed(k.secret)) continue;
      VBS_RETURN_IF_ERROR(tx.UpdateAccessKey(StoredAccessKey(k, &box)));
      ++sealed;
    }
    return Status::Ok();
  }));
  return sealed;
}

}  // namespace vbs
