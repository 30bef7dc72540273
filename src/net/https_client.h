// HttpsClient: a small blocking HTTPS/1.1 client with a client certificate (Boost.Beast),
// used by the vbs CLI and by agents to reach the server.
//
// It keeps one connection alive and reuses it. It accepts a list of endpoints and fails over
// to the next when one cannot be reached (connect/TLS error, or the connection dropped before
// any response); an HTTP error status is an answer, not a failure, and is returned as is.
// The server certificate must chain to ca_file and match the endpoint's host (name or IP).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs {

struct HttpsClientOptions {
  std::vector<std::string> endpoints;  // "https://host:port", tried in order
  std::string ca_file;
  std::string cert_file;  // client certificate (optional for anonymous calls)
  std::string key_file;
  std::chrono::milliseconds connect_timeout{5000};
};

struct HttpsResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// Calls are serialized: one exchange at a time per client (a long poll blocks other calls on
// the same client, so pollers use their own client).
class HttpsClient {
 public:
  static Result<std::unique_ptr<HttpsClient>> Create(const HttpsClientOptions& options);
  virtual ~HttpsClient() = default;

  // `target` is path + query ("/v1/volumes?state=available"). The timeout bounds the whole
  // exchange (long polls pass a larger one). Returns Unavailable when no endpoint answered.
  virtual Result<HttpsResponse> Request(
      const std::string& method, const std::string& target, const std::string& body = "",
      const std::string& content_type = "application/json",
      std::chrono::milliseconds timeout = std::chrono::seconds(30),
      const std::map<std::string, std::string>& extra_headers = {}) = 0;
};

// A parsed endpoint: "https://host[:port][/]", host a name, an IPv4 address or a [IPv6]
// address (brackets removed here). The port defaults to 443. Other schemes are rejected.
struct HttpsEndpoint {
  std::string host;
  uint16_t port = 443;
  bool is_ip = false;
};
Result<HttpsEndpoint> ParseHttpsEndpoint(const std::string& url);

}  // namespace vbs
