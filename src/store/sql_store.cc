#include "store/sql_store.h"

#include <chrono>
#include <thread>

#include "store/schema.h"
#include "store/sql_transaction.h"

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
    std::unique_ptr<SqlConnection> db) {
  VBS_RETURN_IF_ERROR(Migrate(*db));
  return std::unique_ptr<SqlMetadataStore>(new SqlMetadataStore(std::move(db)));
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

}  // namespace vbs
