// TLS for NBD listeners: a server SSL_CTX from PEM files.
//
// TLS 1.2 is the minimum (the spec's MUST). With a CA file, clients must present a
// certificate that CA signed (mutual TLS, the VBS default: the CA is the deployment's);
// verify_client=false accepts any client, for a CA used only to name the server's chain.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace vbs::nbd {

struct TlsOptions {
  std::string cert_file;  // server certificate chain (PEM)
  std::string key_file;   // its private key (PEM)
  std::string ca_file;    // CA that signs client certificates (PEM); empty: no client auth
  bool verify_client = true;
};

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

Result<SslCtxPtr> MakeServerTlsContext(const TlsOptions& options);

}  // namespace vbs::nbd
