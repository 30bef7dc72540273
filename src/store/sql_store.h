// SqlMetadataStore: MetadataStore over one SqlConnection (migrated at Open).
//
// Transactions are serialized in-process by a mutex (one connection) and across processes by
// the database (SQLite's write lock, PostgreSQL's SERIALIZABLE isolation); a transaction that
// meets contention (kUnavailable) is retried with backoff up to a bound, then the error is
// returned. Heartbeats (RenewNode) use a second connection with its own mutex: one
// autocommit UPDATE that never waits for the transactions' mutex or their retries. The
// authentication lookups are autocommit SELECTs on a third connection: a heartbeat can wait for
// a writer's lock, a read never does (SQLite's WAL, PostgreSQL's MVCC), and must not wait for it.
#pragma once

#include <memory>
#include <mutex>

#include "store/metadata_store.h"
#include "store/sql_connection.h"

namespace vbs {

class SqlMetadataStore final : public MetadataStore {
 public:
  // `liveness` and `reads` are more connections to the same database: for RenewNode, and
  // for the authentication lookups.
  static Result<std::unique_ptr<SqlMetadataStore>> Open(std::unique_ptr<SqlConnection> db,
                                                        std::unique_ptr<SqlConnection> liveness,
                                                        std::unique_ptr<SqlConnection> reads);
  Status Transact(const std::function<Status(Transaction&)>& fn) override;
  Result<bool> RenewNode(const std::string& node, int64_t epoch, int64_t max_silence_ms) override;
  Result<std::optional<UserRecord>> LookupUser(const std::string& name) override;
  Result<std::optional<AccessKeyRecord>> LookupAccessKey(const std::string& id) override;
  Result<std::optional<CertificateRecord>> LookupCertificate(const std::string& serial) override;

 private:
  template <typename F>
  auto OnReadConnection(F read) -> decltype(read(std::declval<SqlConnection&>()));
  SqlMetadataStore(std::unique_ptr<SqlConnection> db, std::unique_ptr<SqlConnection> liveness,
                   std::unique_ptr<SqlConnection> reads)
      : db_(std::move(db)), liveness_(std::move(liveness)), reads_(std::move(reads)) {}
  std::mutex mu_;
  std::unique_ptr<SqlConnection> db_;
  std::mutex liveness_mu_;
  std::unique_ptr<SqlConnection> liveness_;
  std::mutex reads_mu_;
  std::unique_ptr<SqlConnection> reads_;
};

}  // namespace vbs
