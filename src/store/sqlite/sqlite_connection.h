// SqliteConnection: SqlConnection over one SQLite database file in WAL mode, the embedded
// default. Writers take the lock at BEGIN (BEGIN IMMEDIATE) so that a transaction never fails
// halfway on an upgrade from reader to writer; synchronous=FULL so a commit survives a power
// cut, not only a crash of the process.
#pragma once

#include <memory>
#include <string>

#include "store/metadata_store.h"
#include "store/sql_connection.h"

struct sqlite3;

namespace vbs {

class SqliteConnection final : public SqlConnection {
 public:
  static Result<std::unique_ptr<SqliteConnection>> Open(const std::string& path);
  ~SqliteConnection() override;

  Result<std::vector<SqlRow>> Query(const std::string& sql,
                                    const std::vector<SqlValue>& params) override;
  Result<int64_t> Exec(const std::string& sql, const std::vector<SqlValue>& params) override;
  Status ExecScript(const std::string& sql) override;
  Status Begin() override;
  Status Commit() override;
  void Rollback() override;
  std::string dialect() const override { return "sqlite"; }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  Status Error(const std::string& what, int rc);
  sqlite3* db_;
};

// The metadata store on a SQLite file (created and migrated as needed).
Result<std::unique_ptr<MetadataStore>> OpenSqliteStore(const std::string& path);

}  // namespace vbs
