// The store contract's fixture: each test runs on SQLite (a file in a temporary directory) and
// on PostgreSQL (a fresh schema on a private server that the test starts; it fails, never
// skips, when the server cannot be started). Test files instantiate their suites with
// AllStores() and StoreName.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include "store/postgres/pg_testing.h"
#include "store/postgres/postgres_connection.h"
#include "store/schema.h"
#include "store/sqlite/sqlite_connection.h"

namespace vbs::storetest {

// One database under test: stores and raw connections on it, as separate servers would have.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<std::unique_ptr<MetadataStore>> Open() = 0;
  virtual Result<std::unique_ptr<SqlConnection>> Connect() = 0;
};

class SqliteBackend final : public Backend {
 public:
  SqliteBackend() {
    char tmpl[] = "/tmp/vbs-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/meta.db";
  }
  ~SqliteBackend() override { std::filesystem::remove_all(dir_); }
  Result<std::unique_ptr<MetadataStore>> Open() override { return OpenSqliteStore(path_); }
  Result<std::unique_ptr<SqlConnection>> Connect() override {
    VBS_ASSIGN_OR_RETURN(auto c, SqliteConnection::Open(path_));
    return std::unique_ptr<SqlConnection>(std::move(c));
  }

 private:
  std::string dir_, path_;
};

class PostgresBackend final : public Backend {
 public:
  static Result<std::unique_ptr<Backend>> Make() {
    VBS_ASSIGN_OR_RETURN(std::string base, pgtest::SharedConninfo());
    VBS_ASSIGN_OR_RETURN(auto schema, pgtest::Schema::Create(base));
    return std::unique_ptr<Backend>(new PostgresBackend(std::move(schema)));
  }
  Result<std::unique_ptr<MetadataStore>> Open() override { return OpenPostgresStore(conninfo_); }
  Result<std::unique_ptr<SqlConnection>> Connect() override {
    VBS_ASSIGN_OR_RETURN(auto c, PostgresConnection::Open(conninfo_));
    return std::unique_ptr<SqlConnection>(std::move(c));
  }

 private:
  explicit PostgresBackend(std::unique_ptr<pgtest::Schema> schema)
      : schema_(std::move(schema)), conninfo_(schema_->conninfo()) {}
  std::unique_ptr<pgtest::Schema> schema_;
  std::string conninfo_;
};

struct BackendKind {
  std::string name;
  std::function<Result<std::unique_ptr<Backend>>()> make;
};
inline void PrintTo(const BackendKind& kind, std::ostream* os) {
  *os << kind.name;
}

class StoreContractTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    auto b = GetParam().make();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(b).value();
    auto s = backend_->Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  Status AddPool(const std::string& name, uint64_t capacity) {
    return store_->Transact([&](Transaction& tx) {
      return tx.UpsertPool(PoolRecord{name, "n1", "dir", false, capacity, 0});
    });
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<MetadataStore> store_;
};

inline auto AllStores() {
  return ::testing::Values(
      BackendKind{
          "SQLite",
          [] { return Result<std::unique_ptr<Backend>>(std::make_unique<SqliteBackend>()); }},
      BackendKind{"PostgreSQL", [] { return PostgresBackend::Make(); }});
}
inline std::string StoreName(const ::testing::TestParamInfo<BackendKind>& info) {
  return info.param.name;
}

}  // namespace vbs::storetest
