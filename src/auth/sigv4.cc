#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>
#include <vector>

namespace vbs {
namespace {

constexpr const char* kAlgorithm = "AWS4-HMAC-SHA256";

Status Incomplete(const std::string& what) {
  return Status::Unauthenticated("IncompleteSignature",
                                 "the request signature is incomplete: " + what);
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Trims and collapses runs of spaces (the canonical form of a header value).
std::string CanonicalHeaderValue(const std::string& v) {
  std::string out;
  bool space = false;
  for (char c : Trim(v)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool IsLowerHex(const std::string& s, size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

// Fills the credential scope fields from "AKID/yyyymmdd/region/service/aws4_request".
Status ParseCredential(const std::string& credential, const SigV4Policy& policy, SigV4Auth* auth) {
  auto parts = Split(credential, '/');
  if (parts.size() != 5 || parts[0].empty() || parts[2].empty()) {
    return Incomplete("Credential must be AKID/yyyymmdd/region/service/aws4_request");
  }
  if (parts[4] != "aws4_request") return Incomplete("the credential scope must end aws4_request");
  if (parts[3] != policy.service) {
    return Incomplete("the credential scope names service '" + parts[3] + "', not '" +
                      policy.service + "'");
  }
  auth->access_key_id = parts[0];
  auth->scope_date = parts[1];
  auth->region = parts[2];
  auth->service = parts[3];
  return Status::Ok();
}

Status CheckSignedHeaders(const std::string& signed_headers) {
  if (signed_headers.empty()) return Incomplete("SignedHeaders is empty");
  auto names = Split(signed_headers, ';');
  if (!std::is_sorted(names.begin(), names.end())) return Incomplete("SignedHeaders is not sorted");
  for (const auto& n : names) {
    if (n.empty() || std::any_of(n.begin(), n.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return Incomplete("SignedHeaders must be lower-case names separated by ';'");
    }
  }
  if (!std::binary_search(names.begin(), names.end(), "host")) {
    return Incomplete("the host header must be signed");
  }
  return Status::Ok();
}

std::string First(const std::multimap<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::string() : it->second;
}

}  // namespace

std::string HexEncode(const std::string& bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return HexEncode(std::string(reinterpret_cast<char*>(md), sizeof md));
}

std::string HmacSha256(const std::string& key, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string SigV4UriEncode(const std::string& s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<int64_t> ParseAmzDate(const std::string& d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') {
    return Incomplete("X-Amz-Date '" + d + "' is not yyyymmddThhmmssZ");
  }
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && (d[i] < '0' || d[i] > '9'))
      return Incomplete("X-Amz-Date '" + d + "' is malformed");
  }
  std::tm tm{};
  tm.tm_year = std::stoi(d.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(d.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(d.substr(6, 2));
  tm.tm_hour = std::stoi(d.substr(9, 2));
  tm.tm_min = std::stoi(d.substr(11, 2));
  tm.tm_sec = std::stoi(d.substr(13, 2));
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return Incomplete("X-Amz-Date '" + d + "' is not a valid time");
  }
  return static_cast<int64_t>(timegm(&tm));
}

Result<SigV4Auth> ParseSigV4(const SigV4Request& req, const SigV4Policy& policy) {
  SigV4Auth auth;
  auto header = req.headers.find("authorization");
  const bool query_form = req.query.count("X-Amz-Algorithm") > 0;
  if (header == req.headers.end() && !query_form) {
    return Status::Unauthenticated(
        "MissingAuthenticationToken",
        "the request is not signed: sign it with AWS Signature Version 4 and an access key "
        "from `vbs admin user create`");
  }
  if (header != req.headers.end() && query_form) {
    return Incomplete("both an Authorization header and X-Amz-Algorithm were given");
  }
  if (query_form) {
    auth.presigned = true;
    if (First(req.query, "X-Amz-Algorithm") != kAlgorithm) {
      return Incomplete("X-Amz-Algorithm must be AWS4-HMAC-SHA256");
    }
    for (const char* k : {"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                          "X-Amz-Signature"}) {
      if (First(req.query, k).empty()) return Incomplete(std::string(k) + " is missing");
    }
    VBS_RETURN_IF_ERROR(ParseCredential(First(req.query, "X-Amz-Credential"), policy, &auth));
    auth.amz_date = First(req.query, "X-Amz-Date");
    auth.signed_headers = First(req.query, "X-Amz-SignedHeaders");
    auth.signature = First(req.query, "X-Amz-Signature");
    const std::string expires = First(req.query, "X-Amz-Expires");
    if (expires.size() > 7 || !std::all_of(expires.begin(), expires.end(), ::isdigit)) {
      return Incomplete("X-Amz-Expires must be a number of seconds");
    }
    auth.expires_seconds = std::stoll(expires);
    // Its signature covers the URL only: a body would add parameters nobody signed.
    if (!req.body.empty()) {
      return Status::Unauthenticated("AuthFailure",
                                     "a presigned request carries its parameters in its URL and "
                                     "takes no body");
    }
    if (auth.expires_seconds < 1 || auth.expires_seconds > policy.max_expires_seconds) {
      return Incomplete("X-Amz-Expires must be 1 to " + std::to_string(policy.max_expires_seconds) +
                        " seconds");
    }
  } else {
    const std::string& value = header->second;
    if (value.rfind(std::string(kAlgorithm) + " ", 0) != 0) {
      return Incomplete("the Authorization scheme must be AWS4-HMAC-SHA256");
    }
    std::map<std::string, std::string> kv;
    for (const auto& part : Split(value.substr(std::string(kAlgorithm).size() + 1), ',')) {
      auto p = Trim(part);
      auto eq = p.find('=');
      if (eq == std::string::npos) return Incomplete("'" + p + "' is not key=value");
      kv[Trim(p.substr(0, eq))] = Trim(p.substr(eq + 1));
    }
    for (const char* k : {"Credential", "SignedHeaders", "Signature"}) {
      if (kv[k].empty()) return Incomplete(std::string(k) + " is missing");
    }
    VBS_RETURN_IF_ERROR(ParseCredential(kv["Credential"], policy, &auth));
    auth.signed_headers = kv["SignedHeaders"];
    auth.signature = kv["Signature"];
    auto date = req.headers.find("x-amz-date");
    if (date == req.headers.end()) return Incomplete("the X-Amz-Date header is missing");
    auth.amz_date = Trim(date->second);
    if ((";" + auth.signed_headers + ";").find(";x-amz-date;") == std::string::npos) {
      return Incomplete("the x-amz-date header must be signed");
    }
  }
  VBS_RETURN_IF_ERROR(CheckSignedHeaders(auth.signed_headers));
  if (!IsLowerHex(auth.signature, 64)) {
    return Incomplete("the signature must be 64 lower-case hex digits");
  }
  VBS_RETURN_IF_ERROR(ParseAmzDate(auth.amz_date).status());
  if (auth.amz_date.substr(0, 8) != auth.scope_date) {
    return Incomplete("the credential scope date " + auth.scope_date +
                      " is not the date of X-Amz-Date " + auth.amz_date);
  }
  return auth;
}

std::string SigV4CanonicalRequest(const SigV4Request& req, const SigV4Auth& auth) {
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& [k, v] : req.query) {
    if (auth.presigned && k == "X-Amz-Signature") continue;
    params.emplace_back(SigV4UriEncode(k, false), SigV4UriEncode(v, false));
  }
  std::sort(params.begin(), params.end());
  std::string query;
  for (const auto& [k, v] : params) query += (query.empty() ? "" : "&") + k + "=" + v;

  std::string headers;
  for (const auto& name : Split(auth.signed_headers, ';')) {
    auto it = req.headers.find(name);
    headers +=
        name + ":" + (it == req.headers.end() ? "" : CanonicalHeaderValue(it->second)) + "\n";
  }
  // Always the body's own hash: a client's x-amz-content-sha256 is checked against it
  // (VerifySigV4), never taken on trust.
  const std::string payload_hash = Sha256Hex(auth.presigned ? std::string() : req.body);
  std::string path = req.path.empty() ? "/" : SigV4UriEncode(req.path, true);
  return req.method + "\n" + path + "\n" + query + "\n" + headers + "\n" + auth.signed_headers +
         "\n" + payload_hash;
}

std::string SigV4StringToSign(const SigV4Auth& auth, const std::string& canonical_request) {
  return std::string(kAlgorithm) + "\n" + auth.amz_date + "\n" + auth.scope_date + "/" +
         auth.region + "/" + auth.service + "/aws4_request\n" + Sha256Hex(canonical_request);
}

std::string SigV4SigningKey(const std::string& secret, const SigV4Auth& auth) {
  std::string k = HmacSha256("AWS4" + secret, auth.scope_date);
  k = HmacSha256(k, auth.region);
  k = HmacSha256(k, auth.service);
  return HmacSha256(k, "aws4_request");
}

Status CredentialsNotValidated() {
  return Status::Unauthenticated("AuthFailure",
                                 "AWS was not able to validate the provided access credentials "
                                 "(check the access key, its secret, the endpoint host:port and "
                                 "the clock)");
}

Status VerifySigV4(const SigV4Request& req, const SigV4Auth& auth, const std::string& secret,
                   int64_t now_unix, const SigV4Policy& policy) {
  VBS_ASSIGN_OR_RETURN(int64_t signed_at, ParseAmzDate(auth.amz_date));
  if (auth.presigned) {
    if (now_unix > signed_at + auth.expires_seconds) {
      return Status::InvalidArgument(
          "RequestExpired",
          "the presigned request expired at " + std::to_string(signed_at + auth.expires_seconds));
    }
    if (signed_at > now_unix + policy.max_skew_seconds) {
      return Status::InvalidArgument(
          "RequestExpired", "the presigned request is dated " + auth.amz_date + ", in the future");
    }
  } else if (std::llabs(now_unix - signed_at) > policy.max_skew_seconds) {
    return Status::InvalidArgument("RequestExpired",
                                   "the request is dated " + auth.amz_date + ", more than " +
                                       std::to_string(policy.max_skew_seconds / 60) +
                                       " minutes from the server's clock (check NTP)");
  }
  auto content_sha = req.headers.find("x-amz-content-sha256");
  if (content_sha != req.headers.end()) {
    if ((";" + auth.signed_headers + ";").find(";x-amz-content-sha256;") == std::string::npos) {
      return Status::Unauthenticated("AuthFailure",
                                     "x-amz-content-sha256 must be a signed header when sent");
    }
    if (Trim(content_sha->second) != Sha256Hex(auth.presigned ? std::string() : req.body)) {
      return Status::Unauthenticated("AuthFailure",
                                     "x-amz-content-sha256 is not the SHA-256 of the body");
    }
  }
  const std::string expected = HexEncode(HmacSha256(
      SigV4SigningKey(secret, auth), SigV4StringToSign(auth, SigV4CanonicalRequest(req, auth))));
  if (expected.size() != auth.signature.size() ||
      CRYPTO_memcmp(expected.data(), auth.signature.data(), expected.size()) != 0) {
    return CredentialsNotValidated();
  }
  return Status::Ok();
}

}  // namespace vbs
