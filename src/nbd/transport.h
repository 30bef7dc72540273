// Transport: one client's nonblocking socket, plain or (after STARTTLS) TLS.
//
// Used from the connection's own thread only (OpenSSL objects are not shared across threads).
// Read/Writev never block; they report what to wait for instead.
#pragma once

#include <openssl/ssl.h>
#include <sys/uio.h>

#include <cstddef>

#include "common/status.h"

namespace vbs::nbd {

class Transport {
 public:
  enum class Want { kNone, kRead, kWrite, kEof, kError };
  struct Io {
    size_t n = 0;
    Want want = Want::kNone;  // kNone when n > 0
  };

  explicit Transport(int fd) : fd_(fd) {}
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  int fd() const { return fd_; }
  bool tls() const { return ssl_ != nullptr; }
  // TLS holds decrypted bytes not yet read (poll would not report them).
  bool HasBuffered() const { return ssl_ != nullptr && SSL_pending(ssl_) > 0; }

  Io Read(void* buf, size_t len);
  Io Writev(const struct iovec* iov, int count);
  // Blocking read on a plain socket (the fast path when nothing else is pending).
  Io ReadBlocking(void* buf, size_t len);

  // Begins the server side of TLS; then call HandshakeStep until it returns kNone.
  Status BeginTls(SSL_CTX* ctx);
  Want HandshakeStep();
  // Best effort close_notify (nonblocking); the caller closes the fd.
  void ShutdownTls();

 private:
  Want SslWant(int ret);
  int fd_;
  SSL* ssl_ = nullptr;
};

}  // namespace vbs::nbd
