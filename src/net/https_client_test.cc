// HttpsClient against the real HttpServer and a PKI from auth/ (linked for this test only).
#include "net/https_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/http_server.h"
#include "api/test_pki.h"

namespace vbs {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

HttpResponse Echo(const HttpRequest& r) {
  json j{{"method", r.method},
         {"path", r.path},
         {"body", r.body},
         {"content_type", r.Header("content-type")},
         {"x_test", r.Header("x-test")},
         {"present", r.peer.present},
         {"verified", r.peer.verified},
         {"verify_error", r.peer.verify_error}};
  if (r.peer.identity) {
    j["cn"] = r.peer.identity->common_name;
    j["role"] = RoleName(r.peer.identity->role);
  }
  // Marked authenticated, as an API does for callers it knows: the server keeps the
  // connection alive for the next request (api/http_server.h).
  if (r.path == "/status/404") return HttpResponse{404, "application/json", "{}", {}, true};
  if (r.path == "/sleep") std::this_thread::sleep_for(2s);
  return HttpResponse{200, "application/json", j.dump(), {{"X-Reply", "yes"}}, true};
}

// A TCP port with nothing listening (bound then closed).
uint16_t ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// TCP sockets (either end, any state but LISTEN) on 127.0.0.1:`port`, from /proc/net/tcp.
int CountConnections(uint16_t port) {
  FILE* f = fopen("/proc/net/tcp", "r");
  if (!f) return -1;
  char line[512];
  int n = 0;
  fgets(line, sizeof line, f);  // header
  while (fgets(line, sizeof line, f)) {
    unsigned local_port, remote_port, state;
    if (sscanf(line, " %*d: %*8X:%X %*8X:%X %X", &local_port, &remote_port, &state) != 3) continue;
    if (state != 0x0A && (local_port == port || remote_port == port)) ++n;
  }
  fclose(f);
  return n;
}

// A listening socket that never accepts: connects succeed (backlog), TLS never starts.
class BlackHole {
 public:
  BlackHole() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 16);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~BlackHole() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
};

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.Init());
    StartServer();
  }
  void StartServer(int idle_timeout_seconds = 120) {
    HttpServerOptions o;
    o.port = 0;
    o.cert_file = pki_.Path("server.crt");
    o.key_file = pki_.Path("server.key");
    o.ca_file = pki_.Path("ca.crt");
    o.max_body_bytes = 1024;
    o.idle_timeout_seconds = idle_timeout_seconds;
    auto s = HttpServer::Start(o, [this](const HttpRequest& r) {
      ++requests_;
      return Echo(r);
    });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }
  std::string Endpoint(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(server_->port());
  }
  HttpsClientOptions Options(const std::string& who = "alice") const {
    HttpsClientOptions o;
    o.endpoints = {Endpoint()};
    o.ca_file = pki_.Path("ca.crt");
    if (!who.empty()) {
      o.cert_file = pki_.Path(who + ".crt");
      o.key_file = pki_.Path(who + ".key");
    }
    return o;
  }
  std::unique_ptr<HttpsClient> Make(const HttpsClientOptions& o) {
    auto c = HttpsClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  TestPki pki_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> requests_{0};
};

TEST(ParseHttpsEndpoint, Forms) {
  auto e = ParseHttpsEndpoint("https://127.0.0.1:8443");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8443);
  EXPECT_TRUE(e->is_ip);
  e = ParseHttpsEndpoint("https://vbs.example.org/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "vbs.example.org");
  EXPECT_EQ(e->port, 443);
  EXPECT_FALSE(e->is_ip);
  e = ParseHttpsEndpoint("HTTPS://[::1]:9000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 9000);
  EXPECT_TRUE(e->is_ip);
  for (const char* bad : {"http://127.0.0.1:80", "127.0.0.1:8443", "ftp://x", "https://",
                          "https://:443", "https://h:", "https://h:0", "https://h:65536",
                          "https://h:12a", "https://[::1", "https://[nope]:1", "https://[::1]x",
                          "https://u@h:1", "https://h:1/path", "https://::1:8443"}) {
    auto r = ParseHttpsEndpoint(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().kind(), StatusKind::kInvalidArgument) << bad;
    }
  }
}

TEST_F(HttpsClientTest, CreateRejectsBadOptions) {
  HttpsClientOptions o = Options();
  o.endpoints = {};
  EXPECT_FALSE(HttpsClient::Create(o).ok());
  o.endpoints = {"http://127.0.0.1:1"};
  EXPECT_EQ(HttpsClient::Create(o).status().kind(), StatusKind::kInvalidArgument);
  o = Options();
  o.key_file = "";
  EXPECT_FALSE(HttpsClient::Create(o).ok());
  o = Options();
  o.ca_file = pki_.Path("nope.crt");
  EXPECT_FALSE(HttpsClient::Create(o).ok());
}

TEST_F(HttpsClientTest, UserCertIsVerifiedByServer) {
  auto c = Make(Options("alice"));
  ASSERT_TRUE(c);
  auto r = c->Request("POST", "/v1/volumes?x=1", R"({"size":1})", "application/json", 10s,
                      {{"X-Test", "t1"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["x-reply"], "yes");
  json j = json::parse(r->body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/v1/volumes");
  EXPECT_EQ(j["body"], R"({"size":1})");
  EXPECT_EQ(j["content_type"], "application/json");
  EXPECT_EQ(j["x_test"], "t1");
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["cn"], "alice");
  EXPECT_EQ(j["role"], "user");

  auto admin = Make(Options("root"));
  r = admin->Request("GET", "/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::parse(r->body)["role"], "admin");
}

TEST_F(HttpsClientTest, AnonymousAndForeignCerts) {
  auto anon = Make(Options(""));
  auto r = anon->Request("GET", "/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(json::parse(r->body)["present"], false);

  auto foreign = Make(Options("mallory"));
  r = foreign->Request("GET", "/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  json j = json::parse(r->body);
  EXPECT_EQ(j["present"], true);
  EXPECT_EQ(j["verified"], false);
  EXPECT_NE(j["verify_error"], "");
  EXPECT_FALSE(j.contains("cn"));
}

TEST_F(HttpsClientTest, HttpErrorIsAnAnswer) {
  auto c = Make(Options());
  auto r = c->Request("GET", "/status/404");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  r = c->Request("POST", "/big", std::string(4096, 'x'));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "RequestTooLarge");
  // A body far over the limit: the server answers before reading it, and the client still
  // gets that answer rather than a failed send.
  r = c->Request("POST", "/big", std::string(8 << 20, 'x'));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  // The server closed after 413; the client reconnects transparently.
  r = c->Request("GET", "/after");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpsClientTest, UntrustedServerFails) {
  HttpsClientOptions o = Options();
  o.ca_file = pki_.Path("other_ca.crt");
  auto c = Make(o);
  auto r = c->Request("GET", "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kUnavailable);
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos) << r.status().message();
  EXPECT_EQ(requests_, 0);
}

TEST_F(HttpsClientTest, HostnameIsChecked) {
  // By name: the server certificate lists localhost (which may resolve to ::1 first; the
  // server listens on 127.0.0.1 only, and the client tries every address).
  HttpsClientOptions o = Options();
  o.endpoints = {Endpoint("localhost")};
  auto r = Make(o)->Request("GET", "/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  // A second server whose certificate names neither 127.0.0.1 nor localhost.
  auto ca = CertificateAuthority::Load(pki_.Path("ca.crt"), pki_.Path("ca.key"));
  ASSERT_TRUE(ca.ok());
  auto other = ca->Issue("elsewhere", CertRole::kServer, {"elsewhere.example", "10.9.9.9"});
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(WriteFileAtomic(pki_.Path("else.crt"), other->cert_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(pki_.Path("else.key"), other->key_pem, 0600).ok());
  HttpServerOptions so;
  so.port = 0;
  so.cert_file = pki_.Path("else.crt");
  so.key_file = pki_.Path("else.key");
  so.ca_file = pki_.Path("ca.crt");
  auto s2 = HttpServer::Start(so, Echo);
  ASSERT_TRUE(s2.ok());
  o.endpoints = {"https://127.0.0.1:" + std::to_string((*s2)->port())};
  r = Make(o)->Request("GET", "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mismatch"), std::string::npos) << r.status().message();
  o.endpoints = {"https://localhost:" + std::to_string((*s2)->port())};
  r = Make(o)->Request("GET", "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mismatch"), std::string::npos) << r.status().message();
}

TEST_F(HttpsClientTest, KeepAliveReusesAndRecoversFromServerClose) {
  server_->Stop();
  StartServer(/*idle_timeout_seconds=*/1);
  auto c = Make(Options());
  for (int i = 0; i < 5; ++i) {
    auto r = c->Request("GET", "/k");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // One connection, seen from both ends; a new connection per call would leave more behind.
  EXPECT_EQ(CountConnections(server_->port()), 2);
  // The server drops the idle keep-alive connection; the next call reconnects once.
  std::this_thread::sleep_for(2500ms);
  auto r = c->Request("POST", "/after-idle", "{}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(json::parse(r->body)["path"], "/after-idle");
  EXPECT_EQ(requests_, 6);  // the retried POST reached the handler exactly once
}

TEST_F(HttpsClientTest, FailsOverToNextEndpoint) {
  HttpsClientOptions o = Options();
  BlackHole hole;
  o.endpoints = {"https://127.0.0.1:" + std::to_string(ClosedPort()),
                 "https://127.0.0.1:" + std::to_string(hole.port()), Endpoint()};
  o.connect_timeout = 500ms;
  auto c = Make(o);
  auto start = Clock::now();
  auto r = c->Request("GET", "/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(Clock::now() - start, 5s);
  // Sticky: the next call goes straight to the endpoint that answered.
  start = Clock::now();
  r = c->Request("GET", "/y");
  ASSERT_TRUE(r.ok());
  EXPECT_LT(Clock::now() - start, 400ms);
}

TEST_F(HttpsClientTest, NoEndpointAnswers) {
  HttpsClientOptions o = Options();
  BlackHole hole;
  o.endpoints = {"https://127.0.0.1:" + std::to_string(ClosedPort()),
                 "https://127.0.0.1:" + std::to_string(hole.port())};
  o.connect_timeout = 300ms;
  auto c = Make(o);
  auto start = Clock::now();
  auto r = c->Request("GET", "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kUnavailable);
  EXPECT_LT(Clock::now() - start, 3s);
}

TEST_F(HttpsClientTest, TimeoutBoundsTheExchange) {
  auto c = Make(Options());
  auto start = Clock::now();
  auto r = c->Request("GET", "/sleep", "", "application/json", 500ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  EXPECT_LT(Clock::now() - start, 1500ms);
  // Usable afterwards (on a new connection).
  r = c->Request("GET", "/x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(HttpsClientTest, RejectsBadRequestArguments) {
  auto c = Make(Options());
  EXPECT_FALSE(c->Request("GE T", "/x").ok());
  EXPECT_FALSE(c->Request("GET", "x").ok());
  EXPECT_FALSE(c->Request("GET", "/x\r\nEvil: 1").ok());
  EXPECT_FALSE(c->Request("GET", "/x", "", "", 1s, {{"X-A", "v\r\nEvil: 1"}}).ok());
  EXPECT_EQ(requests_, 0);
}

}  // namespace
}  // namespace vbs
