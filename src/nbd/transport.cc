#include "nbd/transport.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace vbs::nbd {

Transport::~Transport() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

Transport::Want Transport::SslWant(int ret) {
  int e = SSL_get_error(ssl_, ret);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return Want::kRead;
    case SSL_ERROR_WANT_WRITE:
      return Want::kWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Want::kEof;
    default:
      ERR_clear_error();
      return Want::kError;
  }
}

Transport::Io Transport::Read(void* buf, size_t len) {
  if (ssl_ != nullptr) {
    size_t n = 0;
    int ret = SSL_read_ex(ssl_, buf, len, &n);
    if (ret == 1) return {n, Want::kNone};
    return {0, SslWant(ret)};
  }
  for (;;) {
    ssize_t n = ::recv(fd_, buf, len, MSG_DONTWAIT);
    if (n > 0) return {static_cast<size_t>(n), Want::kNone};
    if (n == 0) return {0, Want::kEof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, Want::kRead};
    return {0, Want::kError};
  }
}

Transport::Io Transport::ReadBlocking(void* buf, size_t len) {
  for (;;) {
    ssize_t n = ::recv(fd_, buf, len, 0);
    if (n > 0) return {static_cast<size_t>(n), Want::kNone};
    if (n == 0) return {0, Want::kEof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, Want::kRead};
    return {0, Want::kError};
  }
}

Transport::Io Transport::Writev(const struct iovec* iov, int count) {
  if (ssl_ != nullptr) {
    size_t total = 0;
    for (int i = 0; i < count; ++i) {
      size_t n = 0;
      int ret = SSL_write_ex(ssl_, iov[i].iov_base, iov[i].iov_len, &n);
      if (ret != 1) {
        if (total > 0) return {total, Want::kNone};
        return {0, SslWant(ret)};
      }
      total += n;
      if (n < iov[i].iov_len) break;
    }
    return {total, Want::kNone};
  }
  struct msghdr msg = {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(count);
  for (;;) {
    ssize_t n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return {static_cast<size_t>(n), n > 0 ? Want::kNone : Want::kWrite};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {0, Want::kWrite};
    return {0, Want::kError};
  }
}

Status Transport::BeginTls(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
    ERR_clear_error();
    return Status::Internal("SSL_new failed");
  }
  SSL_set_accept_state(ssl_);
  return Status::Ok();
}

Transport::Want Transport::HandshakeStep() {
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) return Want::kNone;
  Want w = SslWant(ret);
  return w == Want::kEof ? Want::kError : w;
}

void Transport::ShutdownTls() {
  if (ssl_ == nullptr) return;
  SSL_shutdown(ssl_);  // one nonblocking attempt at close_notify; the peer may be gone
  ERR_clear_error();
}

}  // namespace vbs::nbd
