#include "nbd/transport.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace vbs::nbd {

Transport::~Transport() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  for (int fd : pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void Transport::SetNonBlocking(bool on) {
  if (nonblocking_ == on) return;
  int fl = ::fcntl(fd_, F_GETFL);
  if (fl >= 0 && ::fcntl(fd_, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == 0) {
    nonblocking_ = on;
  }
}

bool Transport::CanSplice() {
  if (ssl_ != nullptr || pipe_failed_) return false;
  if (pipe_[0] >= 0) return true;
  // Unix sockets only. Over loopback TCP (bench/nbd, 1 MiB reads) splicing was measured
  // slower than copying: the client then copies page by page out of many small fragments,
  // and the sender paid more in the pacing path, so copying stays the TCP path.
  int domain = 0;
  socklen_t dlen = sizeof domain;
  if (::getsockopt(fd_, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) != 0 || domain != AF_UNIX ||
      ::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    pipe_failed_ = true;
    return false;
  }
  // A pipe as large as a whole 1 MiB read halves the splice calls; the default (64 KiB)
  // works too, only with more calls.
  (void)::fcntl(pipe_[1], F_SETPIPE_SZ, 1 << 20);
  return true;
}

Transport::Io Transport::SpliceFile(int file_fd, uint64_t off, size_t len) {
  if (!CanSplice()) return {0, Want::kError};
  SetNonBlocking(true);
  if (pipe_fill_ == 0) {
    loff_t from = static_cast<loff_t>(off);
    for (;;) {
      ssize_t n =
          ::splice(file_fd, &from, pipe_[1], nullptr, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        pipe_fill_ = static_cast<size_t>(n);
        break;
      }
      if (n < 0 && errno == EINTR) continue;
      // The file cannot be spliced (or ended early): stop trying, the caller copies instead.
      pipe_failed_ = true;
      return {0, Want::kError};
    }
  }
  for (;;) {
    // SPLICE_F_MORE: more of this reply follows (as MSG_MORE for sendmsg).
    ssize_t n =
        ::splice(pipe_[0], nullptr, fd_, nullptr, pipe_fill_,
                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (len > pipe_fill_ ? SPLICE_F_MORE : 0));
    if (n > 0) {
      pipe_fill_ -= static_cast<size_t>(n);
      return {static_cast<size_t>(n), Want::kNone};
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {0, Want::kWrite};
    return {0, Want::kError};
  }
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
  SetNonBlocking(false);
  for (;;) {
    ssize_t n = ::recv(fd_, buf, len, 0);
    if (n > 0) return {static_cast<size_t>(n), Want::kNone};
    if (n == 0) return {0, Want::kEof};
    if (errno == EINTR) {
      if (interrupt_ != nullptr && interrupt_->load()) return {0, Want::kRead};
      continue;
    }
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
