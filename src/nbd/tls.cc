#include "nbd/tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>

namespace vbs::nbd {
namespace {

Status SslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status::InvalidArgument("InvalidTlsConfig", what + ": " + buf);
}

}  // namespace

Result<SslCtxPtr> MakeServerTlsContext(const TlsOptions& o) {
  if (o.cert_file.empty() || o.key_file.empty()) {
    return Status::InvalidArgument("InvalidTlsConfig", "TLS needs a certificate and a key");
  }
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return SslError("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert_file.c_str()) != 1) {
    return SslError("certificate " + o.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return SslError("key " + o.key_file);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) return SslError("key does not match certificate");
  if (!o.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1) {
      return SslError("CA " + o.ca_file);
    }
    if (o.verify_client) {
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(ctx.get(), names);
    }
  }
  // No session resumption across connections: each attach is its own session.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  return ctx;
}

std::string PeerCertificateRole(SSL* ssl) {
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "";
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  char ou[64] = "";
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_organizationalUnitName, ou,
                                    sizeof ou);
  X509_free(cert);
  return n > 0 ? std::string(ou, static_cast<size_t>(n)) : "";
}

}  // namespace vbs::nbd
