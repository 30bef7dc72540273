// HttpsClient over Boost.Beast. Every operation runs on the client's own io_context and is
// driven to completion (or to the call's deadline, when the socket is closed to cancel it) by
// RunUntil, so the public API is blocking while every wait stays bounded.

// GCC 12 reports a false -Wmaybe-uninitialized inside Beast's parser (boost::optional) at -O2
// with sanitizers; it is not ours to fix and -Werror would turn it into a build failure.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "net/https_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <optional>

namespace vbs {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxResponseBody = 256u << 20;
constexpr size_t kMaxResponseHeader = 64u << 10;

bool IsToken(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("\"(),/:;<=>?@[\\]{}").find(static_cast<char>(c)) !=
            std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool HasCrLf(const std::string& s) {
  return s.find_first_of("\r\n") != std::string::npos;
}

// How one attempt at one endpoint ended.
enum class Outcome { kOk, kFailover, kTimeout };

class Client final : public HttpsClient {
 public:
  Client(HttpsClientOptions options, std::vector<HttpsEndpoint> endpoints)
      : options_(std::move(options)), endpoints_(std::move(endpoints)) {}

  Status Init() {
    error_code ec;
    SSL_CTX* native = ctx_.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
    if (options_.ca_file.empty()) {
      ctx_.set_default_verify_paths(ec);
    } else {
      ctx_.load_verify_file(options_.ca_file, ec);
    }
    if (ec) {
      return Status::InvalidArgument("InvalidCertificate",
                                     "CA file '" + options_.ca_file + "': " + ec.message());
    }
    ctx_.set_verify_mode(ssl::verify_peer, ec);
    if (options_.cert_file.empty() != options_.key_file.empty()) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "client certificate and key must be given together");
    }
    if (!options_.cert_file.empty()) {
      ctx_.use_certificate_chain_file(options_.cert_file, ec);
      if (ec) {
        return Status::InvalidArgument("InvalidCertificate",
                                       options_.cert_file + ": " + ec.message());
      }
      ctx_.use_private_key_file(options_.key_file, ssl::context::pem, ec);
      if (ec || SSL_CTX_check_private_key(native) != 1) {
        return Status::InvalidArgument(
            "InvalidKey", options_.key_file + " is not a usable key for " + options_.cert_file);
      }
    }
    return Status::Ok();
  }

  Result<HttpsResponse> Request(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type,
                                std::chrono::milliseconds timeout,
                                const std::map<std::string, std::string>& extra_headers) override {
    std::lock_guard lock(mu_);
    try {
      return DoRequest(method, target, body, content_type, timeout, extra_headers);
    } catch (const std::exception& e) {
      Drop();
      return Status::Internal(std::string("HTTPS request failed: ") + e.what());
    }
  }

 private:
  using Stream = ssl::stream<tcp::socket>;

  Result<HttpsResponse> DoRequest(const std::string& method, const std::string& target,
                                  const std::string& body, const std::string& content_type,
                                  std::chrono::milliseconds timeout,
                                  const std::map<std::string, std::string>& extra_headers) {
    if (!IsToken(method)) return Status::InvalidArgument("InvalidParameterValue", "bad method");
    if (target.empty() || target[0] != '/' || HasCrLf(target) ||
        target.find(' ') != std::string::npos) {
      return Status::InvalidArgument("InvalidParameterValue", "bad request target");
    }
    http::request<http::string_body> req;
    req.version(11);
    req.method_string(method);
    req.target(target);
    req.set(http::field::user_agent, "vbs");
    for (const auto& [name, value] : extra_headers) {
      if (!IsToken(name) || HasCrLf(value)) {
        return Status::InvalidArgument("InvalidParameterValue", "bad header '" + name + "'");
      }
      req.set(name, value);
    }
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      if (!content_type.empty()) req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();

    const auto deadline = Clock::now() + timeout;
    std::string errors;
    // The endpoint that answered last goes first (sticky), then the rest in list order.
    std::vector<size_t> order{preferred_};
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      if (i != preferred_) order.push_back(i);
    }
    for (size_t idx : order) {
      const HttpsEndpoint& ep = endpoints_[idx];
      req.set(http::field::host, HostHeader(ep));
      HttpsResponse response;
      std::string error;
      Outcome outcome = Attempt(idx, req, deadline, &response, &error);
      if (outcome == Outcome::kOk) {
        preferred_ = idx;
        return response;
      }
      errors += (errors.empty() ? "" : "; ") + options_.endpoints[idx] + ": " + error;
      if (outcome == Outcome::kTimeout) {
        return Status::Unavailable("request timed out after " + std::to_string(timeout.count()) +
                                   " ms (" + errors + ")");
      }
    }
    return Status::Unavailable("no endpoint answered (" + errors + ")");
  }

  Outcome Attempt(size_t idx, const http::request<http::string_body>& req,
                  Clock::time_point deadline, HttpsResponse* out, std::string* error) {
    bool reused = stream_.has_value() && connected_ == idx;
    if (!reused) {
      Drop();
      Outcome o = Connect(idx, deadline, error);
      if (o != Outcome::kOk) return o;
    }
    bool dropped_early = false;
    Outcome o = Exchange(req, deadline, out, error, &dropped_early);
    if (o == Outcome::kOk) return o;
    Drop();
    // A keep-alive connection the server closed while idle: not the server's answer, so
    // reconnect to the same endpoint and send once more.
    if (reused && dropped_early && o == Outcome::kFailover) {
      o = Connect(idx, deadline, error);
      if (o != Outcome::kOk) return o;
      o = Exchange(req, deadline, out, error, &dropped_early);
      if (o != Outcome::kOk) Drop();
    }
    return o;
  }

  Outcome Connect(size_t idx, Clock::time_point call_deadline, std::string* error) {
    const HttpsEndpoint& ep = endpoints_[idx];
    const auto deadline = std::min(call_deadline, Clock::now() + options_.connect_timeout);
    bool timed_out = false;
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type addresses;
    error_code ec = RunUntil(
        deadline,
        [&](auto h) {
          resolver.async_resolve(
              ep.host, std::to_string(ep.port), tcp::resolver::numeric_service,
              [&addresses, h = std::move(h)](error_code e, tcp::resolver::results_type r) mutable {
                addresses = std::move(r);
                h(e);
              });
        },
        [&] { resolver.cancel(); }, &timed_out);
    if (ec)
      return Fail(timed_out, call_deadline, "resolve " + ep.host + ": " + ec.message(), error);

    stream_.emplace(ioc_, ctx_);
    ec = RunUntil(
        deadline,
        [&](auto h) { asio::async_connect(stream_->next_layer(), addresses, std::move(h)); },
        [&] { CloseSocket(); }, &timed_out);
    if (ec) {
      Drop();
      return Fail(timed_out, call_deadline, "connect: " + ec.message(), error);
    }
    error_code ignored;
    stream_->next_layer().set_option(tcp::no_delay(true), ignored);

    SSL* ssl = stream_->native_handle();
    if (ep.is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ep.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, ep.host.c_str());  // SNI is for names only (RFC 6066)
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, ep.host.c_str());
    }
    ec = RunUntil(
        deadline, [&](auto h) { stream_->async_handshake(ssl::stream_base::client, std::move(h)); },
        [&] { CloseSocket(); }, &timed_out);
    if (ec) {
      std::string why = "TLS handshake: " + ec.message();
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        why += " (server certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
      }
      Drop();
      return Fail(timed_out, call_deadline, why, error);
    }
    connected_ = idx;
    return Outcome::kOk;
  }

  Outcome Exchange(const http::request<http::string_body>& req, Clock::time_point deadline,
                   HttpsResponse* out, std::string* error, bool* dropped_early) {
    bool timed_out = false;
    *dropped_early = false;
    error_code ec = RunUntil(
        deadline, [&](auto h) { http::async_write(*stream_, req, std::move(h)); },
        [&] { CloseSocket(); }, &timed_out);
    if (ec) {
      // A write onto a connection the server already closed fails here, before any answer.
      *dropped_early = true;
      return Fail(timed_out, deadline, "send: " + ec.message(), error);
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    parser.header_limit(kMaxResponseHeader);
    ec = RunUntil(
        deadline, [&](auto h) { http::async_read(*stream_, buffer_, parser, std::move(h)); },
        [&] { CloseSocket(); }, &timed_out);
    if (ec) {
      *dropped_early = !parser.got_some();
      return Fail(timed_out, deadline, "receive: " + ec.message(), error);
    }
    auto& res = parser.get();
    out->status = static_cast<int>(res.result_int());
    out->body = std::move(res.body());
    for (const auto& field : res) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      auto [it, inserted] = out->headers.emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    if (!res.keep_alive()) Drop();
    return Outcome::kOk;
  }

  Outcome Fail(bool timed_out, Clock::time_point deadline, const std::string& what,
               std::string* error) {
    if (timed_out && Clock::now() >= deadline) {
      *error = "timed out";
      return Outcome::kTimeout;
    }
    *error = timed_out ? "timed out (" + what + ")" : what;
    return Outcome::kFailover;
  }

  // Runs one async operation; if `deadline` passes first, calls `cancel` (which closes the
  // socket or cancels the resolver) and waits for the aborted completion.
  template <typename Start, typename Cancel>
  error_code RunUntil(Clock::time_point deadline, Start start, Cancel cancel, bool* timed_out) {
    error_code result;
    bool done = false;
    *timed_out = false;
    ioc_.restart();
    start([&](error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    while (!done) {
      if (ioc_.stopped()) ioc_.restart();
      if (!*timed_out && Clock::now() >= deadline) {
        *timed_out = true;
        cancel();
      }
      if (*timed_out) {
        ioc_.run_one();
      } else {
        ioc_.run_one_until(deadline);
      }
    }
    if (*timed_out && !result) result = asio::error::timed_out;
    return result;
  }

  void CloseSocket() {
    error_code ignored;
    if (stream_) stream_->next_layer().close(ignored);
  }

  // Forgets the connection. No TLS close_notify: waiting for the peer's would cost a round trip
  // (or a timeout) for nothing, as nothing more is sent on it.
  void Drop() {
    CloseSocket();
    stream_.reset();
    buffer_.clear();
    connected_ = SIZE_MAX;
  }

  static std::string HostHeader(const HttpsEndpoint& ep) {
    bool v6 = ep.host.find(':') != std::string::npos;
    return (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port);
  }

  HttpsClientOptions options_;
  std::vector<HttpsEndpoint> endpoints_;
  std::mutex mu_;
  asio::io_context ioc_;
  ssl::context ctx_{ssl::context::tls_client};
  std::optional<Stream> stream_;
  beast::flat_buffer buffer_;
  size_t connected_ = SIZE_MAX;
  size_t preferred_ = 0;
};

}  // namespace

Result<HttpsEndpoint> ParseHttpsEndpoint(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "endpoint '" + url + "': " + why + " (want https://host:port)");
  };
  const std::string scheme = "https://";
  if (url.size() < scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return bad("scheme must be https");
  }
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("/?#@ \t\r\n") != std::string::npos) return bad("unexpected characters");
  HttpsEndpoint ep;
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return bad("unterminated '['");
    ep.host = rest.substr(1, close - 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after ']'");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    error_code ec;
    asio::ip::make_address_v6(ep.host, ec);
    if (ec) return bad("not an IPv6 address");
    ep.is_ip = true;
  } else {
    size_t colon = rest.find(':');
    ep.host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    error_code ec;
    asio::ip::make_address_v4(ep.host, ec);
    ep.is_ip = !ec;
  }
  if (ep.host.empty()) return bad("empty host");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
      return bad("bad port");
    int p = std::stoi(port);
    if (p < 1 || p > 65535) return bad("port out of range");
    ep.port = static_cast<uint16_t>(p);
  }
  return ep;
}

Result<std::unique_ptr<HttpsClient>> HttpsClient::Create(const HttpsClientOptions& options) {
  if (options.endpoints.empty()) {
    return Status::InvalidArgument("InvalidParameterValue", "no server endpoints configured");
  }
  std::vector<HttpsEndpoint> endpoints;
  for (const std::string& url : options.endpoints) {
    VBS_ASSIGN_OR_RETURN(HttpsEndpoint ep, ParseHttpsEndpoint(url));
    endpoints.push_back(std::move(ep));
  }
  try {
    auto client = std::make_unique<Client>(options, std::move(endpoints));
    VBS_RETURN_IF_ERROR(client->Init());
    return std::unique_ptr<HttpsClient>(std::move(client));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot create HTTPS client: ") + e.what());
  }
}

}  // namespace vbs
