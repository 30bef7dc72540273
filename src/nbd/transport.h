// Transport: one client's nonblocking socket, plain or (after STARTTLS) TLS.
//
// Used from the connection's own thread only (OpenSSL objects are not shared across threads).
// Read/Writev never block; they report what to wait for instead.
#pragma once

#include <atomic>

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
  // A blocking read interrupted by a signal returns (Want::kRead) once *flag is set, instead
  // of reading on (a connection asked to hand over: connection.h).
  void SetInterrupt(const std::atomic<bool>* flag) { interrupt_ = flag; }
  bool tls() const { return ssl_ != nullptr; }
  SSL* ssl() const { return ssl_; }
  // TLS holds decrypted bytes not yet read (poll would not report them).
  bool HasBuffered() const { return ssl_ != nullptr && SSL_pending(ssl_) > 0; }

  Io Read(void* buf, size_t len);
  Io Writev(const struct iovec* iov, int count);
  // Blocking read on a plain socket (the fast path when nothing else is pending).
  Io ReadBlocking(void* buf, size_t len);

  // Plain unix sockets only: sends file bytes [off, off+len) without copying them, through a pipe
  // (splice file -> pipe -> socket; the socket takes references to the page cache pages).
  // Bytes already moved into the pipe stay there when the socket is full: the next call must
  // continue at the first byte not yet sent (off advanced by what earlier calls returned).
  // Want::kError with CanSplice() now false: the file cannot be spliced, and the caller
  // sends those bytes another way; with CanSplice() still true: the socket failed.
  Io SpliceFile(int file_fd, uint64_t off, size_t len);
  bool CanSplice();

  // Begins the server side of TLS; then call HandshakeStep until it returns kNone.
  Status BeginTls(SSL_CTX* ctx);
  Want HandshakeStep();
  // Best effort close_notify (nonblocking); the caller closes the fd.
  void ShutdownTls();

 private:
  Want SslWant(int ret);
  void SetNonBlocking(bool on);
  int fd_;
  SSL* ssl_ = nullptr;
  // Splice state: the socket is O_NONBLOCK while splicing (splice has no MSG_DONTWAIT) and is
  // switched back before a blocking read.
  int pipe_[2] = {-1, -1};
  bool pipe_failed_ = false;
  size_t pipe_fill_ = 0;  // bytes in the pipe, not yet in the socket
  bool nonblocking_ = false;
  const std::atomic<bool>* interrupt_ = nullptr;
};

}  // namespace vbs::nbd
