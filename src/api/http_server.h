// HttpServer: HTTPS/1.1 server plumbing (Boost.Beast + OpenSSL), nothing about VBS's API.
//
// TLS is mandatory. A client certificate is requested but not required at the TLS layer, so
// that a missing or foreign certificate gets a clear HTTP 401 from the API instead of a bare
// handshake failure, and so that the EC2 face (SigV4, no client certificate) shares the
// listener. Each connection is served by its own thread (handlers may block, e.g. agents'
// long polls); connections beyond max_connections are refused. Bodies over max_body_bytes
// get 413 without reaching the handler; malformed HTTP gets 400 and the connection closes.
//
// Connections that have not yet delivered a whole first request are bounded apart (an
// unauthenticated client must not hold the slots users and agents need): at most
// max_unauthenticated of them, and at most max_unauthenticated_per_peer from one address (more
// are closed at accept); the TLS handshake and the first request must arrive within
// first_request_timeout_seconds; and a response the handler does not mark `authenticated` (an
// authentication failure) closes the connection after it is written. So a connection past
// its first response is an authenticated caller's, under idle_timeout_seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/pki.h"
#include "common/status.h"

namespace vbs {

struct PeerCert {
  bool present = false;                  // the client sent a certificate
  bool verified = false;                 // it chains to the deployment CA and is valid now
  std::string verify_error;              // why not, when present && !verified
  std::optional<CertIdentity> identity;  // set when verified
};

struct HttpRequest {
  std::string method;                             // "GET", "POST", ...
  std::string target;                             // raw request target: path + "?" + query
  std::string path;                               // percent-decoded path, without the query
  std::multimap<std::string, std::string> query;  // decoded query parameters
  std::map<std::string, std::string> headers;     // names lower-cased
  std::string body;
  PeerCert peer;
  std::string remote_address;

  std::string Header(const std::string& lower_name) const;
  std::optional<std::string> QueryParam(const std::string& name) const;  // first value
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set by the handler when the request's caller was authenticated: the connection may stay
  // open for more requests. Unset: it is closed after this response.
  bool authenticated = false;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;   // 0 = pick a free port (see HttpServer::port)
  std::string cert_file;  // server certificate chain (PEM)
  std::string key_file;
  std::string ca_file;  // CA that client certificates must chain to
  size_t max_body_bytes = 1 << 20;
  int max_connections = 512;
  int idle_timeout_seconds = 120;          // also bounds each read/write of a request or response
  int max_unauthenticated = 128;           // total; the rest of max_connections stays for callers
  int max_unauthenticated_per_peer = 32;   // also bounds a burst of new clients behind one NAT
  int first_request_timeout_seconds = 10;  // TLS handshake + the first whole request
  // Connections with a node (agent) certificate: agents hold theirs open in long polls, so
  // many agents must not take the slots users need. Beyond this, an agent's request is
  // answered 503 TooManyAgentConnections and its connection closed (it retries later).
  int max_node_connections = 256;
  // Stop() waits this long for handlers still running (e.g. long polls), then leaves them to
  // finish on detached threads (their responses are dropped). Owners should wake their long
  // polls before Stop(); a handler must not use objects destroyed after Stop() returns.
  int stop_grace_ms = 2000;
};

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  virtual ~HttpServer() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections and joins threads.
  virtual void Stop() = 0;
};

// Percent-decoding and query parsing, shared with the request parser (and tested).
Result<std::string> PercentDecode(const std::string& s, bool plus_is_space);
Result<std::multimap<std::string, std::string>> ParseQuery(const std::string& query);

}  // namespace vbs
