// SqlConnection: the few things the store needs from a SQL database, so that the SQL of the
// store is written once (sql_transaction.cc) for SQLite and PostgreSQL alike.
//
// Statements use `?` placeholders; a connection for a database that numbers them ($1, $2)
// rewrites them. Values are NULL, 64-bit integers or text. Contention (SQLITE_BUSY,
// serialization failures) is reported as kUnavailable so that the store retries.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace vbs {

using SqlValue = std::variant<std::monostate, int64_t, std::string>;

struct SqlRow {
  std::vector<SqlValue> columns;
  bool IsNull(size_t i) const { return std::holds_alternative<std::monostate>(columns.at(i)); }
  int64_t Int(size_t i) const;
  std::string Text(size_t i) const;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual Result<std::vector<SqlRow>> Query(const std::string& sql,
                                            const std::vector<SqlValue>& params) = 0;
  // Returns the number of rows changed.
  virtual Result<int64_t> Exec(const std::string& sql, const std::vector<SqlValue>& params) = 0;
  virtual Status ExecScript(const std::string& sql) = 0;  // several statements, no params
  virtual Status Begin() = 0;  // a write transaction that serializes with other writers
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  virtual std::string dialect() const = 0;  // "sqlite", "postgres"
};

}  // namespace vbs
