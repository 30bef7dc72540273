// The instance and attachment parts of SqlTransaction.
#include "store/sql_transaction.h"
#include "store/sql_values.h"

namespace vbs {
namespace {

using sqlv::ExecOne;
using sqlv::Opt;
using sqlv::OptText;

InstanceRecord InstanceFromRow(const SqlRow& r) {
  return InstanceRecord{r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4), r.Text(5)};
}

const char* kAttachmentColumns =
    "id, volume_id, instance_id, node, owner, mode, device, state, export_name, nbd_uri, "
    "error, created_at, updated_at, consumer_uid, mount_point, fs_size, fs_used, fs_free, "
    "fs_reported_at";
std::optional<int64_t> OptInt(const SqlRow& r, int i) {
  if (r.IsNull(i)) return std::nullopt;
  return r.Int(i);
}
SqlValue OptIntValue(const std::optional<int64_t>& v) {
  return v ? SqlValue(*v) : SqlValue(std::monostate{});
}
AttachmentRecord AttachmentFromRow(const SqlRow& r) {
  AttachmentRecord a;
  a.id = r.Text(0);
  a.volume_id = r.Text(1);
  a.instance_id = r.Text(2);
  a.node = r.Text(3);
  a.owner = r.Text(4);
  a.mode = r.Text(5);
  a.device = r.Text(6);
  a.state = r.Text(7);
  a.export_name = OptText(r, 8);
  a.nbd_uri = OptText(r, 9);
  a.error = OptText(r, 10);
  a.created_at = r.Int(11);
  a.updated_at = r.Int(12);
  if (!r.IsNull(13)) a.consumer_uid = r.Int(13);
  a.mount_point = OptText(r, 14);
  a.fs_size = OptInt(r, 15);
  a.fs_used = OptInt(r, 16);
  a.fs_free = OptInt(r, 17);
  a.fs_reported_at = OptInt(r, 18);
  return a;
}

}  // namespace

Result<std::optional<InstanceRecord>> SqlTransaction::GetInstance(const std::string& id) {
  VBS_ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT id, node, kind, state, last_seen, owner FROM instances WHERE id = ?",
                {id}));
  if (rows.empty()) return std::optional<InstanceRecord>();
  return std::optional<InstanceRecord>(InstanceFromRow(rows[0]));
}

Result<std::vector<InstanceRecord>> SqlTransaction::ListInstances(
    const std::optional<std::string>& node) {
  std::string sql = "SELECT id, node, kind, state, last_seen, owner FROM instances";
  std::vector<SqlValue> params;
  if (node) {
    sql += " WHERE node = ?";
    params.push_back(*node);
  }
  sql += " ORDER BY id";
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
  std::vector<InstanceRecord> out;
  for (const auto& r : rows) out.push_back(InstanceFromRow(r));
  return out;
}

Status SqlTransaction::UpsertInstance(const InstanceRecord& i) {
  VBS_ASSIGN_OR_RETURN(int64_t n, db_.Exec("UPDATE instances SET node=?, kind=?, state=?, "
                                           "last_seen=?, owner=? WHERE id=?",
                                           {i.node, i.kind, i.state, i.last_seen, i.owner, i.id}));
  if (n == 1) return Status::Ok();
  return ExecOne(db_.Exec("INSERT INTO instances (id, node, kind, state, last_seen, owner) "
                          "VALUES (?,?,?,?,?,?)",
                          {i.id, i.node, i.kind, i.state, i.last_seen, i.owner}),
                 "insert instance");
}

Result<std::vector<std::string>> SqlTransaction::NodeUsers(const std::string& node) {
  VBS_ASSIGN_OR_RETURN(
      auto rows,
      db_.Query("SELECT user_name FROM node_users WHERE node = ? ORDER BY user_name", {node}));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.Text(0));
  return out;
}

Status SqlTransaction::SetNodeUser(const std::string& node, const std::string& user, bool allowed) {
  VBS_RETURN_IF_ERROR(
      db_.Exec("DELETE FROM node_users WHERE node = ? AND user_name = ?", {node, user}).status());
  if (!allowed) return Status::Ok();
  return ExecOne(db_.Exec("INSERT INTO node_users (node, user_name) VALUES (?, ?)", {node, user}),
                 "insert node user");
}

Result<std::optional<AttachmentRecord>> SqlTransaction::GetAttachment(const std::string& id) {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kAttachmentColumns +
                                                " FROM attachments WHERE id = ?",
                                            {id}));
  if (rows.empty()) return std::optional<AttachmentRecord>();
  return std::optional<AttachmentRecord>(AttachmentFromRow(rows[0]));
}

Result<std::vector<AttachmentRecord>> SqlTransaction::ListAttachments(const AttachmentFilter& f) {
  std::string sql = std::string("SELECT ") + kAttachmentColumns + " FROM attachments WHERE 1=1";
  std::vector<SqlValue> params;
  for (const auto& [column, value] :
       {std::pair<const char*, const std::optional<std::string>*>{"volume_id", &f.volume_id},
        {"instance_id", &f.instance_id},
        {"node", &f.node}}) {
    if (!*value) continue;
    sql += std::string(" AND ") + column + " = ?";
    params.push_back(**value);
  }
  if (!f.include_detached) sql += " AND state <> 'detached'";
  sql += " ORDER BY created_at, id";
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
  std::vector<AttachmentRecord> out;
  for (const auto& r : rows) out.push_back(AttachmentFromRow(r));
  return out;
}

Status SqlTransaction::InsertAttachment(const AttachmentRecord& a) {
  return ExecOne(
      db_.Exec(std::string("INSERT INTO attachments (") + kAttachmentColumns +
                   ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               {a.id, a.volume_id, a.instance_id, a.node, a.owner, a.mode, a.device, a.state,
                Opt(a.export_name), Opt(a.nbd_uri), Opt(a.error), a.created_at, a.updated_at,
                a.consumer_uid ? SqlValue(*a.consumer_uid) : SqlValue(std::monostate{}),
                Opt(a.mount_point), OptIntValue(a.fs_size), OptIntValue(a.fs_used),
                OptIntValue(a.fs_free), OptIntValue(a.fs_reported_at)}),
      "insert attachment");
}

Status SqlTransaction::UpdateAttachment(const AttachmentRecord& a) {
  return ExecOne(
      db_.Exec("UPDATE attachments SET state=?, device=?, export_name=?, nbd_uri=?, "
               "error=?, updated_at=?, mount_point=?, fs_size=?, fs_used=?, fs_free=?, "
               "fs_reported_at=? WHERE id=?",
               {a.state, a.device, Opt(a.export_name), Opt(a.nbd_uri), Opt(a.error), a.updated_at,
                Opt(a.mount_point), OptIntValue(a.fs_size), OptIntValue(a.fs_used),
                OptIntValue(a.fs_free), OptIntValue(a.fs_reported_at), a.id}),
      "update attachment " + a.id);
}

}  // namespace vbs
