// SigV4: server-side verification of AWS Signature Version 4 (the EC2 face's authentication).
//
// Two forms (reference/ec2-ebs-api.md §7): the Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/ec2/aws4_request, SignedHeaders=…,
// Signature=…") over the raw body, and the presigned query form (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature) over an
// empty body. ParseSigV4 reads either form without any secret; the caller looks the access
// key up and calls VerifySigV4, which rebuilds the canonical request from what the client
// sent (Host included), checks the clock and compares signatures in constant time.
//
// Errors (Status codes, as EC2 answers them): MissingAuthenticationToken (401, no auth at all),
// IncompleteSignature (401, a part missing or malformed), RequestExpired (400, outside the
// clock-skew window or past a presigned URL's expiry), AuthFailure (401): a wrong signature
// and an unknown access key answer the same (CredentialsNotValidated), so keys cannot be
// enumerated; a presigned request with a body, and an x-amz-content-sha256 header that is not
// signed or not the body's hash, are AuthFailure too. The payload hash in the canonical
// request is always computed from the body.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"

namespace vbs {

// What the verifier needs of an HTTP request.
struct SigV4Request {
  std::string method;                             // "POST", "GET"
  std::string path;                               // decoded path, "/" for EC2
  std::multimap<std::string, std::string> query;  // decoded query parameters
  std::map<std::string, std::string> headers;     // names lower-cased
  std::string body;                               // raw bytes as received
};

struct SigV4Auth {
  bool presigned = false;
  std::string access_key_id;
  std::string scope_date;  // yyyymmdd
  std::string region;
  std::string service;
  std::string signed_headers;   // "content-type;host;x-amz-date"
  std::string signature;        // 64 lowercase hex digits
  std::string amz_date;         // yyyymmddThhmmssZ
  int64_t expires_seconds = 0;  // presigned only
};

struct SigV4Policy {
  std::string service = "ec2";
  int64_t max_skew_seconds = 300;        // header form: |now - X-Amz-Date|
  int64_t max_expires_seconds = 604800;  // presigned: X-Amz-Expires at most 7 days
};

Result<SigV4Auth> ParseSigV4(const SigV4Request& req, const SigV4Policy& policy = {});
// The one answer to an unknown access key and to a signature that does not match.
Status CredentialsNotValidated();
// `now_unix` is the server's clock in seconds.
Status VerifySigV4(const SigV4Request& req, const SigV4Auth& auth, const std::string& secret,
                   int64_t now_unix, const SigV4Policy& policy = {});

// The building blocks, exposed for the known-answer tests.
std::string Sha256Hex(const std::string& data);
std::string HmacSha256(const std::string& key, const std::string& data);  // raw bytes
std::string HexEncode(const std::string& bytes);
std::string SigV4UriEncode(const std::string& s, bool keep_slash);  // RFC 3986, %XX upper
std::string SigV4CanonicalRequest(const SigV4Request& req, const SigV4Auth& auth);
std::string SigV4StringToSign(const SigV4Auth& auth, const std::string& canonical_request);
std::string SigV4SigningKey(const std::string& secret, const SigV4Auth& auth);  // raw bytes
// Parses yyyymmddThhmmssZ to unix seconds.
Result<int64_t> ParseAmzDate(const std::string& amz_date);

}  // namespace vbs
