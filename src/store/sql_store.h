// SqlMetadataStore: MetadataStore over one SqlConnection (migrated at Open).
//
// Transactions are serialized in-process by a mutex (one connection) and across processes by
// the database (SQLite's write lock, PostgreSQL's SERIALIZABLE isolation); a transaction that meets contention (kUnavailable) is
// retried with backoff up to a bound, then the error is returned.
#pragma once

#include <memory>
#include <mutex>

#include "store/metadata_store.h"
#include "store/sql_connection.h"

namespace vbs {

class SqlMetadataStore final : public MetadataStore {
 public:
  static Result<std::unique_ptr<SqlMetadataStore>> Open(std::unique_ptr<SqlConnection> db);
  Status Transact(const std::function<Status(Transaction&)>& fn) override;

 private:
  explicit SqlMetadataStore(std::unique_ptr<SqlConnection> db) : db_(std::move(db)) {}
  std::mutex mu_;
  std::unique_ptr<SqlConnection> db_;
};

}  // namespace vbs
