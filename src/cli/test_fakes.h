// Test doubles for the vbs CLI tests: an in-memory HttpsClient playing the server, a fake
// clock, and a RunApp harness capturing stdout/stderr. Test-only (included by *_test.cc).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/context.h"
#include "net/https_client.h"

namespace vbs::cli::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;
};

// Shared between the test and the client (the client is owned by ApiClient).
struct FakeServer {
  std::vector<RecordedRequest> requests;
  // Answers a request; default: 404 NotFound.
  std::function<Result<HttpsResponse>(const RecordedRequest&)> handler;
  HttpsClientOptions created_with;
  int clients_created = 0;
};

inline HttpsResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpsResponse r;
  r.status = status;
  r.body = body.dump();
  r.headers["content-type"] = "application/json";
  return r;
}

inline HttpsResponse ErrorResponse(int status, const std::string& code, const std::string& msg) {
  return JsonResponse(status, {{"error", {{"code", code}, {"message", msg}}}});
}

class FakeHttpsClient : public HttpsClient {
 public:
  explicit FakeHttpsClient(std::shared_ptr<FakeServer> server) : server_(std::move(server)) {}
  Result<HttpsResponse> Request(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type,
                                std::chrono::milliseconds /*timeout*/,
                                const std::map<std::string, std::string>& /*extra*/) override {
    RecordedRequest r{method, target, body, content_type};
    server_->requests.push_back(r);
    if (server_->handler) return server_->handler(r);
    return ErrorResponse(404, "NotFound", "no route");
  }

 private:
  std::shared_ptr<FakeServer> server_;
};

// Time that moves only when the code under test sleeps.
struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  std::vector<std::chrono::milliseconds> sleeps;
  WaitClock Clock() {
    return {[this] { return now; },
            [this](std::chrono::milliseconds d) {
              sleeps.push_back(d);
              now += d;
            }};
  }
};

// Runs `vbs ARGS...` against the fake server, with the given environment.
struct Harness {
  std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
  std::map<std::string, std::string> env;
  FakeClock clock;
  bool terminal = false;
  std::string out;
  std::string err;

  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "vbs");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    std::ostringstream o, e;
    AppDeps deps;
    deps.out = &o;
    deps.err = &e;
    deps.err_is_terminal = terminal;
    deps.env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
    auto server_ref = server;
    deps.make_client =
        [server_ref](const HttpsClientOptions& options) -> Result<std::unique_ptr<HttpsClient>> {
      server_ref->created_with = options;
      ++server_ref->clients_created;
      return std::unique_ptr<HttpsClient>(new FakeHttpsClient(server_ref));
    };
    deps.clock = clock.Clock();
    int code = RunApp(static_cast<int>(argv.size()), argv.data(), deps);
    out = o.str();
    err = e.str();
    return code;
  }
};

}  // namespace vbs::cli::testing
