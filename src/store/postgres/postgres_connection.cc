#include "store/postgres/postgres_connection.h"

#include <libpq-fe.h>

#include <cctype>
#include <cstdlib>
#include <cstring>

#include "store/sql_store.h"

namespace vbs {
namespace {

// Type OIDs (catalog/pg_type_d.h, which Debian ships only with the server headers).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

// Length of a dollar-quote tag ("$$" or "$tag$") starting at sql[i], or 0 if there is none
// ("$1" is a positional parameter, not a tag).
size_t DollarTag(const std::string& sql, size_t i) {
  size_t j = i + 1;
  if (j < sql.size() && (std::isalpha(static_cast<unsigned char>(sql[j])) || sql[j] == '_')) {
    while (j < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_')) {
      ++j;
    }
  }
  return j < sql.size() && sql[j] == '$' ? j - i + 1 : 0;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

Result<std::string> RewritePlaceholders(const std::string& sql, size_t nparams) {
  std::string out;
  out.reserve(sql.size() + 2 * nparams);
  size_t n = 0;
  size_t i = 0;
  // Copies sql[i] up to and including the first `end` at or after `from`.
  auto copy_to = [&](size_t from, const std::string& end) {
    size_t e = sql.find(end, from);
    size_t stop = e == std::string::npos ? sql.size() : e + end.size();
    out.append(sql, i, stop - i);
    i = stop;
  };
  while (i < sql.size()) {
    char c = sql[i];
    char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
    if (c == '\'' || c == '"') {
      // 'it''s' and "a""b" double the quote; E'\'' escapes it with a backslash.
      bool backslashes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                         (i < 2 || !IsIdentChar(sql[i - 2]));
      size_t j = i + 1;
      while (j < sql.size()) {
        if (backslashes && sql[j] == '\\') {
          j += 2;
        } else if (sql[j] == c) {
          if (j + 1 < sql.size() && sql[j + 1] == c) {
            j += 2;
          } else {
            break;
          }
        } else {
          ++j;
        }
      }
      size_t stop = std::min(j + 1, sql.size());
      out.append(sql, i, stop - i);
      i = stop;
    } else if (c == '-' && next == '-') {
      copy_to(i, "\n");
    } else if (c == '/' && next == '*') {
      // Block comments nest in PostgreSQL.
      size_t j = i + 2;
      int depth = 1;
      while (j < sql.size() && depth > 0) {
        if (sql.compare(j, 2, "/*") == 0) {
          ++depth;
          j += 2;
        } else if (sql.compare(j, 2, "*/") == 0) {
          --depth;
          j += 2;
        } else {
          ++j;
        }
      }
      out.append(sql, i, j - i);
      i = j;
    } else if (c == '$' && (i == 0 || !IsIdentChar(sql[i - 1])) && DollarTag(sql, i) > 0) {
      std::string tag = sql.substr(i, DollarTag(sql, i));
      copy_to(i + tag.size(), tag);
    } else if (c == '?') {
      out += '$';
      out += std::to_string(++n);
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  if (n != nparams) {
    return Status::Internal("SQL has " + std::to_string(n) + " placeholders but " +
                            std::to_string(nparams) + " parameters: " + sql);
  }
  return out;
}

void PostgresConnection::ResultDeleter::operator()(pg_result* r) const {
  PQclear(r);
}

Result<std::unique_ptr<PostgresConnection>> PostgresConnection::Open(const std::string& conninfo) {
  // Defaults first: with expand_dbname the conninfo (given as dbname) is expanded in place
  // and overrides them. A bounded connect and TCP keepalives let a server notice a dead or
  // unreachable database in about a minute instead of hanging in Begin or a query.
  const char* keywords[] = {"connect_timeout",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "application_name",
                            "client_encoding",
                            "dbname",
                            nullptr};
  const char* values[] = {"10", "30", "10", "3", "vbsd", "UTF8", conninfo.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Status::Internal("libpq: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = Trim(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Unavailable("cannot connect to PostgreSQL: " + msg);
  }
  // NOTICEs ("relation already exists, skipping") are expected, not worth stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PostgresConnection> db(new PostgresConnection(conn));
  VBS_RETURN_IF_ERROR(db->SetUpSession());
  return db;
}

PostgresConnection::~PostgresConnection() {
  PQfinish(conn_);
}

// A vbsd that dies or is cut off in the middle of a transaction would otherwise hold its row
// locks (the revision counter, a pool) until the database's TCP keepalive gives up, hours by
// default, stalling every other server: PostgreSQL ends such a transaction after a minute.
// Our transactions never wait on anything but the database. An operator's own setting wins.
Status PostgresConnection::SetUpSession() {
  return ExecScript(
      "SELECT CASE WHEN current_setting('idle_in_transaction_session_timeout') = '0' "
      "THEN set_config('idle_in_transaction_session_timeout', '60s', false) END");
}

Status PostgresConnection::Reconnect() {
  // SqlMetadataStore retries kUnavailable dozens of times a few milliseconds apart; when the
  // database is unreachable each attempt could wait connect_timeout. One attempt a second
  // bounds how long a request hangs while still finding a restarted server quickly.
  auto now = std::chrono::steady_clock::now();
  if (now < next_reconnect_) return Status::Unavailable("PostgreSQL is unreachable");
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    next_reconnect_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    return Status::Unavailable("cannot reconnect to PostgreSQL: " + Trim(PQerrorMessage(conn_)));
  }
  return SetUpSession();
}

Status PostgresConnection::Failed(const std::string& what, const pg_result* res) {
  const char* sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string code = sqlstate ? sqlstate : "";
  const char* text = res ? PQresultErrorMessage(res) : "";
  std::string msg = what + ": " + Trim(*text ? text : PQerrorMessage(conn_));
  Status st;
  if (PQstatus(conn_) != CONNECTION_OK) {
    // The server rolled the transaction back when the connection died: safe to retry, and
    // the retry's Begin reconnects.
    st = Status::Unavailable("PostgreSQL connection lost: " + msg);
  } else if (code == "40001" || code == "40P01") {
    st = Status::Unavailable(msg);  // serialization failure, deadlock: run it again
  } else if (code.rfind("23", 0) == 0) {
    // Every integrity violation, as SQLite reports every SQLITE_CONSTRAINT.
    st = Status::AlreadyExists("ConstraintViolation", msg);
  } else if (code.rfind("08", 0) == 0 || code.rfind("53", 0) == 0 || code.rfind("57P0", 0) == 0 ||
             code == "55P03") {
    // Connection trouble, too many connections, shutting down/starting up, lock timeout.
    st = Status::Unavailable(msg);
  } else if (code.rfind("22", 0) == 0) {
    st = Status::InvalidArgument("InvalidParameterValue", msg);  // e.g. invalid UTF-8
  } else {
    st = Status::Internal(msg + (code.empty() ? "" : " (SQLSTATE " + code + ")"));
  }
  if (in_tx_ && tx_error_.ok()) tx_error_ = st;
  return st;
}

Status PostgresConnection::Aborted() const {
  return Status(tx_error_.kind(), tx_error_.code(),
                "transaction aborted by an earlier error: " + tx_error_.message());
}

Result<PostgresConnection::PgResult> PostgresConnection::Run(const std::string& sql,
                                                             const std::vector<SqlValue>& params) {
  if (in_tx_ && !tx_error_.ok()) return Aborted();  // the server would only say 25P02
  // A statement outside a transaction (a heartbeat's autocommit UPDATE) reconnects as Begin
  // does: nothing of ours was in flight on a connection that died while idle.
  if (!in_tx_ && PQstatus(conn_) != CONNECTION_OK) VBS_RETURN_IF_ERROR(Reconnect());
  VBS_ASSIGN_OR_RETURN(std::string text, RewritePlaceholders(sql, params.size()));
  std::vector<Oid> types(params.size(), 0);  // 0: the server infers the type from the SQL
  std::vector<std::string> numbers(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  for (size_t i = 0; i < params.size(); ++i) {
    if (auto* n = std::get_if<int64_t>(&params[i])) {
      types[i] = kInt8Oid;
      numbers[i] = std::to_string(*n);
      values[i] = numbers[i].c_str();
    } else if (auto* s = std::get_if<std::string>(&params[i])) {
      // PostgreSQL text cannot hold NUL; refuse rather than silently truncate.
      if (s->find('\0') != std::string::npos) {
        return Status::InvalidArgument("InvalidParameterValue", "text contains a NUL byte");
      }
      values[i] = s->c_str();
    }
  }
  PgResult res(PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), types.data(),
                            values.data(), nullptr, nullptr, /*resultFormat=text*/ 0));
  ExecStatusType st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed("query", res.get());
  return res;
}

Result<std::vector<SqlRow>> PostgresConnection::Query(const std::string& sql,
                                                      const std::vector<SqlValue>& params) {
  VBS_ASSIGN_OR_RETURN(PgResult res, Run(sql, params));
  const int nrows = PQntuples(res.get());
  const int ncols = PQnfields(res.get());
  std::vector<Oid> types(ncols);
  for (int c = 0; c < ncols; ++c) types[c] = PQftype(res.get(), c);
  std::vector<SqlRow> rows(nrows);
  for (int r = 0; r < nrows; ++r) {
    rows[r].columns.reserve(ncols);
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res.get(), r, c)) {
        rows[r].columns.emplace_back(std::monostate{});
        continue;
      }
      const char* v = PQgetvalue(res.get(), r, c);
      switch (types[c]) {
        case kInt8Oid:
        case kInt4Oid:
        case kInt2Oid:
          rows[r].columns.emplace_back(int64_t{std::strtoll(v, nullptr, 10)});
          break;
        case kBoolOid:
          rows[r].columns.emplace_back(int64_t{v[0] == 't' ? 1 : 0});
          break;
        default:
          rows[r].columns.emplace_back(std::string(v, PQgetlength(res.get(), r, c)));
      }
    }
  }
  return rows;
}

Result<int64_t> PostgresConnection::Exec(const std::string& sql,
                                         const std::vector<SqlValue>& params) {
  VBS_ASSIGN_OR_RETURN(PgResult res, Run(sql, params));
  const char* tuples = PQcmdTuples(res.get());  // "" for commands that count nothing
  return int64_t{*tuples ? std::strtoll(tuples, nullptr, 10) : 0};
}

Status PostgresConnection::ExecScript(const std::string& sql) {
  if (in_tx_ && !tx_error_.ok()) return Aborted();
  // PQexec (the simple protocol) runs several statements; inside BEGIN they join the
  // transaction.
  PgResult res(PQexec(conn_, sql.c_str()));
  ExecStatusType st = PQresultStatus(res.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
    return Failed("exec", res.get());
  }
  return Status::Ok();
}

// SERIALIZABLE, not READ COMMITTED plus conditional writes. The store's single-statement
// rules (TryReserve, TryTransitionOp) would hold either way: under READ COMMITTED an UPDATE
// re-checks its WHERE on the newest row version after waiting for the row lock. But core/
// also reads, decides, then writes within one transaction — a volume is 'available' so it
// may be attached, no volume has this client token so one is inserted, UpsertPool updates
// and inserts when nothing was there, a user name is free so it is inserted — and it was
// written against SQLite, where BEGIN IMMEDIATE runs transactions one at a time. Under
// READ COMMITTED two servers could both see 'available' and both attach rw, or both find a
// pool missing and one fail with a unique violation. SERIALIZABLE gives the same guarantee as
// SQLite (every outcome equals some one-at-a-time order) without taking a table lock: PG
// aborts one of two conflicting transactions with 40001, reported as kUnavailable, and
// SqlMetadataStore::Transact runs it again on fresh data. Primary keys and the unique
// token index still back the rules that must survive even a bug in that reasoning.
Status PostgresConnection::Begin() {
  if (in_tx_) Rollback();
  if (PQstatus(conn_) != CONNECTION_OK) VBS_RETURN_IF_ERROR(Reconnect());
  const char* kBegin = "BEGIN ISOLATION LEVEL SERIALIZABLE";
  PgResult res(PQexec(conn_, kBegin));
  if (PQresultStatus(res.get()) != PGRES_COMMAND_OK && PQstatus(conn_) != CONNECTION_OK) {
    // The server went away while we were idle (restart, failover, idle timeout): the
    // connection only notices now. Nothing was in flight, so reconnect and begin again.
    VBS_RETURN_IF_ERROR(Reconnect());
    res.reset(PQexec(conn_, kBegin));
  }
  if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return Failed("begin", res.get());
  in_tx_ = true;
  tx_error_ = Status::Ok();
  return Status::Ok();
}

Status PostgresConnection::Commit() {
  if (!in_tx_) return Status::Internal("COMMIT without BEGIN");
  if (!tx_error_.ok()) {
    Status st = Aborted();
    Rollback();
    return st;
  }
  PgResult res(PQexec(conn_, "COMMIT"));
  bool sent_ok = PQresultStatus(res.get()) == PGRES_COMMAND_OK;
  if (!sent_ok && PQstatus(conn_) != CONNECTION_OK) {
    in_tx_ = false;
    // Not kUnavailable: the COMMIT may have been applied before the connection died, and
    // running the transaction again could apply it twice.
    return Status::IoError(
        "PostgreSQL connection lost during COMMIT; the transaction may or "
        "may not have committed: " +
        Trim(PQerrorMessage(conn_)));
  }
  Status st = sent_ok ? Status::Ok() : Failed("commit", res.get());  // 40001 at commit: retry
  if (sent_ok && std::strcmp(PQcmdStatus(res.get()), "COMMIT") != 0) {
    st = Status::Internal(std::string("COMMIT answered ") + PQcmdStatus(res.get()));
  }
  in_tx_ = false;  // a failed COMMIT ends the transaction too
  tx_error_ = Status::Ok();
  return st;
}

void PostgresConnection::Rollback() {
  if (!in_tx_) return;
  in_tx_ = false;
  tx_error_ = Status::Ok();
  if (PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
}

Result<std::unique_ptr<MetadataStore>> OpenPostgresStore(const std::string& conninfo) {
  VBS_ASSIGN_OR_RETURN(auto conn, PostgresConnection::Open(conninfo));
  VBS_ASSIGN_OR_RETURN(auto liveness, PostgresConnection::Open(conninfo));
  VBS_ASSIGN_OR_RETURN(auto reads, PostgresConnection::Open(conninfo));
  VBS_ASSIGN_OR_RETURN(
      auto store, SqlMetadataStore::Open(std::move(conn), std::move(liveness), std::move(reads)));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace vbs
