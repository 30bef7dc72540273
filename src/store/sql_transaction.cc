#include "store/sql_transaction.h"

#include "store/sql_values.h"

#include <nlohmann/json.hpp>

namespace vbs {
namespace {

using sqlv::ExecOne;
using sqlv::Opt;
using sqlv::OptText;

SqlValue I(uint64_t v) {
  return static_cast<int64_t>(v);
}

std::string TagsToJson(const Tags& tags) {
  return nlohmann::json(tags).dump();
}
Tags TagsFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  Tags tags;
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) {
      if (v.is_string()) tags[k] = v.get<std::string>();
    }
  }
  return tags;
}

// Appends "AND col = ?" for each set filter field.
void AddFilter(std::string& sql, std::vector<SqlValue>& params, const char* column,
               const std::optional<std::string>& value) {
  if (!value) return;
  sql += std::string(" AND ") + column + " = ?";
  params.push_back(*value);
}

const char* kVolumeColumns =
    "id, owner, size, pool, state, snapshot_id, error, tags, client_token, created_at, "
    "updated_at, volume_type, iops, throughput";
VolumeRecord VolumeFromRow(const SqlRow& r) {
  VolumeRecord v;
  v.id = r.Text(0);
  v.owner = r.Text(1);
  v.size = static_cast<uint64_t>(r.Int(2));
  v.pool = r.Text(3);
  v.state = r.Text(4);
  v.snapshot_id = OptText(r, 5);
  v.error = OptText(r, 6);
  v.tags = TagsFromJson(r.Text(7));
  v.client_token = OptText(r, 8);
  v.created_at = r.Int(9);
  v.updated_at = r.Int(10);
  v.volume_type = r.Text(11);
  v.iops = r.Int(12);
  v.throughput = r.Int(13);
  return v;
}

const char* kSnapshotColumns =
    "id, owner, volume_id, size, pool, state, progress, error, description, tags, created_at, "
    "updated_at";
SnapshotRecord SnapshotFromRow(const SqlRow& r) {
  SnapshotRecord s;
  s.id = r.Text(0);
  s.owner = r.Text(1);
  s.volume_id = r.Text(2);
  s.size = static_cast<uint64_t>(r.Int(3));
  s.pool = r.Text(4);
  s.state = r.Text(5);
  s.progress = static_cast<int>(r.Int(6));
  s.error = OptText(r, 7);
  s.description = r.Text(8);
  s.tags = TagsFromJson(r.Text(9));
  s.created_at = r.Int(10);
  s.updated_at = r.Int(11);
  return s;
}

const char* kOpColumns =
    "id, kind, resource_id, pool, node, state, params, attempts, lease_until, error, "
    "created_at, updated_at";
OperationRecord OpFromRow(const SqlRow& r) {
  OperationRecord o;
  o.id = r.Text(0);
  o.kind = r.Text(1);
  o.resource_id = r.Text(2);
  o.pool = r.Text(3);
  o.node = r.Text(4);
  o.state = r.Text(5);
  o.params = r.Text(6);
  o.attempts = static_cast<int>(r.Int(7));
  o.lease_until = r.Int(8);
  o.error = OptText(r, 9);
  o.created_at = r.Int(10);
  o.updated_at = r.Int(11);
  return o;
}

PoolRecord PoolFromRow(const SqlRow& r) {
  return PoolRecord{r.Text(0),
                    r.Text(1),
                    r.Text(2),
                    r.Int(3) != 0,
                    static_cast<uint64_t>(r.Int(4)),
                    static_cast<uint64_t>(r.Int(5))};
}

template <typename T, typename F>
Result<std::optional<T>> One(Result<std::vector<SqlRow>> rows, F from_row) {
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(from_row(rows->front()));
}

template <typename T, typename F>
Result<std::vector<T>> All(Result<std::vector<SqlRow>> rows, F from_row) {
  if (!rows.ok()) return rows.status();
  std::vector<T> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(from_row(r));
  return out;
}

}  // namespace

// --- volumes ---

Result<std::optional<VolumeRecord>> SqlTransaction::GetVolume(const std::string& id) {
  return One<VolumeRecord>(
      db_.Query(std::string("SELECT ") + kVolumeColumns + " FROM volumes WHERE id = ?", {id}),
      VolumeFromRow);
}

Result<std::vector<VolumeRecord>> SqlTransaction::ListVolumes(const VolumeFilter& f) {
  std::string sql = std::string("SELECT ") + kVolumeColumns + " FROM volumes WHERE 1=1";
  std::vector<SqlValue> params;
  AddFilter(sql, params, "owner", f.owner);
  AddFilter(sql, params, "state", f.state);
  AddFilter(sql, params, "pool", f.pool);
  if (!f.include_deleted && !f.state) sql += " AND state <> 'deleted'";
  sql += " ORDER BY created_at, id";
  return All<VolumeRecord>(db_.Query(sql, params), VolumeFromRow);
}

Result<std::optional<VolumeRecord>> SqlTransaction::FindVolumeByToken(const std::string& owner,
                                                                      const std::string& token) {
  return One<VolumeRecord>(db_.Query(std::string("SELECT ") + kVolumeColumns +
                                         " FROM volumes WHERE owner = ? AND client_token = ?",
                                     {owner, token}),
                           VolumeFromRow);
}

Status SqlTransaction::InsertVolume(const VolumeRecord& v) {
  return ExecOne(db_.Exec(std::string("INSERT INTO volumes (") + kVolumeColumns +
                              ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          {v.id, v.owner, I(v.size), v.pool, v.state, Opt(v.snapshot_id),
                           Opt(v.error), TagsToJson(v.tags), Opt(v.client_token), v.created_at,
                           v.updated_at, v.volume_type, v.iops, v.throughput}),
                 "insert volume");
}

Status SqlTransaction::UpdateVolume(const VolumeRecord& v) {
  return ExecOne(db_.Exec("UPDATE volumes SET owner=?, size=?, pool=?, state=?, snapshot_id=?, "
                          "error=?, tags=?, client_token=?, updated_at=?, volume_type=?, iops=?, "
                          "throughput=? WHERE id=?",
                          {v.owner, I(v.size), v.pool, v.state, Opt(v.snapshot_id), Opt(v.error),
                           TagsToJson(v.tags), Opt(v.client_token), v.updated_at, v.volume_type,
                           v.iops, v.throughput, v.id}),
                 "update volume " + v.id);
}

// --- snapshots ---

Result<std::optional<SnapshotRecord>> SqlTransaction::GetSnapshot(const std::string& id) {
  return One<SnapshotRecord>(
      db_.Query(std::string("SELECT ") + kSnapshotColumns + " FROM snapshots WHERE id = ?", {id}),
      SnapshotFromRow);
}

Result<std::vector<SnapshotRecord>> SqlTransaction::ListSnapshots(const SnapshotFilter& f) {
  std::string sql = std::string("SELECT ") + kSnapshotColumns + " FROM snapshots WHERE 1=1";
  std::vector<SqlValue> params;
  AddFilter(sql, params, "owner", f.owner);
  AddFilter(sql, params, "state", f.state);
  AddFilter(sql, params, "volume_id", f.volume_id);
  AddFilter(sql, params, "pool", f.pool);
  if (!f.include_deleted && !f.state) sql += " AND state <> 'deleted'";
  sql += " ORDER BY created_at, id";
  return All<SnapshotRecord>(db_.Query(sql, params), SnapshotFromRow);
}

Status SqlTransaction::InsertSnapshot(const SnapshotRecord& s) {
  return ExecOne(
      db_.Exec(
          "INSERT INTO snapshots (id, owner, volume_id, size, pool, state, progress, "
          "error, description, tags, created_at, updated_at) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
          {s.id, s.owner, s.volume_id, I(s.size), s.pool, s.state, static_cast<int64_t>(s.progress),
           Opt(s.error), s.description, TagsToJson(s.tags), s.created_at, s.updated_at}),
      "insert snapshot");
}

Status SqlTransaction::UpdateSnapshot(const SnapshotRecord& s) {
  return ExecOne(db_.Exec("UPDATE snapshots SET state=?, progress=?, error=?, description=?, "
                          "tags=?, updated_at=? WHERE id=?",
                          {s.state, static_cast<int64_t>(s.progress), Opt(s.error), s.description,
                           TagsToJson(s.tags), s.updated_at, s.id}),
                 "update snapshot " + s.id);
}

// --- operations ---

Result<std::optional<OperationRecord>> SqlTransaction::GetOperation(const std::string& id) {
  return One<OperationRecord>(
      db_.Query(std::string("SELECT ") + kOpColumns + " FROM operations WHERE id = ?", {id}),
      OpFromRow);
}

Result<std::vector<OperationRecord>> SqlTransaction::ListOperations(const OperationFilter& f) {
  std::string sql = std::string("SELECT ") + kOpColumns + " FROM operations WHERE 1=1";
  std::vector<SqlValue> params;
  AddFilter(sql, params, "node", f.node);
  AddFilter(sql, params, "state", f.state);
  AddFilter(sql, params, "resource_id", f.resource_id);
  sql += " ORDER BY created_at, id";
  return All<OperationRecord>(db_.Query(sql, params), OpFromRow);
}

Status SqlTransaction::InsertOperation(const OperationRecord& o) {
  return ExecOne(
      db_.Exec("INSERT INTO operations (id, kind, resource_id, pool, node, state, params, "
               "attempts, lease_until, error, created_at, updated_at) "
               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
               {o.id, o.kind, o.resource_id, o.pool, o.node, o.state, o.params,
                static_cast<int64_t>(o.attempts), o.lease_until, Opt(o.error), o.created_at,
                o.updated_at}),
      "insert operation");
}

Status SqlTransaction::UpdateOperation(const OperationRecord& o) {
  return ExecOne(db_.Exec("UPDATE operations SET node=?, state=?, params=?, attempts=?, "
                          "lease_until=?, error=?, updated_at=? WHERE id=?",
                          {o.node, o.state, o.params, static_cast<int64_t>(o.attempts),
                           o.lease_until, Opt(o.error), o.updated_at, o.id}),
                 "update operation " + o.id);
}

Result<bool> SqlTransaction::TryTransitionOp(const OperationRecord& o, const std::string& from) {
  VBS_ASSIGN_OR_RETURN(int64_t n,
                       db_.Exec("UPDATE operations SET node=?, state=?, params=?, attempts=?, "
                                "lease_until=?, error=?, updated_at=? WHERE id=? AND state=?",
                                {o.node, o.state, o.params, static_cast<int64_t>(o.attempts),
                                 o.lease_until, Opt(o.error), o.updated_at, o.id, from}));
  return n == 1;
}

// --- pools ---

Result<std::optional<PoolRecord>> SqlTransaction::GetPool(const std::string& name) {
  return One<PoolRecord>(db_.Query("SELECT name, node, type, shared, capacity, reserved FROM "
                                   "pools WHERE name = ?",
                                   {name}),
                         PoolFromRow);
}

Result<std::vector<PoolRecord>> SqlTransaction::ListPools() {
  return All<PoolRecord>(
      db_.Query("SELECT name, node, type, shared, capacity, reserved FROM pools ORDER BY name", {}),
      PoolFromRow);
}

Status SqlTransaction::UpsertPool(const PoolRecord& p) {
  VBS_ASSIGN_OR_RETURN(int64_t n,
                       db_.Exec("UPDATE pools SET node=?, type=?, shared=?, capacity=? "
                                "WHERE name=?",
                                {p.node, p.type, int64_t{p.shared}, I(p.capacity), p.name}));
  if (n == 1) return Status::Ok();
  return ExecOne(db_.Exec("INSERT INTO pools (name, node, type, shared, capacity, reserved) "
                          "VALUES (?,?,?,?,?,0)",
                          {p.name, p.node, p.type, int64_t{p.shared}, I(p.capacity)}),
                 "insert pool");
}

Result<bool> SqlTransaction::TryReserve(const std::string& pool, uint64_t bytes) {
  VBS_ASSIGN_OR_RETURN(int64_t n, db_.Exec("UPDATE pools SET reserved = reserved + ? "
                                           "WHERE name = ? AND reserved + ? <= capacity",
                                           {I(bytes), pool, I(bytes)}));
  return n == 1;
}

Status SqlTransaction::Release(const std::string& pool, uint64_t bytes) {
  // Never below zero, even if a release is repeated by a bug: capacity must not grow.
  return ExecOne(db_.Exec("UPDATE pools SET reserved = CASE WHEN reserved > ? THEN reserved - ? "
                          "ELSE 0 END WHERE name = ?",
                          {I(bytes), I(bytes), pool}),
                 "release in pool " + pool);
}

// --- nodes ---

Result<std::optional<NodeRecord>> SqlTransaction::GetNode(const std::string& name) {
  return One<NodeRecord>(
      db_.Query("SELECT name, epoch, last_heartbeat FROM nodes WHERE name = ?", {name}),
      [](const SqlRow& r) {
        return NodeRecord{r.Text(0), r.Int(1), r.Int(2)};
      });
}

Result<std::vector<NodeRecord>> SqlTransaction::ListNodes() {
  return All<NodeRecord>(
      db_.Query("SELECT name, epoch, last_heartbeat FROM nodes ORDER BY name", {}),
      [](const SqlRow& r) {
        return NodeRecord{r.Text(0), r.Int(1), r.Int(2)};
      });
}

Status SqlTransaction::UpsertNode(const NodeRecord& n) {
  VBS_ASSIGN_OR_RETURN(int64_t changed,
                       db_.Exec("UPDATE nodes SET epoch=?, last_heartbeat=? WHERE name=?",
                                {n.epoch, n.last_heartbeat, n.name}));
  if (changed == 1) return Status::Ok();
  return ExecOne(db_.Exec("INSERT INTO nodes (name, epoch, last_heartbeat) VALUES (?,?,?)",
                          {n.name, n.epoch, n.last_heartbeat}),
                 "insert node");
}

// --- the database's clock ---

Result<int64_t> SqlTransaction::ClockMillis() {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT " + sqlv::ClockMillisSql(db_), {}));
  if (rows.empty()) return Status::Internal("the database did not tell its clock");
  return rows[0].Int(0);
}

// --- revision ---

Result<int64_t> SqlTransaction::BumpRevision() {
  VBS_RETURN_IF_ERROR(
      ExecOne(db_.Exec("UPDATE counters SET value = value + 1 WHERE name = 'revision'", {}),
              "bump revision"));
  return Revision();
}

Result<int64_t> SqlTransaction::Revision() {
  VBS_ASSIGN_OR_RETURN(auto rows,
                       db_.Query("SELECT value FROM counters WHERE name = 'revision'", {}));
  if (rows.empty()) return Status::Internal("counters.revision missing");
  return rows[0].Int(0);
}

}  // namespace vbs
