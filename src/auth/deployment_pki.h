// DeploymentPki: the certificate files of one deployment in a directory, made on first start
// and reused afterwards (design.md §8).
//
//   ca.crt ca.key            the deployment CA (ca.key 0600)
//   server.crt server.key    the API server, subjectAltName = the given hosts/IPs
//   server-ID.crt/.key       server instance ID, when several servers share the directory
//   admin.crt admin.key      the first administrator (CN admin, OU admin)
//   node-NAME.crt/.key       node (agent) certificates
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "auth/pki.h"

namespace vbs {

struct PkiPaths {
  std::string ca_cert, ca_key;
  std::string cert, key;  // of the role asked for
};

class DeploymentPki {
 public:
  explicit DeploymentPki(std::string dir) : dir_(std::move(dir)) {}

  // The CA with its key; nullopt when the directory holds ca.crt but not ca.key (the key is
  // kept offline, design.md §8). Creates the directory (0700) and the CA on first use.
  Result<std::optional<CertificateAuthority>> LoadCa();
  // As LoadCa, but the key is needed: CertificateAuthorityOffline without it.
  Result<CertificateAuthority> EnsureCa();
  // Makes sure `name`'s certificate exists (issued from the CA), returns its paths. A server
  // certificate whose SANs miss one of `san` is issued again. Without the CA key, existing
  // files are used as they are and missing ones are an error saying how to issue them.
  // `id` names one of several server instances (each with its own listen address).
  Result<PkiPaths> EnsureServer(const std::vector<std::string>& san, const std::string& id = "");
  Result<PkiPaths> EnsureAdmin(const std::string& name = "admin");
  Result<PkiPaths> EnsureNode(const std::string& node);

  const std::string& dir() const { return dir_; }

 private:
  Result<PkiPaths> Ensure(const std::string& file_stem, const std::string& cn, CertRole role,
                          const std::vector<std::string>& san);
  std::string dir_;
};

}  // namespace vbs
