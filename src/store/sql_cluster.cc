// The parts of SqlTransaction that let many servers and nodes share one database: which nodes
// declare which pools, and named leader leases.
#include "store/sql_transaction.h"
#include "store/sql_values.h"

namespace vbs {

using sqlv::ExecOne;

Status SqlTransaction::SetNodePools(const std::string& node,
                                    const std::vector<std::string>& pools) {
  VBS_RETURN_IF_ERROR(db_.Exec("DELETE FROM pool_nodes WHERE node = ?", {node}).status());
  for (const auto& pool : pools) {
    VBS_RETURN_IF_ERROR(
        ExecOne(db_.Exec("INSERT INTO pool_nodes (pool, node) VALUES (?, ?)", {pool, node}),
                "declare pool " + pool + " on node " + node));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> SqlTransaction::PoolNodes(const std::string& pool) {
  VBS_ASSIGN_OR_RETURN(
      auto rows, db_.Query("SELECT node FROM pool_nodes WHERE pool = ? ORDER BY node", {pool}));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.Text(0));
  return out;
}

Status SqlTransaction::UpsertStorageClient(const StorageClientRecord& c) {
  VBS_ASSIGN_OR_RETURN(int64_t n, db_.Exec("UPDATE storage_clients SET node = ?, state = ?, "
                                           "updated_at = ? WHERE pool = ? AND client = ?",
                                           {c.node, c.state, c.updated_at, c.pool, c.client}));
  if (n == 1) return Status::Ok();
  return ExecOne(db_.Exec("INSERT INTO storage_clients (pool, client, node, state, updated_at) "
                          "VALUES (?,?,?,?,?)",
                          {c.pool, c.client, c.node, c.state, c.updated_at}),
                 "insert storage client");
}

Result<std::vector<StorageClientRecord>> SqlTransaction::NodeStorageClients(
    const std::string& node) {
  VBS_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT pool, client, node, state, updated_at FROM "
                                            "storage_clients WHERE node = ? ORDER BY pool, client",
                                            {node}));
  std::vector<StorageClientRecord> out;
  for (const auto& r : rows) out.push_back({r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4)});
  return out;
}

Status SqlTransaction::DeleteStorageClient(const std::string& pool, const std::string& client) {
  return db_.Exec("DELETE FROM storage_clients WHERE pool = ? AND client = ?", {pool, client})
      .status();
}

Result<bool> SqlTransaction::TryAcquireLease(const std::string& name, const std::string& holder,
                                             int64_t now, int64_t expires_at) {
  // Renew our own lease or take over an expired one: a conditional update, so that of two
  // servers racing for an expired lease exactly one wins (the database serializes them).
  VBS_ASSIGN_OR_RETURN(int64_t n, db_.Exec("UPDATE leases SET holder = ?, expires_at = ? "
                                           "WHERE name = ? AND (holder = ? OR expires_at < ?)",
                                           {holder, expires_at, name, holder, now}));
  if (n == 1) return true;
  // Never held: the first to insert the row has it.
  VBS_ASSIGN_OR_RETURN(n, db_.Exec("INSERT INTO leases (name, holder, expires_at) VALUES (?,?,?) "
                                   "ON CONFLICT (name) DO NOTHING",
                                   {name, holder, expires_at}));
  return n == 1;
}

}  // namespace vbs
