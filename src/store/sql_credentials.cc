// The users, access-key and quota part of SqlTransaction (who may call the API, and how much
// they may hold).
#include "store/sql_credentials.h"

#include "store/sql_transaction.h"
#include "store/sql_values.h"

namespace vbs {
namespace sqlv {

const char* const kUserColumns =
    "name, role, created_at, state, updated_at, certificates_revoked_before";

UserRecord UserFromRow(const SqlRow& r) {
  return UserRecord{r.Text(0), r.Text(1), r.Int(2), r.Text(3), r.Int(4), r.Int(5)};
}

Result<std::optional<UserRecord>> GetUser(SqlConnection& db, const std::string& name) {
  VBS_ASSIGN_OR_RETURN(
      auto rows,
      db.Query(std::string("SELECT ") + kUserColumns + " FROM users WHERE name = ?", {name}));
  if (rows.empty()) return std::optional<UserRecord>();
  return std::optional<UserRecord>(UserFromRow(rows[0]));
}

const char* const kAccessKeyColumns = "id, user_name, secret, state, created_at";

AccessKeyRecord AccessKeyFromRow(const SqlRow& r) {
  return AccessKeyRecord{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4)};
}

Result<std::optional<AccessKeyRecord>> GetAccessKey(SqlConnection& db, const std::string& id) {
  VBS_ASSIGN_OR_RETURN(auto rows, db.Query(std::string("SELECT ") + kAccessKeyColumns +
                                               " FROM access_keys WHERE id = ?",
                                           {id}));
  if (rows.empty()) return std::optional<AccessKeyRecord>();
  return std::optional<AccessKeyRecord>(AccessKeyFromRow(rows[0]));
}

const char* const kCertificateColumns =
    "serial, user_name, issued_at, expires_at, state, revoked_at";

CertificateRecord CertificateFromRow(const SqlRow& r) {
  return CertificateRecord{r.Text(0), r.Text(1), r.Int(2), r.Int(3), r.Text(4), r.Int(5)};
}

Result<std::optional<CertificateRecord>> GetCertificate(SqlConnection& db,
                                                        const std::string& serial) {
  VBS_ASSIGN_OR_RETURN(auto rows, db.Query(std::string("SELECT ") + kCertificateColumns +
                                               " FROM certificates WHERE serial = ?",
                                           {serial}));
  if (rows.empty()) return std::optional<CertificateRecord>();
  return std::optional<CertificateRecord>(CertificateFromRow(rows[0]));
}

}  // namespace sqlv

// --- users ---

Result<std::optional<UserRecord>> SqlTransaction::GetUser(const std::string& name) {
  return sqlv::GetUser(db_, name);
}

Result<std::vector<UserRecord>> SqlTransaction::ListUsers() {
  VBS_ASSIGN_OR_RETURN(
      auto rows,
      db_.Query(std::string("SELECT ") + sqlv::kUserColumns + " FROM users ORDER BY name", {}));
  std::vector<UserRecord> out;
  for (const auto& r : rows) out.push_back(sqlv::UserFromRow(r));
  return out;
}

Status SqlTransaction::InsertUser(const UserRecord& u) {
  return sqlv::ExecOne(
      db_.Exec(
          std::string("INSERT INTO users (") + sqlv::kUserColumns + ") VALUES (?,?,?,?,?,?)",
          {u.name, u.role, u.created_at, u.state, u.updated_at, u.certificates_revoked_before}),
      "insert user");
}

Status SqlTransaction::UpdateUser(const UserRecord& u) {
  return sqlv::ExecOne(
      db_.Exec("UPDATE users SET role = ?, state = ?, updated_at = ?, "
               "certificates_revoked_before = ? WHERE name = ?",
               {u.role, u.state, u.updated_at, u.certificates_revoked_before, u.name}),
      "update user");
}

// --- certificates ---

Result<std::optional<CertificateRecord>> SqlTransaction::GetCertificate(const std::string& serial) {
  return sqlv::GetCertificate(db_, serial);
}

Result<std::vector<CertificateRecord>> SqlTransaction::ListCertificates(const std::string& user) {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + sqlv::kCertificateColumns +
                                                " FROM certificates WHERE user_name = ? "
                                                "ORDER BY issued_at, serial",
                                            {user}));
  std::vector<CertificateRecord> out;
  for (const auto& r : rows) out.push_back(sqlv::CertificateFromRow(r));
  return out;
}

Status SqlTransaction::InsertCertificate(const CertificateRecord& c) {
  return sqlv::ExecOne(
      db_.Exec(std::string("INSERT INTO certificates (") + sqlv::kCertificateColumns +
                   ") VALUES (?,?,?,?,?,?)",
               {c.serial, c.user, c.issued_at, c.expires_at, c.state, c.revoked_at}),
      "insert certificate");
}

Result<int64_t> SqlTransaction::RevokeCertificates(const std::string& user, int64_t now_ms) {
  return db_.Exec(
      "UPDATE certificates SET state = 'revoked', revoked_at = ? "
      "WHERE user_name = ? AND state = 'valid'",
      {now_ms, user});
}

// --- access keys ---

Result<std::optional<AccessKeyRecord>> SqlTransaction::GetAccessKey(const std::string& id) {
  return sqlv::GetAccessKey(db_, id);
}

Result<std::vector<AccessKeyRecord>> SqlTransaction::ListAccessKeys(
    const std::optional<std::string>& user) {
  std::string sql = std::string("SELECT ") + sqlv::kAccessKeyColumns + " FROM access_keys";
  std::vector<SqlValue> params;
  if (user) {
    sql += " WHERE user_name = ?";
    params.push_back(*user);
  }
  sql += " ORDER BY created_at, id";
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
  std::vector<AccessKeyRecord> out;
  for (const auto& r : rows) out.push_back(sqlv::AccessKeyFromRow(r));
  return out;
}

Status SqlTransaction::InsertAccessKey(const AccessKeyRecord& k) {
  return sqlv::ExecOne(db_.Exec(std::string("INSERT INTO access_keys (") + sqlv::kAccessKeyColumns +
                                    ") VALUES (?,?,?,?,?)",
                                {k.id, k.user, k.secret, k.state, k.created_at}),
                       "insert access key");
}

Status SqlTransaction::UpdateAccessKey(const AccessKeyRecord& k) {
  return sqlv::ExecOne(db_.Exec("UPDATE access_keys SET secret = ?, state = ? WHERE id = ?",
                                {k.secret, k.state, k.id}),
                       "update access key");
}

// --- meta ---

Result<std::optional<std::string>> SqlTransaction::GetMeta(const std::string& key) {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT value FROM meta WHERE key = ?", {key}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows[0].Text(0));
}

Status SqlTransaction::PutMeta(const std::string& key, const std::string& value) {
  VBS_ASSIGN_OR_RETURN(int64_t n,
                       db_.Exec("UPDATE meta SET value = ? WHERE key = ?", {value, key}));
  if (n == 1) return Status::Ok();
  return sqlv::ExecOne(db_.Exec("INSERT INTO meta (key, value) VALUES (?, ?)", {key, value}),
                       "insert meta");
}

// --- quotas ---

Result<std::optional<QuotaRecord>> SqlTransaction::GetQuota(const std::string& user) {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT user_name, volumes, gigabytes, snapshots, "
                                            "updated_at FROM quotas WHERE user_name = ?",
                                            {user}));
  if (rows.empty()) return std::optional<QuotaRecord>();
  const SqlRow& r = rows[0];
  auto opt = [&](size_t i) {
    return r.IsNull(i) ? std::optional<int64_t>() : std::optional<int64_t>(r.Int(i));
  };
  return std::optional<QuotaRecord>(QuotaRecord{r.Text(0), opt(1), opt(2), opt(3), r.Int(4)});
}

Status SqlTransaction::UpsertQuota(const QuotaRecord& q) {
  auto val = [](const std::optional<int64_t>& v) {
    return v ? SqlValue(*v) : SqlValue(std::monostate{});
  };
  VBS_ASSIGN_OR_RETURN(
      int64_t n,
      db_.Exec("UPDATE quotas SET volumes = ?, gigabytes = ?, snapshots = ?, "
               "updated_at = ? WHERE user_name = ?",
               {val(q.volumes), val(q.gigabytes), val(q.snapshots), q.updated_at, q.user}));
  if (n == 1) return Status::Ok();
  return sqlv::ExecOne(
      db_.Exec("INSERT INTO quotas (user_name, volumes, gigabytes, snapshots, "
               "updated_at) VALUES (?,?,?,?,?)",
               {q.user, val(q.volumes), val(q.gigabytes), val(q.snapshots), q.updated_at}),
      "insert quota");
}

Result<bool> SqlTransaction::DeleteAccessKey(const std::string& id) {
  VBS_ASSIGN_OR_RETURN(int64_t n, db_.Exec("DELETE FROM access_keys WHERE id = ?", {id}));
  return n > 0;
}

}  // namespace vbs
