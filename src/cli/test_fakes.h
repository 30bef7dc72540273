// Test doubles for the vbs CLI tests: an in-memory HttpsClient playing the server, a fake
// clock, a RunApp harness capturing stdout/stderr, and a fixture routing requests to canned
// answers. Test-only (included by *_test.cc).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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

// A test with credential files in a temp dir (the env points at them) and a route table:
// "METHOD target" -> answers in order (the last one repeats); unknown routes answer 404.
class RoutedAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vbs-cli-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    for (const char* f : {"ca.crt", "me.crt", "me.key"}) std::ofstream(dir + "/" + f) << "CA";
    h.env = {{"VBS_ENDPOINT", "https://127.0.0.1:8443"},
             {"VBS_CA", dir + "/ca.crt"},
             {"VBS_CERT", dir + "/me.crt"},
             {"VBS_KEY", dir + "/me.key"}};
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  void Route(const std::string& key, std::vector<HttpsResponse> answers) {
    routes[key] = std::move(answers);
    h.server->handler = [this](const RecordedRequest& r) -> Result<HttpsResponse> {
      auto it = routes.find(r.method + " " + r.target);
      if (it == routes.end()) return ErrorResponse(404, "NotFound", "no route " + r.target);
      HttpsResponse resp = it->second.front();
      if (it->second.size() > 1) it->second.erase(it->second.begin());
      return resp;
    };
  }

  Harness h;
  std::string dir;
  std::map<std::string, std::vector<HttpsResponse>> routes;
};

}  // namespace vbs::cli::testing
