#include "store/sql_store.h"

#include <chrono>
#include <thread>

#include "store/schema.h"
#include "store/sql_credentials.h"
#include "store/sql_transaction.h"
#include "store/sql_values.h"

namespace vbs {

int64_t SqlRow::Int(size_t i) const {
  const SqlValue& v = columns.at(i);
  if (auto* p = std::get_if<int64_t>(&v)) return *p;
  if (auto* s = std::get_if<std::string>(&v)) return std::stoll(*s);
  return 0;
}

std::string SqlRow::Text(size_t i) const {
  const SqlValue& v = columns.at(i);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  return "";
}

Result<std::unique_ptr<SqlMetadataStore>> SqlMetadataStore::Open(
    std::unique_ptr<SqlConnection> db, std::unique_ptr<SqlConnection> liveness,
    std::unique_ptr<SqlConnection> reads) {
  VBS_RETURN_IF_ERROR(Migrate(*db));
  return std::unique_ptr<SqlMetadataStore>(
      new SqlMetadataStore(std::move(db), std::move(liveness), std::move(reads)));
}

namespace {

// What the connections report for contention, lost connections and serialization failures.
bool IsContention(const Status& st) {
  return st.kind() == StatusKind::kUnavailable && st.code() == "ServiceUnavailable";
}

}  // namespace

Status SqlMetadataStore::Transact(const std::function<Status(Transaction&)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  constexpr int kMaxAttempts = 50;
  Status last;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5 * attempt, 100)));
    }
    last = db_->Begin();
    if (!last.ok()) {
      if (last.kind() == StatusKind::kUnavailable) continue;
      return last;
    }
    SqlTransaction tx(*db_);
    last = fn(tx);
    if (!last.ok()) {
      db_->Rollback();
      // Contention reported by a statement inside fn is retried; an answer fn gives itself
      // (e.g. NodeUnavailable: a node is down) is final, however unavailable it says things are.
      if (IsContention(last)) continue;
      return last;
    }
    last = db_->Commit();
    if (last.ok()) return last;
    db_->Rollback();
    if (last.kind() != StatusKind::kUnavailable) return last;
  }
  return last;
}

Result<bool> SqlMetadataStore::RenewNode(const std::string& node, int64_t epoch,
                                         int64_t max_silence_ms) {
  std::lock_guard<std::mutex> lock(liveness_mu_);
  // One statement: the check (same epoch, not yet lapsed) and the stamp cannot be split by a
  // concurrent takeover, which bumps the epoch in its own transaction. Under PostgreSQL this
  // runs at READ COMMITTED (autocommit), so it never fails a serialization check itself.
  const std::string now = sqlv::ClockMillisSql(*liveness_);
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto changed =
        liveness_->Exec("UPDATE nodes SET last_heartbeat = " + now +
                            " WHERE name = ? AND epoch = ? AND last_heartbeat >= " + now + " - ?",
                        {node, epoch, max_silence_ms});
    if (changed.ok()) return *changed == 1;
    last = changed.status();
    if (!IsContention(last)) break;
  }
  return last;
}

// A read retried on contention like a heartbeat (SQLite in WAL mode gives readers their
// snapshot without waiting for a writer; PostgreSQL's autocommit SELECT never waits either).
template <typename F>
auto SqlMetadataStore::OnReadConnection(F read) -> decltype(read(std::declval<SqlConnection&>())) {
  std::lock_guard<std::mutex> lock(reads_mu_);
  decltype(read(*reads_)) last = Status::Internal("no attempt");
  for (int attempt = 0; attempt < 3; ++attempt) {
    last = read(*reads_);
    if (last.ok() || !IsContention(last.status())) break;
  }
  return last;
}

Result<std::optional<UserRecord>> SqlMetadataStore::LookupUser(const std::string& name) {
  return OnReadConnection([&](SqlConnection& db) { return sqlv::GetUser(db, name); });
}

Result<std::optional<AccessKeyRecord>> SqlMetadataStore::LookupAccessKey(const std::string& id) {
  return OnReadConnection([&](SqlConnection& db) { return sqlv::GetAccessKey(db, id); });
}

Result<std::optional<CertificateRecord>> SqlMetadataStore::LookupCertificate(
    const std::string& serial) {
  return OnReadConnection([&](SqlConnection& db) { return sqlv::GetCertificate(db, serial); });
}

}  // namespace vbs
