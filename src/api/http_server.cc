// HttpServer over Boost.Beast. The only translation unit of vbs_api that includes Beast.
//
// Threading: one acceptor thread runs an io_context with the listening socket. Each accepted
// connection gets its own io_context and thread; that thread drives the connection's async
// operations one at a time (RunOp below), which gives plain sequential code with Beast's
// per-operation expiry as the timeout, and lets Stop() interrupt any wait by posting a close
// to the connection's io_context.

// GCC 12 reports a false -Wmaybe-uninitialized inside Beast's parser (boost::optional) at -O2
// with sanitizers; it is not ours to fix and -Werror would turn it into a build failure.
// (clang has no such warning, and -Werror refuses the unknown name.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "api/http_server.h"

namespace vbs {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Stream = ssl::stream<beast::tcp_stream>;

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr auto kShutdownTimeout = std::chrono::seconds(2);

std::string ErrorBody(const std::string& code, const std::string& message) {
  return nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

struct Shared {
  HttpServerOptions options;
  HttpHandler handler;
  ssl::context tls{ssl::context::tls_server};
  std::atomic<bool> stopping{false};
  // Guards the server's connection registry and Conn::done; lives here (not in Server) because
  // detached connection threads may still signal after the Server object is gone.
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> node_connections{0};  // open connections with a verified node certificate
};

struct Conn {
  asio::io_context ioc;
  std::optional<Stream> stream;
  std::thread thread;
  std::atomic<bool> done{false};
  std::atomic<bool> authenticated{false};  // a response was marked authenticated
  // A whole request has arrived: the connection no longer counts against the limits of
  // unauthenticated ones (it is being answered, and closed unless it authenticates).
  std::atomic<bool> delivered{false};
  long first_verify_error = X509_V_OK;  // written by the verify callback on this thread
  std::string remote_address;
  // A dup of the socket, so Stop() can shutdown(2) a connection whose thread is busy in the
  // handler without racing that thread's use (or close and fd reuse) of the socket itself.
  int shutdown_fd = -1;

  Conn() = default;
  Conn(const Conn&) = delete;
  ~Conn() {
    if (shutdown_fd >= 0) ::close(shutdown_fd);
  }
};

// Runs one async operation to completion on the connection's own io_context, with `timeout`
// as Beast's expiry for the socket. Returns its error (beast::error::timeout on expiry).
template <typename Start>
error_code RunOp(Conn& c, std::chrono::steady_clock::duration timeout, Start start) {
  error_code result;
  bool finished = false;
  beast::get_lowest_layer(*c.stream).expires_after(timeout);
  start([&](error_code ec, auto&&...) {
    result = ec;
    finished = true;
  });
  while (!finished) {
    if (c.ioc.stopped()) c.ioc.restart();
    c.ioc.run_one();
  }
  beast::get_lowest_layer(*c.stream).expires_never();
  return result;
}

PeerCert ReadPeer(Conn& c) {
  PeerCert peer;
  SSL* ssl = c.stream->native_handle();
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return peer;
  peer.present = true;
  long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) result = c.first_verify_error;
  if (result != X509_V_OK) {
    peer.verify_error = X509_verify_cert_error_string(result);
    return peer;
  }
  Result<CertIdentity> id = IdentityFromX509(cert);
  if (!id.ok()) {
    peer.verify_error = id.status().message();
    return peer;
  }
  peer.verified = true;
  peer.identity = *id;
  return peer;
}

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more;
}

using Response = http::response<http::string_body>;

Response MakeResponse(const HttpResponse& r, unsigned version, bool keep_alive) {
  Response res;
  res.version(version);
  int status = r.status;
  if (status < 100 || status > 599) status = 500;  // a handler bug, not a wire-level crash
  res.result(static_cast<unsigned>(status));
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) {
    // Framing is ours to set; CR/LF would let a value smuggle in headers or a second response.
    if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding") ||
        beast::iequals(name, "connection") || name.empty() ||
        (name + value).find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    res.insert(name, value);
  }
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

Response ErrorResponse(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = ErrorBody(code, message);
  return MakeResponse(r, 11, false);
}

// Builds the handler's view of a request; a non-OK status means 400.
Status BuildRequest(http::request<http::string_body>& req, Conn& c, const PeerCert& peer,
                    HttpRequest* out) {
  out->method = std::string(req.method_string());
  out->target = std::string(req.target());
  if (out->target.empty() || out->target[0] != '/') {
    return Status::InvalidArgument("InvalidRequest", "request target must start with '/'");
  }
  size_t q = out->target.find('?');
  std::string raw_path = out->target.substr(0, q);
  VBS_ASSIGN_OR_RETURN(out->path, PercentDecode(raw_path, false));
  if (q != std::string::npos) {
    VBS_ASSIGN_OR_RETURN(out->query, ParseQuery(out->target.substr(q + 1)));
  }
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    std::string value(field.value());
    auto [it, inserted] = out->headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;  // RFC 9110 §5.3 combination
  }
  out->body = std::move(req.body());
  out->peer = peer;
  out->remote_address = c.remote_address;
  return Status::Ok();
}

// Reads and discards what the client is still sending (the rest of a refused body), bounded in
// time and bytes. Closing with unread data would make the kernel send a reset, which can
// destroy our error response before the client has read it (it is still busy writing).
void Drain(Conn& c) {
  constexpr size_t kMaxDrainBytes = 64u << 20;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<char> scratch(64 * 1024);
  size_t total = 0;
  while (total < kMaxDrainBytes) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    size_t got = 0;
    error_code ec = RunOp(c, left, [&](auto h) {
      c.stream->async_read_some(asio::buffer(scratch),
                                [&got, h = std::move(h)](error_code e, size_t n) mutable {
                                  got = n;
                                  h(e);
                                });
    });
    total += got;
    if (ec) break;
  }
}

void Serve(Shared& sh, Conn& c) {
  const auto idle = std::chrono::seconds(std::max(1, sh.options.idle_timeout_seconds));
  // Until the caller is authenticated, everything (handshake, the first request's header and
  // body) must arrive by one deadline: a client trickling bytes cannot extend it.
  const auto first_deadline =
      std::chrono::steady_clock::now() +
      std::chrono::seconds(std::max(1, sh.options.first_request_timeout_seconds));
  auto budget = [&]() -> std::chrono::steady_clock::duration {
    if (c.authenticated) return idle;
    return std::max<std::chrono::steady_clock::duration>(
        first_deadline - std::chrono::steady_clock::now(), std::chrono::milliseconds(1));
  };
  Stream& s = *c.stream;

  // Accept any client certificate at the TLS layer but remember the first problem, so the
  // API can answer 401 with a reason instead of the client seeing a bare handshake failure.
  error_code ec;
  s.set_verify_callback(
      [&c](bool preverified, ssl::verify_context& ctx) {
        if (!preverified && c.first_verify_error == X509_V_OK) {
          c.first_verify_error = X509_STORE_CTX_get_error(ctx.native_handle());
        }
        return true;
      },
      ec);
  if (ec || sh.stopping) return;
  ec = RunOp(c, budget(),
             [&](auto h) { s.async_handshake(ssl::stream_base::server, std::move(h)); });
  if (ec) return;  // port scanners, plain-HTTP clients, clients that distrust us: nothing to say
  const PeerCert peer = ReadPeer(c);
  // Agents' connections count against their own limit for as long as they are open.
  const bool node = peer.identity && peer.identity->role == CertRole::kNode;
  bool too_many_nodes = false;
  if (node) too_many_nodes = sh.node_connections.fetch_add(1) >= sh.options.max_node_connections;
  struct NodeSlot {
    Shared& sh;
    bool held;
    ~NodeSlot() {
      if (held) sh.node_connections.fetch_sub(1);
    }
  } node_slot{sh, node};

  beast::flat_buffer buffer;
  bool close = false;
  while (!close && !sh.stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(sh.options.max_body_bytes);
    std::optional<Response> reply;
    bool unread_body = false;

    ec = RunOp(c, budget(),
               [&](auto h) { http::async_read_header(s, buffer, parser, std::move(h)); });
    if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue") &&
        !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      ec = RunOp(c, budget(), [&](auto h) { http::async_write(s, cont, std::move(h)); });
    }
    if (!ec && !parser.is_done()) {
      ec = RunOp(c, budget(), [&](auto h) { http::async_read(s, buffer, parser, std::move(h)); });
    }
    if (ec == http::error::body_limit) {
      unread_body = true;
      reply = ErrorResponse(
          413, "RequestTooLarge",
          "request body exceeds " + std::to_string(sh.options.max_body_bytes) + " bytes");
    } else if (ec && IsHttpParseError(ec)) {
      reply = ErrorResponse(400, "MalformedRequest", "malformed HTTP request: " + ec.message());
    } else if (ec) {
      break;  // closed, reset, timed out, or stopped: nobody to answer
    } else {
      c.delivered = true;
      auto& req = parser.get();
      HttpRequest request;
      Status built = BuildRequest(req, c, peer, &request);
      if (!built.ok()) {
        reply = ErrorResponse(400, built.code(), built.message());
      } else if (too_many_nodes) {
        reply =
            ErrorResponse(503, "TooManyAgentConnections",
                          "the server holds " + std::to_string(sh.options.max_node_connections) +
                              " agent connections already; try again later");
      } else {
        HttpResponse response;
        try {
          response = sh.handler(request);
        } catch (const std::exception& e) {
          spdlog::error("http: handler threw for {} {}: {}", request.method, request.path,
                        e.what());
          response = HttpResponse{
              500, "application/json", ErrorBody("InternalError", "internal error"), {}};
        } catch (...) {
          response = HttpResponse{
              500, "application/json", ErrorBody("InternalError", "internal error"), {}};
        }
        if (response.authenticated) c.authenticated = true;
        // An unauthenticated answer (a failed authentication) ends the connection.
        reply = MakeResponse(response, req.version(), req.keep_alive() && response.authenticated);
      }
    }
    close = !reply->keep_alive();
    ec = RunOp(c, idle, [&](auto h) { http::async_write(s, *reply, std::move(h)); });
    if (ec) break;
    if (unread_body) Drain(c);
  }
  if (!sh.stopping) {
    // Best effort close_notify; a peer that does not answer costs at most kShutdownTimeout.
    RunOp(c, kShutdownTimeout, [&](auto h) { s.async_shutdown(std::move(h)); });
  }
}

class Server final : public HttpServer {
 public:
  Server(std::shared_ptr<Shared> shared) : sh_(std::move(shared)) {}
  ~Server() override { Stop(); }

  Status Listen() {
    const auto& o = sh_->options;
    error_code ec;
    tcp::resolver resolver(accept_ioc_);
    auto results = resolver.resolve(o.host, std::to_string(o.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument(
          "InvalidParameterValue", "cannot resolve listen host '" + o.host + "': " + ec.message());
    }
    tcp::endpoint ep = results.begin()->endpoint();
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::IoError("listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                             ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    Accept();
    try {
      acceptor_thread_ = std::thread([this] {
        try {
          accept_ioc_.run();
        } catch (const std::exception& e) {
          spdlog::error("http: acceptor stopped: {}", e.what());
        }
      });
    } catch (const std::exception& e) {
      return Status::Internal(std::string("cannot start acceptor thread: ") + e.what());
    }
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Stop() override {
    std::lock_guard stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    sh_->stopping = true;
    asio::post(accept_ioc_, [this] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
    });
    if (acceptor_thread_.joinable()) acceptor_thread_.join();

    // No new connections from here on. Interrupt every connection's current wait.
    std::unique_lock lock(sh_->mu);
    for (auto& [id, c] : conns_) {
      if (c->shutdown_fd >= 0) ::shutdown(c->shutdown_fd, SHUT_RDWR);
      asio::post(c->ioc, [raw = c.get()] {
        error_code ignored;
        beast::get_lowest_layer(*raw->stream)
            .socket()
            .shutdown(tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(*raw->stream).close();
      });
    }
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(sh_->options.stop_grace_ms);
    sh_->cv.wait_until(lock, deadline, [this] {
      return std::all_of(conns_.begin(), conns_.end(),
                         [](auto& kv) { return kv.second->done.load(); });
    });
    for (auto& [id, c] : conns_) {
      if (c->done) {
        c->thread.join();
      } else {
        // Still inside a handler. The thread owns references to Conn and Shared, so
        // detaching it is memory-safe; its response goes to a closed socket.
        spdlog::warn("http: a handler did not return within the stop grace; detaching it");
        c->thread.detach();
      }
    }
    conns_.clear();
  }

 private:
  void Accept() {
    auto c = std::make_shared<Conn>();
    acceptor_.async_accept(c->ioc, [this, c](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || sh_->stopping) return;
      if (ec) {
        // EMFILE and friends: back off instead of spinning on the error.
        spdlog::warn("http: accept failed: {}", ec.message());
        retry_timer_.expires_after(std::chrono::milliseconds(100));
        retry_timer_.async_wait([this](error_code e) {
          if (!e && !sh_->stopping) Accept();
        });
        return;
      }
      Launch(c, std::move(socket));
      Accept();
    });
  }

  void Launch(const std::shared_ptr<Conn>& c, tcp::socket socket) {
    std::lock_guard lock(sh_->mu);
    Reap();
    error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (!ec) c->remote_address = remote.address().to_string();
    if (const char* full = Refusal(c->remote_address)) {
      // Closing (rather than queueing) lets a client fail over to another server at once.
      // Logged once per burst: a flood must not flood the log too.
      if (refused_++ % 1000 == 0) {
        spdlog::warn("http: refusing a connection from {}: {} ({} refused so far)",
                     c->remote_address, full, refused_);
      }
      error_code ignored;
      socket.close(ignored);
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    c->shutdown_fd = ::fcntl(socket.native_handle(), F_DUPFD_CLOEXEC, 0);
    c->stream.emplace(std::move(socket), sh_->tls);
    uint64_t id = next_id_++;
    try {
      c->thread = std::thread([sh = sh_, c] {
        try {
          Serve(*sh, *c);
        } catch (const std::exception& e) {
          spdlog::error("http: connection failed: {}", e.what());
        } catch (...) {
        }
        // Through the dup: the socket may already be closed (Beast closes it on timeout), and
        // the dup alone would otherwise keep the connection open until the Conn is reaped.
        if (c->shutdown_fd >= 0) ::shutdown(c->shutdown_fd, SHUT_RDWR);
        error_code ignored;
        beast::get_lowest_layer(*c->stream).socket().close(ignored);
        {
          // Lock so Stop() cannot miss the notification between its check and its wait.
          std::lock_guard l(sh->mu);
          c->done = true;
        }
        sh->cv.notify_all();
      });
      conns_.emplace(id, c);
    } catch (const std::exception& e) {
      spdlog::error("http: cannot start connection thread: {}", e.what());
    }
  }

  // Why a new connection from `peer` is refused, or nullptr. Called with sh_->mu held.
  const char* Refusal(const std::string& peer) const {
    const auto& o = sh_->options;
    if (static_cast<int>(conns_.size()) >= std::max(1, o.max_connections)) {
      return "the connection limit is reached";
    }
    int unauthenticated = 0, from_peer = 0;
    for (const auto& [id, c] : conns_) {
      if (c->authenticated || c->delivered) continue;
      ++unauthenticated;
      if (c->remote_address == peer) ++from_peer;
    }
    if (unauthenticated >= std::max(1, o.max_unauthenticated)) {
      return "the limit of unauthenticated connections is reached";
    }
    if (from_peer >= std::max(1, o.max_unauthenticated_per_peer)) {
      return "the limit of unauthenticated connections from one address is reached";
    }
    return nullptr;
  }

  // Joins threads of finished connections. Called with sh_->mu held.
  void Reap() {
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->second->done) {
        it->second->thread.join();
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::shared_ptr<Shared> sh_;
  asio::io_context accept_ioc_;
  tcp::acceptor acceptor_{accept_ioc_};
  asio::steady_timer retry_timer_{accept_ioc_};
  std::thread acceptor_thread_;
  uint16_t port_ = 0;

  std::mutex stop_mu_;
  bool stopped_ = false;
  std::map<uint64_t, std::shared_ptr<Conn>> conns_;
  uint64_t next_id_ = 0;
  uint64_t refused_ = 0;
};

Status SetUpTls(Shared& sh) {
  const auto& o = sh.options;
  auto& ctx = sh.tls;
  SSL_CTX* native = ctx.native_handle();
  error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_compression,
                  ec);
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ctx.use_certificate_chain_file(o.cert_file, ec);
  if (ec) return Status::InvalidArgument("InvalidCertificate", o.cert_file + ": " + ec.message());
  ctx.use_private_key_file(o.key_file, ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("InvalidKey", o.key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status::InvalidArgument("InvalidKey", o.key_file + " does not match " + o.cert_file);
  }
  if (!o.ca_file.empty()) {
    ctx.load_verify_file(o.ca_file, ec);
    if (ec) return Status::InvalidArgument("InvalidCertificate", o.ca_file + ": " + ec.message());
    // Tell clients which CA we accept, so a client holding several certificates picks ours.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    // Request (not require) a client certificate; see the header comment.
    ctx.set_verify_mode(ssl::verify_peer, ec);
    // Required by OpenSSL for session resumption when peers are verified.
    static const unsigned char kSessionContext[] = "vbs-https";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  try {
    auto sh = std::make_shared<Shared>();
    sh->options = options;
    sh->handler = std::move(handler);
    VBS_RETURN_IF_ERROR(SetUpTls(*sh));
    auto server = std::make_unique<Server>(sh);
    VBS_RETURN_IF_ERROR(server->Listen());
    return std::unique_ptr<HttpServer>(std::move(server));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot start HTTPS server: ") + e.what());
  }
}

}  // namespace vbs
