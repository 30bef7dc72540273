// SqlMetadataStore: MetadataStore over one SqlConnection (migrated at Open).
//
// Transactions are serialized in-process by a mutex (one connection) and across processes by
// the database (SQLite's write lock, PostgreSQL's SERIALIZABLE isolation); a transaction that
// meets contention (kUnavailable) is retried with backoff up to a bound, then the error is
// returned. Heartbeats (RenewNode) use a second connection with its own mutex: one
// autocommit UPDATE that never waits for the transactions' mutex or their retries.
#pragma once

#include <memory>
#include <mutex>

#include "store/metadata_store.h"
#include "store/sql_connection.h"

namespace vbs {

class SqlMetadataStore final : public MetadataStore {
 public:
  // `liveness` is a second connection to the same database, for RenewNode.
  static Result<std::unique_ptr<SqlMetadataStore>> Open(std::unique_ptr<SqlConnection> db,
                                                        std::unique_ptr<SqlConnection> liveness);
  Status Transact(const std::function<Status(Transaction&)>& fn) override;
  Result<bool> RenewNode(const std::string& node, int64_t epoch, int64_t max_silence_ms) override;

 private:
  SqlMetadataStore(std::unique_ptr<SqlConnection> db, std::unique_ptr<SqlConnection> liveness)
      : db_(std::move(db)), liveness_(std::move(liveness)) {}
  std::mutex mu_;
  std::unique_ptr<SqlConnection> db_;
  std::mutex liveness_mu_;
  std::unique_ptr<SqlConnection> liveness_;
};

}  // namespace vbs
