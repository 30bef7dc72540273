// TLS for NBD listeners: a server SSL_CTX from PEM files.
//
// TLS 1.2 is the minimum (the spec's MUST). With a CA file, clients must present a
// certificate that CA signed (mutual TLS, the VBS default: the CA is the deployment's);
// verify_client=false accepts any client, for a CA used only to name the server's chain.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs::nbd {

struct TlsOptions {
  std::string cert_file;  // server certificate chain (PEM)
  std::string key_file;   // its private key (PEM)
  std::string ca_file;    // CA that signs client certificates (PEM); empty: no client auth
  bool verify_client = true;
  // With a verified client certificate: the roles (its subject OU, auth/pki.h) that may open
  // exports; a client of any other role is disconnected right after the TLS handshake.
  // Empty: any role the CA signed.
  std::vector<std::string> client_roles;
  // With a verified client certificate of an admitted role: asked after the TLS handshake and
  // again by NbdServer::RecheckTlsClients while the client is connected (the deployment's
  // users table, for `vbsd nbd-serve --database`). A refusal's code and message answer every
  // option of the handshake (NBD_REP_ERR_POLICY); an open connection is cut. Unset: admitted.
  std::function<Status(X509* cert)> admit_client;
};

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

Result<SslCtxPtr> MakeServerTlsContext(const TlsOptions& options);
// The role (subject OU) of the client certificate `ssl` verified; "" without one.
std::string PeerCertificateRole(SSL* ssl);

}  // namespace vbs::nbd
