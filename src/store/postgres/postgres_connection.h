// PostgresConnection: SqlConnection over one libpq connection, for several `vbsd server`
// instances sharing one PostgreSQL database (design.md §10).
//
// Contract, beyond SqlConnection's:
// - `?` placeholders become $1..$n (not inside quotes, quoted identifiers, comments or
//   dollar-quoted strings); parameters travel as text (integers typed int8), results come
//   back as text and are turned into int64 for int2/int4/int8 (and bool) columns.
// - Every transaction is SERIALIZABLE (see Begin in the .cc for why). Serialization failures
//   and deadlocks (40001, 40P01) and a lost connection before COMMIT are kUnavailable, so
//   SqlMetadataStore::Transact retries; any integrity violation (class 23, e.g. 23505) is
//   kAlreadyExists "ConstraintViolation", as on SQLite. A connection lost during COMMIT is
//   kIoError (the outcome is unknown, so it must not be retried blindly).
// - After a statement fails, PostgreSQL has aborted the whole transaction (SQLite would keep
//   it): later statements and Commit report that first failure, so a swallowed
//   serialization failure still ends in a retry and never in a silent rollback.
// - A lost connection is re-established at the next Begin. TCP keepalives and
//   idle_in_transaction_session_timeout (60 s, unless the operator set one) bound how long a
//   dead peer on either side can hold things up.
// Not thread-safe: one thread at a time (SqlMetadataStore holds a mutex).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/metadata_store.h"
#include "store/sql_connection.h"

struct pg_conn;
struct pg_result;

namespace vbs {

class PostgresConnection final : public SqlConnection {
 public:
  // `conninfo` is a libpq connection string, keyword/value ("host=… port=… dbname=…") or
  // URI ("postgresql://user@host:5432/vbs"); libpq's PG* environment variables fill gaps.
  static Result<std::unique_ptr<PostgresConnection>> Open(const std::string& conninfo);
  ~PostgresConnection() override;

  Result<std::vector<SqlRow>> Query(const std::string& sql,
                                    const std::vector<SqlValue>& params) override;
  Result<int64_t> Exec(const std::string& sql, const std::vector<SqlValue>& params) override;
  Status ExecScript(const std::string& sql) override;
  Status Begin() override;
  Status Commit() override;
  void Rollback() override;
  std::string dialect() const override { return "postgres"; }

 private:
  struct ResultDeleter {
    void operator()(pg_result* r) const;
  };
  using PgResult = std::unique_ptr<pg_result, ResultDeleter>;

  explicit PostgresConnection(pg_conn* conn) : conn_(conn) {}
  Result<PgResult> Run(const std::string& sql, const std::vector<SqlValue>& params);
  Status Failed(const std::string& what, const pg_result* res);
  Status Aborted() const;
  Status SetUpSession();
  Status Reconnect();

  pg_conn* conn_;
  bool in_tx_ = false;
  Status tx_error_;  // the first failure inside the current transaction
  std::chrono::steady_clock::time_point next_reconnect_{};  // after a failed reconnect
};

// Rewrites `?` placeholders to $1..$n, skipping quoted text, comments and dollar quotes.
// Fails if the count differs from `nparams` (a bug in the caller's SQL).
Result<std::string> RewritePlaceholders(const std::string& sql, size_t nparams);

// The metadata store on a PostgreSQL database (migrated as needed; safe when several
// servers start at once).
Result<std::unique_ptr<MetadataStore>> OpenPostgresStore(const std::string& conninfo);

}  // namespace vbs
