#include "nbd/connection.h"
#include "nbd/tls.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace vbs::nbd {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Connection::Connection(int fd, ConnectionEnv env)
    : env_(env), transport_(fd), peer_(UnixPeerOf(fd)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Connection::Connection(HandedConnection adopted, ConnectionEnv env)
    : env_(env), transport_(adopted.fd), peer_(UnixPeerOf(adopted.fd)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  // Transport starts from a blocking socket; the predecessor may have left it nonblocking.
  int fl = ::fcntl(adopted.fd, F_GETFL);
  if (fl >= 0) (void)::fcntl(adopted.fd, F_SETFL, fl & ~O_NONBLOCK);
  (void)::fcntl(adopted.fd, F_SETFD, FD_CLOEXEC);
  adopted_ = std::make_unique<HandedConnection>(std::move(adopted));
}

void Connection::RequestHandover() {
  if (serving_.load() && transport_.tls()) {
    Fence();  // a TLS session's keys cannot move to another process
    return;
  }
  // A client still haggling is dropped where it waits (WaitFor); one whose handshake has just
  // ended goes on to Serve, which hands it over at once.
  handover_.store(true);
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  Interrupt();
}

void Connection::Interrupt() {
  if (thread_known_.load()) ::pthread_kill(thread_, kInterruptSignal);
}

void Connection::HandOver(const Negotiated& neg) {
  HandedConnection h;
  h.export_name = neg.exp.name;
  h.structured = neg.structured;
  h.base_allocation = neg.base_allocation;
  h.pending.assign(reinterpret_cast<const char*>(rbuf_.data()) + rstart_, rend_ - rstart_);
  {
    std::lock_guard lock(fd_mu_);
    h.fd = transport_.fd();
    fd_open_ = false;  // the socket is no longer ours to close
  }
  if (env_.on_handover) {
    env_.on_handover(std::move(h));
  } else {
    ::close(h.fd);
  }
}

Connection::~Connection() {
  if (admitted_cert_ != nullptr) X509_free(admitted_cert_);
  CloseSocket();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Connection::Fence() {
  stop_.store(true);
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  // Also break a blocking recv on the plain fast path.
  std::lock_guard lock(fd_mu_);
  if (fd_open_) ::shutdown(transport_.fd(), SHUT_RDWR);
}

void Connection::CloseSocket() {
  std::lock_guard lock(fd_mu_);
  if (!fd_open_) return;
  fd_open_ = false;
  ::close(transport_.fd());
}

void Connection::Run() {
  thread_ = ::pthread_self();
  thread_known_.store(true);
  transport_.SetInterrupt(&handover_);
  if (wake_fd_ < 0) {
    CloseSocket();
    return;
  }
  Negotiated neg;
  bool ready = false;
  if (adopted_ != nullptr) {
    // Handed over: the client negotiated with our predecessor; go on with the same options.
    auto exp = env_.registry->Open(adopted_->export_name, peer_);
    if (exp.ok()) {
      neg.exp = std::move(exp).value();
      neg.structured = adopted_->structured;
      neg.base_allocation = adopted_->base_allocation;
      rbuf_.assign(std::max<size_t>(256 * 1024, adopted_->pending.size()), 0);
      std::memcpy(rbuf_.data(), adopted_->pending.data(), adopted_->pending.size());
      rstart_ = 0;
      rend_ = adopted_->pending.size();
      ready = true;
    }
    adopted_.reset();
  } else if (env_.admission == nullptr || env_.admission->Enter(peer_)) {
    ready = RunHandshake(&neg);
    if (env_.admission != nullptr) env_.admission->Leave(peer_);
  }
  if (ready && !stop_.load()) {
    if (env_.registry->Attach(neg.exp, this)) {
      serving_.store(true);
      Serve(neg);
      if (handed_over_) {
        env_.registry->Detach(neg.exp, this);
        HandOver(neg);
        return;
      }
      transport_.ShutdownTls();
      CloseSocket();
      env_.registry->Detach(neg.exp, this);
      return;
    }
  }
  transport_.ShutdownTls();
  CloseSocket();
}

bool Connection::WaitFor(Transport::Want want, int64_t deadline_ms) {
  if (want == Transport::Want::kEof || want == Transport::Want::kError) return false;
  for (;;) {
    if (stop_.load() || handover_.load()) return false;
    int64_t left = deadline_ms - NowMs();
    if (left <= 0) return false;
    struct pollfd p[2] = {
        {transport_.fd(), static_cast<short>(want == Transport::Want::kWrite ? POLLOUT : POLLIN),
         0},
        {wake_fd_, POLLIN, 0}};
    int n = ::poll(p, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) continue;
    if (p[1].revents & POLLIN) {
      uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
      continue;  // re-checks stop_
    }
    if (p[0].revents) return true;  // ready, or error/hangup the next call will report
  }
}

bool Connection::SendAll(const std::string& data, int64_t deadline_ms) {
  size_t off = 0;
  while (off < data.size()) {
    struct iovec iov = {const_cast<char*>(data.data()) + off, data.size() - off};
    Transport::Io io = transport_.Writev(&iov, 1);
    if (io.n > 0) {
      off += io.n;
      continue;
    }
    if (!WaitFor(io.want, deadline_ms)) return false;
  }
  return true;
}

bool Connection::StartTls(int64_t deadline_ms) {
  // OpenSSL does plain read()/write() on the fd, so it must be nonblocking from now on.
  int fl = ::fcntl(transport_.fd(), F_GETFL);
  if (fl < 0 || ::fcntl(transport_.fd(), F_SETFL, fl | O_NONBLOCK) < 0) return false;
  if (!transport_.BeginTls(env_.tls).ok()) return false;
  for (;;) {
    Transport::Want w = transport_.HandshakeStep();
    if (w == Transport::Want::kNone) return true;
    if (!WaitFor(w, deadline_ms)) return false;
  }
}

bool Connection::TlsRoleAdmitted() {
  if (env_.tls_roles.empty()) return true;
  const std::string role = PeerCertificateRole(transport_.ssl());
  for (const auto& r : env_.tls_roles) {
    if (r == role) return true;
  }
  return false;
}

Status Connection::AdmitCertificate() {
  if (!env_.tls_admit) return Status::Ok();
  X509* cert = SSL_get1_peer_certificate(transport_.ssl());
  if (cert == nullptr) return Status::Unauthenticated("AuthFailure", "no client certificate");
  Status st = env_.tls_admit(cert);
  if (!st.ok()) {
    spdlog::warn("nbd: client certificate refused: {}", st.ToString());
    X509_free(cert);
    return st;
  }
  std::lock_guard lock(cert_mu_);
  admitted_cert_ = cert;
  return st;
}

void Connection::RecheckAdmission() {
  X509* cert = nullptr;
  {
    std::lock_guard lock(cert_mu_);
    if (admitted_cert_ == nullptr || !env_.tls_admit) return;
    cert = admitted_cert_;
    X509_up_ref(cert);
  }
  Status st = env_.tls_admit(cert);
  X509_free(cert);
  if (st.ok()) return;
  spdlog::warn("nbd: client certificate no longer admitted, disconnecting: {}", st.ToString());
  Fence();
}

bool Connection::RunHandshake(Negotiated* neg) {
  const int64_t deadline = NowMs() + env_.handshake_timeout_ms;
  HandshakeOptions opts;
  opts.tls_available = env_.tls != nullptr;
  opts.tls_required = env_.tls_required;
  opts.allow_list = env_.allow_list;
  Handshake hs(env_.registry, opts, peer_);
  std::string out;
  hs.Start(&out);
  if (!SendAll(out, deadline)) return false;

  std::vector<uint8_t> in(64 * 1024);
  size_t have = 0;
  for (;;) {
    size_t used = 0;
    out.clear();
    Handshake::Step step = hs.Feed(in.data(), have, &used, &out);
    std::memmove(in.data(), in.data() + used, have - used);
    have -= used;
    if (!out.empty() && !SendAll(out, deadline)) return false;
    switch (step) {
      case Handshake::Step::kClose:
        return false;
      case Handshake::Step::kStartTls:
        // Bytes the client sent before our ACK cannot be TLS records: a protocol violation.
        if (have > 0 || transport_.HasBuffered()) return false;
        if (!StartTls(deadline)) return false;
        if (!TlsRoleAdmitted()) return false;
        hs.OnTlsStarted(PeerCertificateRole(transport_.ssl()));
        if (Status st = AdmitCertificate(); !st.ok()) hs.Refuse(st.code() + ": " + st.message());
        continue;
      case Handshake::Step::kTransmission:
        *neg = std::move(hs.negotiated());
        rbuf_.assign(256 * 1024, 0);
        std::memcpy(rbuf_.data(), in.data(), have);  // requests sent right after GO
        rstart_ = 0;
        rend_ = have;
        return true;
      case Handshake::Step::kNeedMore:
        break;
    }
    if (have == in.size()) return false;  // cannot happen: Feed consumes all but a header
    Transport::Io io = transport_.Read(in.data() + have, in.size() - have);
    if (io.n > 0) {
      have += io.n;
      continue;
    }
    if (!WaitFor(io.want, deadline)) return false;
  }
}

}  // namespace vbs::nbd
