// The access-key part of SqlTransaction (the EC2 face's credentials).
#include "store/sql_transaction.h"
#include "store/sql_values.h"

namespace vbs {
namespace {

const char* kAccessKeyColumns = "id, user_name, secret, state, created_at";

AccessKeyRecord AccessKeyFromRow(const SqlRow& r) {
  return AccessKeyRecord{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4)};
}

}  // namespace

Result<std::optional<AccessKeyRecord>> SqlTransaction::GetAccessKey(const std::string& id) {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kAccessKeyColumns +
                                                " FROM access_keys WHERE id = ?",
                                            {id}));
  if (rows.empty()) return std::optional<AccessKeyRecord>();
  return std::optional<AccessKeyRecord>(AccessKeyFromRow(rows[0]));
}

Result<std::vector<AccessKeyRecord>> SqlTransaction::ListAccessKeys(
    const std::optional<std::string>& user) {
  std::string sql = std::string("SELECT ") + kAccessKeyColumns + " FROM access_keys";
  std::vector<SqlValue> params;
  if (user) {
    sql += " WHERE user_name = ?";
    params.push_back(*user);
  }
  sql += " ORDER BY created_at, id";
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
  std::vector<AccessKeyRecord> out;
  for (const auto& r : rows) out.push_back(AccessKeyFromRow(r));
  return out;
}

Status SqlTransaction::InsertAccessKey(const AccessKeyRecord& k) {
  return sqlv::ExecOne(db_.Exec(std::string("INSERT INTO access_keys (") + kAccessKeyColumns +
                                    ") VALUES (?,?,?,?,?)",
                                {k.id, k.user, k.secret, k.state, k.created_at}),
                       "insert access key");
}

}  // namespace vbs
