// HttpServer against real peers: curl, raw TLS sockets (garbage, idle, keep-alive).

// GCC 12 reports a false -Wmaybe-uninitialized inside Beast's parser (boost::optional) at -O2
// with sanitizers; it is not ours to fix and -Werror would turn it into a build failure.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "api/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/test_pki.h"

namespace vbs {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Echoes what the handler saw, as JSON.
HttpResponse Echo(const HttpRequest& r) {
  json q = json::object();
  for (auto& [k, v] : r.query) q[k] = v;
  json j{{"method", r.method},
         {"path", r.path},
         {"target", r.target},
         {"query", q},
         {"body_size", r.body.size()},
         {"content_type", r.Header("content-type")},
         {"present", r.peer.present},
         {"verified", r.peer.verified},
         {"verify_error", r.peer.verify_error},
         {"remote", r.remote_address}};
  if (r.peer.identity) {
    j["cn"] = r.peer.identity->common_name;
    j["role"] = RoleName(r.peer.identity->role);
  }
  HttpResponse resp{200, "application/json", j.dump(), {{"X-Echo", "1"}}};
  resp.authenticated = true;  // as an API does for a caller it authenticated: keep-alive
  return resp;
}

struct CurlResult {
  int exit_code = -1;
  int http_status = 0;
  std::string body;
};

// Runs curl; `args` are extra arguments (already shell-safe: test paths only).
CurlResult Curl(const std::string& args) {
  std::string cmd = "curl -sS --max-time 20 -o - -w '\\n%{http_code}' " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  CurlResult r;
  if (!p) return r;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  auto nl = out.rfind('\n');
  if (nl != std::string::npos) {
    r.http_status = std::atoi(out.c_str() + nl + 1);
    r.body = out.substr(0, nl);
  }
  return r;
}

// A raw TLS connection (no certificate verification: it tests the server, not TLS trust).
class RawTls {
 public:
  explicit RawTls(uint16_t port, const std::string& cert = "", const std::string& key = "",
                  const std::string& source = "", bool handshake = true)
      : ctx_(ssl::context::tls_client) {
    if (!cert.empty()) {
      ctx_.use_certificate_chain_file(cert);
      ctx_.use_private_key_file(key, ssl::context::pem);
    }
    stream_ = std::make_unique<ssl::stream<tcp::socket>>(ioc_, ctx_);
    if (!source.empty()) {  // another loopback address: another peer to the server
      stream_->next_layer().open(tcp::v4());
      stream_->next_layer().bind({asio::ip::make_address(source), 0}, error_code_);
    }
    if (!error_code_) {
      stream_->next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, error_code_);
    }
    if (!error_code_ && handshake) stream_->handshake(ssl::stream_base::client, error_code_);
  }
  // A plain TCP connection from `source` that never starts TLS.
  static std::unique_ptr<RawTls> Idle(uint16_t port, const std::string& source) {
    return std::make_unique<RawTls>(port, "", "", source, /*handshake=*/false);
  }
  // True when the server has closed the connection (a read sees EOF or a reset) within `wait`.
  bool ClosedWithin(std::chrono::milliseconds wait) {
    auto& s = stream_->next_layer();
    s.non_blocking(true);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    char buf[4096];  // what TLS left unread (session tickets, alerts) is drained on the way
    do {
      boost::system::error_code ec;
      s.read_some(asio::buffer(buf), ec);
      if (ec && ec != asio::error::would_block) return true;
      if (ec) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }
  RawTls(const RawTls&) = delete;
  bool ok() const { return !error_code_; }
  void Write(const std::string& data) {
    boost::system::error_code ec;
    asio::write(*stream_, asio::buffer(data), ec);
  }
  // Reads until the server closes (or an error); returns what arrived.
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    boost::system::error_code ec;
    for (;;) {
      size_t n = stream_->read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }
  http::response<http::string_body> Request(const std::string& target) {
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(*stream_, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(*stream_, buf, res);
    return res;
  }
  tcp::socket& socket() { return stream_->next_layer(); }

 private:
  asio::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<ssl::stream<tcp::socket>> stream_;
  boost::system::error_code error_code_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pki_.Init()); }

  void StartServer(HttpServerOptions o = {}, HttpHandler h = Echo) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.cert_file = pki_.Path("server.crt");
    o.key_file = pki_.Path("server.key");
    o.ca_file = pki_.Path("ca.crt");
    auto s = HttpServer::Start(o, std::move(h));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    ASSERT_NE(server_->port(), 0);
  }
  std::string Url(const std::string& target) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + target;
  }
  std::string Trust() const { return "--cacert " + pki_.Path("ca.crt") + " "; }
  std::string As(const std::string& who) const {
    return "--cert " + pki_.Path(who + ".crt") + " --key " + pki_.Path(who + ".key") + " ";
  }

  TestPki pki_;
  std::unique_ptr<HttpServer> server_;
};

TEST(PercentDecode, DecodesAndRejects) {
  EXPECT_EQ(*PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_EQ(*PercentDecode("%e2%82%AC", false), "\xe2\x82\xac");
  for (const char* bad : {"%", "%4", "%zz", "abc%", "%G0", "a%00b"}) {
    EXPECT_FALSE(PercentDecode(bad, false).ok()) << bad;
  }
}

TEST(ParseQuery, SplitsAndDecodes) {
  auto q = ParseQuery("a=1&b=x+y&a=2&&empty=&flag&k%3D=v%26");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->count("a"), 2u);
  EXPECT_EQ(q->find("b")->second, "x y");
  EXPECT_EQ(q->find("empty")->second, "");
  EXPECT_EQ(q->find("flag")->second, "");
  EXPECT_EQ(q->find("k=")->second, "v&");
  EXPECT_TRUE(ParseQuery("")->empty());
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
}

TEST_F(HttpServerTest, CurlWithUserCertIsVerified) {
  StartServer();
  auto r = Curl(Trust() + As("alice") + "'" + Url("/v1/a%20b?x=1&y=hello+world") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.body;
  ASSERT_EQ(r.http_status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["method"], "GET");
  EXPECT_EQ(j["path"], "/v1/a b");
  EXPECT_EQ(j["target"], "/v1/a%20b?x=1&y=hello+world");
  EXPECT_EQ(j["query"]["y"], "hello world");
  EXPECT_EQ(j["present"], true);
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["cn"], "alice");
  EXPECT_EQ(j["role"], "user");
  EXPECT_EQ(j["remote"], "127.0.0.1");
}

TEST_F(HttpServerTest, CurlWithoutCertIsAnonymous) {
  StartServer();
  auto r = Curl(Trust() + Url("/x"));
  ASSERT_EQ(r.http_status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["present"], false);
  EXPECT_EQ(j["verified"], false);
  EXPECT_FALSE(j.contains("cn"));
}

TEST_F(HttpServerTest, ForeignCertIsPresentButNotVerified) {
  StartServer();
  auto r = Curl(Trust() + As("mallory") + Url("/x"));
  ASSERT_EQ(r.http_status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["present"], true);
  EXPECT_EQ(j["verified"], false);
  EXPECT_NE(j["verify_error"], "");
  EXPECT_FALSE(j.contains("cn"));
}

TEST_F(HttpServerTest, ClientNotTrustingServerFails) {
  StartServer();
  auto r = Curl("--cacert " + pki_.Path("other_ca.crt") + " " + As("alice") + Url("/x"));
  EXPECT_EQ(r.exit_code, 60);  // peer certificate cannot be authenticated
}

TEST_F(HttpServerTest, PostBodyAndLimit) {
  std::atomic<int> calls{0};
  HttpServerOptions o;
  o.max_body_bytes = 3 << 20;
  StartServer(o, [&](const HttpRequest& r) {
    ++calls;
    return Echo(r);
  });
  std::string big = pki_.Path("big.bin");
  ASSERT_TRUE(WriteFileAtomic(big, std::string(2 << 20, 'x'), 0644).ok());
  // curl sends "Expect: 100-continue" for a body this large.
  auto r = Curl(Trust() + As("alice") + "-H 'Content-Type: application/octet-stream' " +
                "--data-binary @" + big + " " + Url("/up"));
  ASSERT_EQ(r.http_status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["body_size"], 2 << 20);
  EXPECT_EQ(j["content_type"], "application/octet-stream");
  EXPECT_EQ(calls, 1);

  ASSERT_TRUE(WriteFileAtomic(big, std::string(4 << 20, 'x'), 0644).ok());
  r = Curl(Trust() + As("alice") + "--data-binary @" + big + " " + Url("/up"));
  EXPECT_EQ(r.http_status, 413);
  j = json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "RequestTooLarge");
  EXPECT_EQ(calls, 1);

  // Chunked body over the limit (no Content-Length to reject up front).
  r = Curl(Trust() + As("alice") + "-H 'Transfer-Encoding: chunked' --data-binary @" + big + " " +
           Url("/up"));
  EXPECT_EQ(r.http_status, 413);
  EXPECT_EQ(calls, 1);
}

TEST_F(HttpServerTest, GarbageGets400AndClose) {
  int calls = 0;
  StartServer({}, [&](const HttpRequest& r) {
    ++calls;
    return Echo(r);
  });
  RawTls raw(server_->port());
  ASSERT_TRUE(raw.ok());
  raw.Write("THIS IS NOT HTTP\r\n\r\n");
  std::string out = raw.ReadAll();
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_NE(out.find("\"error\""), std::string::npos);
  EXPECT_EQ(calls, 0);

  RawTls raw2(server_->port());
  raw2.Write("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  out = raw2.ReadAll();
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_EQ(calls, 0);
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  RawTls raw(server_->port(), pki_.Path("alice.crt"), pki_.Path("alice.key"));
  ASSERT_TRUE(raw.ok());
  for (int i = 0; i < 3; ++i) {
    auto res = raw.Request("/n/" + std::to_string(i));
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res[http::field::connection], "");
    json j = json::parse(res.body());
    EXPECT_EQ(j["path"], "/n/" + std::to_string(i));
    EXPECT_EQ(j["cn"], "alice");
    EXPECT_EQ(res["X-Echo"], "1");
  }
}

TEST_F(HttpServerTest, HandlerCannotBreakFraming) {
  StartServer({}, [](const HttpRequest&) {
    return HttpResponse{201,
                        "text/plain",
                        "hello",
                        {{"Content-Length", "999"},
                         {"X-Split", "a\r\nEvil: 1"},
                         {"Connection", "close"},
                         {"X-Fine", "ok"}},
                        /*authenticated=*/true};
  });
  RawTls raw(server_->port());
  ASSERT_TRUE(raw.ok());
  for (int i = 0; i < 2; ++i) {  // still keep-alive: the handler's "Connection" is ignored
    auto res = raw.Request("/");
    EXPECT_EQ(res.result_int(), 201);
    EXPECT_EQ(res.body(), "hello");
    EXPECT_EQ(res["Evil"], "");
    EXPECT_EQ(res["X-Split"], "");
    EXPECT_EQ(res["X-Fine"], "ok");
  }
}

TEST_F(HttpServerTest, IdleConnectionIsClosed) {
  HttpServerOptions o;
  o.idle_timeout_seconds = 1;
  o.first_request_timeout_seconds = 1;
  StartServer(o);
  RawTls raw(server_->port());
  ASSERT_TRUE(raw.ok());
  auto start = Clock::now();
  raw.ReadAll();  // returns when the server gives up on us
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));

  // A client that stalls halfway through a request is cut off too.
  RawTls slow(server_->port());
  slow.Write("GET / HTTP/1.1\r\nHost:");
  start = Clock::now();
  slow.ReadAll();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(HttpServerTest, AnUnauthenticatedAnswerClosesTheConnection) {
  StartServer({}, [](const HttpRequest& r) {
    HttpResponse resp{401, "application/json", "{}", {}};
    resp.authenticated = r.path == "/ok";
    if (resp.authenticated) resp.status = 200;
    return resp;
  });
  RawTls raw(server_->port());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.Request("/ok").result_int(), 200);
  EXPECT_EQ(raw.Request("/ok").result_int(), 200) << "authenticated: kept alive";
  EXPECT_EQ(raw.Request("/fail").result_int(), 401);
  EXPECT_TRUE(raw.ClosedWithin(std::chrono::seconds(5))) << "closed after the 401";
}

TEST_F(HttpServerTest, UnauthenticatedConnectionsAreBoundedPerPeerAndInTotal) {
  HttpServerOptions o;
  o.max_unauthenticated_per_peer = 3;
  o.max_unauthenticated = 5;
  StartServer(o);
  std::vector<std::unique_ptr<RawTls>> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(RawTls::Idle(server_->port(), "127.0.0.2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto& c : idle) EXPECT_FALSE(c->ClosedWithin(std::chrono::milliseconds(50)));
  auto fourth = RawTls::Idle(server_->port(), "127.0.0.2");
  EXPECT_TRUE(fourth->ClosedWithin(std::chrono::seconds(5))) << "over the per-peer limit";
  // Another address still gets in, up to the total.
  auto other1 = RawTls::Idle(server_->port(), "127.0.0.3");
  auto other2 = RawTls::Idle(server_->port(), "127.0.0.3");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(other2->ClosedWithin(std::chrono::milliseconds(50)));
  auto over_total = RawTls::Idle(server_->port(), "127.0.0.4");
  EXPECT_TRUE(over_total->ClosedWithin(std::chrono::seconds(5))) << "over the total limit";
  // Authenticated connections do not count: free one slot, authenticate on it, and the
  // unauthenticated slots it held are free for others.
  idle.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawTls authed(server_->port(), "", "", "127.0.0.4");
  ASSERT_TRUE(authed.ok());
  EXPECT_EQ(authed.Request("/").result_int(), 200);
  auto after = RawTls::Idle(server_->port(), "127.0.0.4");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(after->ClosedWithin(std::chrono::milliseconds(50)));
  EXPECT_EQ(authed.Request("/").result_int(), 200);
}

TEST_F(HttpServerTest, AgentsHoldAtMostTheirShareOfConnections) {
  HttpServerOptions o;
  o.max_node_connections = 2;
  StartServer(o);
  auto node = [&] {
    return std::make_unique<RawTls>(server_->port(), pki_.Path("node1.crt"),
                                    pki_.Path("node1.key"));
  };
  auto n1 = node(), n2 = node();
  ASSERT_TRUE(n1->ok() && n2->ok());
  EXPECT_EQ(n1->Request("/poll").result_int(), 200);
  EXPECT_EQ(n2->Request("/poll").result_int(), 200);
  auto n3 = node();
  ASSERT_TRUE(n3->ok());
  auto refused = n3->Request("/poll");
  EXPECT_EQ(refused.result_int(), 503);
  EXPECT_NE(refused.body().find("TooManyAgentConnections"), std::string::npos) << refused.body();
  EXPECT_TRUE(n3->ClosedWithin(std::chrono::seconds(5)));
  // Users are served meanwhile, and the agents' connections stay.
  RawTls user(server_->port(), pki_.Path("alice.crt"), pki_.Path("alice.key"));
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user.Request("/").result_int(), 200);
  EXPECT_EQ(n1->Request("/poll").result_int(), 200);
  // A closed agent connection frees its slot.
  n2.reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int got = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto n4 = node();
    got = n4->Request("/poll").result_int();
    if (got == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(got, 200);
}

TEST_F(HttpServerTest, TheFirstRequestHasADeadlineAuthenticatedOnesTheIdleTimeout) {
  HttpServerOptions o;
  o.first_request_timeout_seconds = 1;
  o.idle_timeout_seconds = 60;
  StartServer(o);
  auto silent = RawTls::Idle(server_->port(), "127.0.0.2");
  RawTls trickle(server_->port());
  ASSERT_TRUE(trickle.ok());
  RawTls authed(server_->port());
  ASSERT_TRUE(authed.ok());
  EXPECT_EQ(authed.Request("/").result_int(), 200);
  // A byte at a time does not extend the deadline.
  for (int i = 0; i < 5; ++i) {
    trickle.Write("G");
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  EXPECT_TRUE(silent->ClosedWithin(std::chrono::seconds(5)));
  EXPECT_TRUE(trickle.ClosedWithin(std::chrono::seconds(5)));
  EXPECT_EQ(authed.Request("/").result_int(), 200) << "an authenticated connection stays";
}

TEST_F(HttpServerTest, ConnectionLimit) {
  HttpServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  RawTls a(server_->port()), b(server_->port());
  ASSERT_TRUE(a.ok() && b.ok());
  RawTls c(server_->port());  // accepted at TCP level, then closed
  EXPECT_FALSE(c.ok());
  // Freed slots are reused.
  a.socket().close();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  RawTls d(server_->port());
  EXPECT_TRUE(d.ok());
}

TEST_F(HttpServerTest, StopIsPromptWithIdleClientAndBusyHandler) {
  auto release = std::make_shared<std::promise<void>>();
  auto released = release->get_future().share();
  std::atomic<bool> entered{false};
  HttpServerOptions o;
  o.stop_grace_ms = 300;
  StartServer(o, [&entered, released](const HttpRequest& r) {
    entered = true;
    if (r.path == "/block") released.wait_for(std::chrono::seconds(30));
    return HttpResponse{200, "text/plain", "done", {}};
  });
  RawTls idle(server_->port());
  ASSERT_TRUE(idle.ok());
  auto busy = std::async(std::launch::async, [this] { return Curl(Trust() + Url("/block")); });
  while (!entered) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_NE(busy.get().http_status, 200);  // its connection was closed under it
  release->set_value();
  // The port is closed now.
  RawTls after(server_->port());
  EXPECT_FALSE(after.ok());
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, StartFailsClearly) {
  HttpServerOptions o;
  o.port = 0;
  o.cert_file = pki_.Path("missing.crt");
  o.key_file = pki_.Path("server.key");
  EXPECT_FALSE(HttpServer::Start(o, Echo).ok());
  o.cert_file = pki_.Path("server.crt");
  o.key_file = pki_.Path("alice.key");
  EXPECT_FALSE(HttpServer::Start(o, Echo).ok());
}

}  // namespace
}  // namespace vbs
