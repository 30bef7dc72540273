#include "store/sqlite/sqlite_connection.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <thread>

#include "store/sql_store.h"

namespace vbs {
namespace {

// Prepared statement that finalizes itself.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

Status SqliteConnection::Error(const std::string& what, int rc) {
  std::string msg = what + ": " + sqlite3_errmsg(db_);
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(msg);
  if (primary == SQLITE_CONSTRAINT) return Status::AlreadyExists("ConstraintViolation", msg);
  return Status::Internal(msg);
}

namespace {

// The database holds every user's credentials: mode 0600, for the file and its -wal and -shm
// (SQLite gives those the database file's mode when it creates them). Existing files of an
// older deployment are tightened too.
Status KeepPrivate(const std::string& path) {
  if (path.empty() || path[0] == ':' || path.rfind("file:", 0) == 0) return Status::Ok();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  ::close(fd);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string file = path + suffix;
    if (::chmod(file.c_str(), 0600) != 0 && errno != ENOENT) {
      return Status::FromErrno("chmod 0600 " + file, errno);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path) {
  VBS_RETURN_IF_ERROR(KeepPrivate(path));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Internal("cannot open SQLite database " + path + ": " + msg);
  }
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db));
  sqlite3_busy_timeout(db, 5000);
  // Switching to WAL while another connection opens the same new file can answer "database
  // is locked" at once, without the busy handler: try again for as long as it would wait.
  Status st;
  for (int attempt = 0; attempt < 500; ++attempt) {
    st = conn->ExecScript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (st.ok() || st.kind() != StatusKind::kUnavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  VBS_RETURN_IF_ERROR(st);
  return conn;
}

SqliteConnection::~SqliteConnection() {
  sqlite3_close(db_);
}

Result<std::vector<SqlRow>> SqliteConnection::Query(const std::string& sql,
                                                    const std::vector<SqlValue>& params) {
  Stmt st;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &st.s, nullptr);
  if (rc != SQLITE_OK) return Error("prepare", rc);
  for (size_t i = 0; i < params.size(); ++i) {
    const SqlValue& v = params[i];
    int idx = static_cast<int>(i + 1);
    if (auto* n = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(st.s, idx, *n);
    } else if (auto* s = std::get_if<std::string>(&v)) {
      rc = sqlite3_bind_text(st.s, idx, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
    } else {
      rc = sqlite3_bind_null(st.s, idx);
    }
    if (rc != SQLITE_OK) return Error("bind", rc);
  }
  std::vector<SqlRow> rows;
  while (true) {
    rc = sqlite3_step(st.s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return Error("step", rc);
    SqlRow row;
    int n = sqlite3_column_count(st.s);
    row.columns.reserve(n);
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(st.s, c)) {
        case SQLITE_NULL:
          row.columns.emplace_back(std::monostate{});
          break;
        case SQLITE_INTEGER:
          row.columns.emplace_back(int64_t{sqlite3_column_int64(st.s, c)});
          break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, c));
          row.columns.emplace_back(std::string(text ? text : "", sqlite3_column_bytes(st.s, c)));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<int64_t> SqliteConnection::Exec(const std::string& sql,
                                       const std::vector<SqlValue>& params) {
  auto rows = Query(sql, params);
  if (!rows.ok()) return rows.status();
  return static_cast<int64_t>(sqlite3_changes(db_));
}

Status SqliteConnection::ExecScript(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    Status st = Error("exec", rc);
    return Status(st.kind(), st.code(), "exec: " + msg);
  }
  return Status::Ok();
}

Status SqliteConnection::Begin() {
  return ExecScript("BEGIN IMMEDIATE");
}
Status SqliteConnection::Commit() {
  return ExecScript("COMMIT");
}
void SqliteConnection::Rollback() {
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Result<std::unique_ptr<MetadataStore>> OpenSqliteStore(const std::string& path) {
  VBS_ASSIGN_OR_RETURN(auto conn, SqliteConnection::Open(path));
  VBS_ASSIGN_OR_RETURN(auto liveness, SqliteConnection::Open(path));
  VBS_ASSIGN_OR_RETURN(auto reads, SqliteConnection::Open(path));
  VBS_ASSIGN_OR_RETURN(
      auto store, SqlMetadataStore::Open(std::move(conn), std::move(liveness), std::move(reads)));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace vbs
