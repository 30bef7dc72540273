// PKI: the deployment's certificate authority and the certificates it issues (OpenSSL 3).
//
// One CA per deployment signs server, node (agent) and user certificates. A certificate's
// subject CN is the identity (user name, node name, server host) and its subject OU is the
// role: "admin", "user", "node", "server" or "monitor". Private keys are written with mode 0600.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs {

// kMonitor: reads /metrics and nothing else (Prometheus' client certificate).
enum class CertRole { kAdmin, kUser, kNode, kServer, kMonitor };
std::string RoleName(CertRole role);
Result<CertRole> ParseRole(const std::string& name);

struct IssuedCert {
  std::string cert_pem;
  std::string key_pem;
};

class CertificateAuthority {
 public:
  // Creates a new CA (EC P-256 key, self-signed, 10 years) in memory.
  static Result<CertificateAuthority> Create(const std::string& common_name);
  // Loads a CA from PEM files.
  static Result<CertificateAuthority> Load(const std::string& cert_file,
                                           const std::string& key_file);
  // Writes ca.crt (0644) and ca.key (0600).
  Status Save(const std::string& cert_file, const std::string& key_file) const;

  // Issues a certificate and a fresh key for `common_name` with `role`. `san` lists
  // subjectAltNames for server certificates ("127.0.0.1", "localhost": IPs become IP SANs,
  // others DNS SANs). Valid for `days`.
  Result<IssuedCert> Issue(const std::string& common_name, CertRole role,
                           const std::vector<std::string>& san = {}, int days = 825) const;

  const std::string& cert_pem() const { return cert_pem_; }

 private:
  std::string cert_pem_;
  std::string key_pem_;
};

// Identity read from a verified peer certificate.
struct CertIdentity {
  std::string common_name;
  CertRole role = CertRole::kUser;
  std::string serial;      // lower-case hex
  int64_t issued_at = 0;   // unix seconds: notBefore plus the backdating that Issue applies
  int64_t expires_at = 0;  // unix seconds: notAfter
};
// Parses CN and OU of a PEM or of an X509* (passed as void* to keep OpenSSL out of headers).
Result<CertIdentity> IdentityFromX509(const void* x509);
Result<CertIdentity> IdentityFromPem(const std::string& cert_pem);

// Writes `content` to `path` atomically (temp file + rename) with `mode`.
Status WriteFileAtomic(const std::string& path, const std::string& content, int mode);
Result<std::string> ReadFile(const std::string& path);

}  // namespace vbs
