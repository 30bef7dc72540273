#include "store/schema.h"

#include <string>
#include <vector>

namespace vbs {
namespace {

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: the first schema.
      R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE TABLE nodes (
  name TEXT PRIMARY KEY,
  epoch BIGINT NOT NULL,
  last_heartbeat BIGINT NOT NULL);
CREATE TABLE pools (
  name TEXT PRIMARY KEY,
  node TEXT NOT NULL,
  type TEXT NOT NULL,
  shared INTEGER NOT NULL,
  capacity BIGINT NOT NULL,
  reserved BIGINT NOT NULL DEFAULT 0,
  CHECK (reserved >= 0));
CREATE TABLE volumes (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  size BIGINT NOT NULL,
  pool TEXT NOT NULL,
  state TEXT NOT NULL,
  snapshot_id TEXT,
  error TEXT,
  tags TEXT NOT NULL,
  client_token TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL);
CREATE INDEX volumes_owner ON volumes (owner, created_at);
CREATE UNIQUE INDEX volumes_client_token ON volumes (owner, client_token)
  WHERE client_token IS NOT NULL;
CREATE TABLE snapshots (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  volume_id TEXT NOT NULL,
  size BIGINT NOT NULL,
  pool TEXT NOT NULL,
  state TEXT NOT NULL,
  progress INTEGER NOT NULL,
  error TEXT,
  description TEXT NOT NULL,
  tags TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL);
CREATE INDEX snapshots_owner ON snapshots (owner, created_at);
CREATE TABLE operations (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  pool TEXT NOT NULL,
  node TEXT NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  lease_until BIGINT NOT NULL,
  error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL);
CREATE INDEX operations_node_state ON operations (node, state);
CREATE INDEX operations_resource ON operations (resource_id);
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL);
INSERT INTO counters (name, value) VALUES ('revision', 0);
)sql",
      // 2: instances and attachments. The partial unique index is the database's guarantee
      // that a volume has at most one live read-write attachment, whatever the races.
      R"sql(
CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  node TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  last_seen BIGINT NOT NULL);
CREATE TABLE attachments (
  id TEXT PRIMARY KEY,
  volume_id TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  node TEXT NOT NULL,
  owner TEXT NOT NULL,
  mode TEXT NOT NULL,
  device TEXT NOT NULL,
  state TEXT NOT NULL,
  export_name TEXT,
  nbd_uri TEXT,
  error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL);
CREATE UNIQUE INDEX attachments_one_rw ON attachments (volume_id)
  WHERE mode = 'rw' AND state <> 'detached';
CREATE UNIQUE INDEX attachments_one_per_instance ON attachments (volume_id, instance_id)
  WHERE state <> 'detached';
CREATE INDEX attachments_instance ON attachments (instance_id);
)sql",
      // 3: volume modifications (resize; EC2 DescribeVolumesModifications reads them) and
      // access keys (the EC2 face's credentials; one user may hold several).
      R"sql(
CREATE TABLE volume_modifications (
  id TEXT PRIMARY KEY,
  volume_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  state TEXT NOT NULL,
  original_size BIGINT NOT NULL,
  target_size BIGINT NOT NULL,
  progress INTEGER NOT NULL,
  error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL);
CREATE INDEX volume_modifications_volume ON volume_modifications (volume_id, created_at);
CREATE TABLE access_keys (
  id TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  secret TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE INDEX access_keys_user ON access_keys (user_name);
)sql",
      // 4: many servers and nodes. pool_nodes: which nodes declare which pools (every live
      // declarer of a shared pool can serve its volumes). leases: named leader leases, so that
      // one server at a time runs a background duty (the reconciler's sweep).
      R"sql(
CREATE TABLE pool_nodes (
  pool TEXT NOT NULL,
  node TEXT NOT NULL,
  PRIMARY KEY (pool, node));
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at BIGINT NOT NULL);
)sql",
      // 5: node leases. storage_clients: the identity under which each node reaches a pool's
      // storage (a Ceph client), so that a node that lost its lease can be fenced out of it.
      R"sql(
CREATE TABLE storage_clients (
  pool TEXT NOT NULL,
  client TEXT NOT NULL,
  node TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (pool, client));
CREATE INDEX storage_clients_node ON storage_clients (node);
)sql",
      // 6: the consumer of a host attachment (the local uid that may open its export).
      R"sql(
ALTER TABLE attachments ADD COLUMN consumer_uid BIGINT;
)sql",
      // 7: QoS. A volume's type and its IOPS and throughput limits (0: none); modifications
      // record them before and after.
      R"sql(
ALTER TABLE volumes ADD COLUMN volume_type TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE volumes ADD COLUMN iops BIGINT NOT NULL DEFAULT 0;
ALTER TABLE volumes ADD COLUMN throughput BIGINT NOT NULL DEFAULT 0;
ALTER TABLE volume_modifications ADD COLUMN original_type TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE volume_modifications ADD COLUMN target_type TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE volume_modifications ADD COLUMN original_iops BIGINT NOT NULL DEFAULT 0;
ALTER TABLE volume_modifications ADD COLUMN target_iops BIGINT NOT NULL DEFAULT 0;
ALTER TABLE volume_modifications ADD COLUMN original_throughput BIGINT NOT NULL DEFAULT 0;
ALTER TABLE volume_modifications ADD COLUMN target_throughput BIGINT NOT NULL DEFAULT 0;
)sql",
      // 8: users can be disabled and deleted (the record stays: names are never reused).
      R"sql(
ALTER TABLE users ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE users ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
)sql",
      // 9: per-user quota overrides (NULL: the server configuration's default).
      R"sql(
CREATE TABLE quotas (
  user_name TEXT PRIMARY KEY,
  volumes BIGINT,
  gigabytes BIGINT,
  snapshots BIGINT,
  updated_at BIGINT NOT NULL);
)sql",
      // 10: owned instances, and the users an admin allows to attach to a node itself.
      R"sql(
ALTER TABLE instances ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE TABLE node_users (
  node TEXT NOT NULL,
  user_name TEXT NOT NULL,
  PRIMARY KEY (node, user_name));
)sql",
      // 11: users' certificates by serial, so that they can be revoked.
      R"sql(
ALTER TABLE users ADD COLUMN certificates_revoked_before BIGINT NOT NULL DEFAULT 0;
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  user_name TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  state TEXT NOT NULL,
  revoked_at BIGINT NOT NULL DEFAULT 0);
CREATE INDEX certificates_user ON certificates (user_name);
)sql",
      // 12: VBSFS: where the node mounted an attachment's file system (homes, the public
      // volume); NULL for block attachments.
      R"sql(
ALTER TABLE attachments ADD COLUMN mount_point TEXT;
)sql",
      // 13: VBSFS: the mounted file system's size, used and free bytes (the node reports them).
      R"sql(
ALTER TABLE attachments ADD COLUMN fs_size BIGINT;
ALTER TABLE attachments ADD COLUMN fs_used BIGINT;
ALTER TABLE attachments ADD COLUMN fs_free BIGINT;
ALTER TABLE attachments ADD COLUMN fs_reported_at BIGINT;
)sql",
  };
  return kMigrations;
}

Result<int> CurrentVersion(SqlConnection& db) {
  VBS_RETURN_IF_ERROR(
      db.ExecScript("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  VBS_ASSIGN_OR_RETURN(auto rows,
                       db.Query("SELECT value FROM meta WHERE key = 'schema_version'", {}));
  if (rows.empty()) return 0;
  try {
    return std::stoi(rows[0].Text(0));
  } catch (...) {
    return Status::Internal("meta.schema_version is not a number: " + rows[0].Text(0));
  }
}

}  // namespace

int LatestSchemaVersion() {
  return static_cast<int>(Migrations().size());
}

namespace {

Status MigrateLocked(SqlConnection& db) {
  VBS_ASSIGN_OR_RETURN(int version, CurrentVersion(db));
  if (version > LatestSchemaVersion()) {
    return Status::Internal("database schema version " + std::to_string(version) +
                            " is newer than this vbsd knows (" +
                            std::to_string(LatestSchemaVersion()) + "); upgrade vbsd");
  }
  while (version < LatestSchemaVersion()) {
    VBS_RETURN_IF_ERROR(db.Begin());
    // Re-read under the write lock: another server may have migrated meanwhile.
    auto now = CurrentVersion(db);
    if (!now.ok()) {
      db.Rollback();
      return now.status();
    }
    if (*now != version) {
      db.Rollback();
      version = *now;
      continue;
    }
    Status st = db.ExecScript(Migrations()[version]);
    if (st.ok()) {
      auto n = db.Exec(version == 0 ? "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                                    : "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                       {std::to_string(version + 1)});
      if (!n.ok()) st = n.status();
    }
    if (!st.ok()) {
      db.Rollback();
      return Status::Internal("migration " + std::to_string(version + 1) +
                              " failed: " + st.message());
    }
    VBS_RETURN_IF_ERROR(db.Commit());
    ++version;
  }
  return Status::Ok();
}

}  // namespace

Status Migrate(SqlConnection& db) {
  if (db.dialect() != "postgres") return MigrateLocked(db);  // BEGIN IMMEDIATE serializes
  // Servers starting together on one PostgreSQL database must migrate one after the other.
  // The re-read under the write transaction is not enough there: two concurrent
  // CREATE TABLE IF NOT EXISTS meta both proceed and the loser fails on a catalog index, and a
  // lock taken inside a SERIALIZABLE transaction comes after its snapshot, so the re-read
  // would miss the winner's commit. A session-level advisory lock is held across the
  // transactions, and PostgreSQL drops it if this connection dies.
  constexpr const char* kLockKey = "7758451";  // any constant: "vbs" read as a number
  VBS_RETURN_IF_ERROR(db.ExecScript(std::string("SELECT pg_advisory_lock(") + kLockKey + ")"));
  Status st = MigrateLocked(db);
  Status unlocked = db.ExecScript(std::string("SELECT pg_advisory_unlock(") + kLockKey + ")");
  return st.ok() ? unlocked : st;
}

}  // namespace vbs
