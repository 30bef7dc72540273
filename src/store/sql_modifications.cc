// The volume-modification (resize) part of SqlTransaction.
#include "store/sql_transaction.h"
#include "store/sql_values.h"

namespace vbs {
namespace {

using sqlv::ExecOne;
using sqlv::Opt;
using sqlv::OptText;

const char* kModificationColumns =
    "id, volume_id, owner, state, original_size, target_size, progress, error, created_at, "
    "updated_at, original_type, target_type, original_iops, target_iops, original_throughput, "
    "target_throughput";

VolumeModificationRecord ModificationFromRow(const SqlRow& r) {
  VolumeModificationRecord m;
  m.id = r.Text(0);
  m.volume_id = r.Text(1);
  m.owner = r.Text(2);
  m.state = r.Text(3);
  m.original_size = static_cast<uint64_t>(r.Int(4));
  m.target_size = static_cast<uint64_t>(r.Int(5));
  m.progress = static_cast<int>(r.Int(6));
  m.error = OptText(r, 7);
  m.created_at = r.Int(8);
  m.updated_at = r.Int(9);
  m.original_type = r.Text(10);
  m.target_type = r.Text(11);
  m.original_iops = r.Int(12);
  m.target_iops = r.Int(13);
  m.original_throughput = r.Int(14);
  m.target_throughput = r.Int(15);
  return m;
}

}  // namespace

Result<std::optional<VolumeModificationRecord>> SqlTransaction::GetVolumeModification(
    const std::string& id) {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(std::string("SELECT ") + kModificationColumns +
                                                " FROM volume_modifications WHERE id = ?",
                                            {id}));
  if (rows.empty()) return std::optional<VolumeModificationRecord>();
  return std::optional<VolumeModificationRecord>(ModificationFromRow(rows[0]));
}

Result<std::vector<VolumeModificationRecord>> SqlTransaction::ListVolumeModifications(
    const VolumeModificationFilter& f) {
  std::string sql =
      std::string("SELECT ") + kModificationColumns + " FROM volume_modifications WHERE 1=1";
  std::vector<SqlValue> params;
  for (const auto& [column, value] :
       {std::pair<const char*, const std::optional<std::string>*>{"volume_id", &f.volume_id},
        {"owner", &f.owner},
        {"state", &f.state}}) {
    if (!*value) continue;
    sql += std::string(" AND ") + column + " = ?";
    params.push_back(**value);
  }
  sql += " ORDER BY created_at, id";
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query(sql, params));
  std::vector<VolumeModificationRecord> out;
  for (const auto& r : rows) out.push_back(ModificationFromRow(r));
  return out;
}

Status SqlTransaction::InsertVolumeModification(const VolumeModificationRecord& m) {
  return ExecOne(
      db_.Exec(std::string("INSERT INTO volume_modifications (") + kModificationColumns +
                   ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
               {m.id, m.volume_id, m.owner, m.state, static_cast<int64_t>(m.original_size),
                static_cast<int64_t>(m.target_size), static_cast<int64_t>(m.progress), Opt(m.error),
                m.created_at, m.updated_at, m.original_type, m.target_type, m.original_iops,
                m.target_iops, m.original_throughput, m.target_throughput}),
      "insert volume modification");
}

Status SqlTransaction::UpdateVolumeModification(const VolumeModificationRecord& m) {
  return ExecOne(db_.Exec("UPDATE volume_modifications SET state=?, target_size=?, progress=?, "
                          "error=?, updated_at=? WHERE id=?",
                          {m.state, static_cast<int64_t>(m.target_size),
                           static_cast<int64_t>(m.progress), Opt(m.error), m.updated_at, m.id}),
                 "update volume modification " + m.id);
}

}  // namespace vbs
