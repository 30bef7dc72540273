// Test helpers: a private PostgreSQL server for the store tests, started with
// tests/pg/pg-server.sh (which installs PostgreSQL when it is missing), and a fresh empty
// schema per test so tests never see each other's rows.
//
// VBS_PG_CONNINFO (keyword/value form) points the tests at an existing server instead;
// VBS_PG_SERVER_SCRIPT overrides where pg-server.sh is. A server that cannot be started is an
// error the caller turns into a test failure: PostgreSQL tests never skip.
#pragma once

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "store/postgres/postgres_connection.h"

namespace vbs::pgtest {

inline std::string ServerScript() {
  if (const char* s = std::getenv("VBS_PG_SERVER_SCRIPT")) return s;
  // Found from this header's own path (absolute: CMake passes absolute include dirs), so the
  // tests need no configuration to find the source tree.
  return (std::filesystem::path(__FILE__).parent_path() / "../../../tests/pg/pg-server.sh")
      .lexically_normal()
      .string();
}

// Runs a shell command, returning its stdout (stderr goes to the test log) or its failure.
inline Result<std::string> Run(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return Status::Internal("popen failed: " + cmd);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = pclose(p);
  if (rc != 0) {
    return Status::Internal("`" + cmd + "` failed (status " + std::to_string(rc) + "): " + out);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// One private server in its own directory under /tmp (reachable by the postgres user).
class Server {
 public:
  static Result<std::unique_ptr<Server>> Start() {
    char tmpl[] = "/tmp/vbs-pg-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Status::FromErrno("mkdtemp", errno);
    std::unique_ptr<Server> s(new Server(tmpl));
    VBS_ASSIGN_OR_RETURN(s->conninfo_, Run(s->Command("start")));
    return s;
  }
  ~Server() {
    (void)Run(Command("stop") + " >/dev/null");
    std::filesystem::remove_all(dir_);
  }
  const std::string& conninfo() const { return conninfo_; }
  Status Stop() { return Run(Command("stop")).status(); }
  Status Kill() { return Run(Command("kill")).status(); }
  Status Restart() { return Run(Command("start")).status(); }  // same port as before

 private:
  explicit Server(std::string dir) : dir_(std::move(dir)) {}
  std::string Command(const std::string& verb) const {
    // The watchdog stops the server even if this process is killed (a CTest timeout).
    return "VBS_PG_OWNER_PID=" + std::to_string(getpid()) + " '" + ServerScript() + "' " + verb +
           " '" + dir_ + "'";
  }
  std::string dir_;
  std::string conninfo_;
};

// The server shared by all tests of this process: started on first use, stopped at exit.
inline Result<std::string> SharedConninfo() {
  if (const char* c = std::getenv("VBS_PG_CONNINFO")) return std::string(c);
  static std::mutex mu;
  static std::unique_ptr<Server> server;
  static Status failed;
  std::lock_guard<std::mutex> lock(mu);
  if (!server && failed.ok()) {
    auto s = Server::Start();
    if (s.ok()) {
      server = std::move(s).value();
    } else {
      failed = s.status();  // fail every test fast instead of retrying the start
    }
  }
  if (!failed.ok()) return failed;
  return server->conninfo();
}

// An empty schema, dropped again at destruction; conninfo() sets search_path to it, so the
// store's tables land there as if it were a database of its own (and a shared server given
// by VBS_PG_CONNINFO is left as it was found).
class Schema {
 public:
  static Result<std::unique_ptr<Schema>> Create(const std::string& base_conninfo) {
    static std::atomic<int> counter{0};
    std::string name = "vbs_test_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
    VBS_ASSIGN_OR_RETURN(auto admin, PostgresConnection::Open(base_conninfo));
    VBS_RETURN_IF_ERROR(
        admin->ExecScript("DROP SCHEMA IF EXISTS " + name + " CASCADE; CREATE SCHEMA " + name));
    return std::unique_ptr<Schema>(new Schema(base_conninfo, name));
  }
  ~Schema() {
    auto admin = PostgresConnection::Open(base_);
    if (admin.ok()) {
      (void)(*admin)->ExecScript("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS " + name_ +
                                 " CASCADE");
    }
  }
  std::string conninfo() const { return base_ + " options=-csearch_path=" + name_; }

 private:
  Schema(std::string base, std::string name) : base_(std::move(base)), name_(std::move(name)) {}
  std::string base_, name_;
};

}  // namespace vbs::pgtest
