#include "nbd/nbd_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "nbd/connection.h"

namespace vbs::nbd {

struct NbdServer::Listener {
  int fd = -1;
  std::string path;  // unix listeners
  SslCtxPtr tls;
  bool tls_required = false;
  std::vector<std::string> tls_roles;
  std::function<Status(X509*)> tls_admit;
  bool tcp = false;
  std::thread thread;
};

namespace {

constexpr size_t kConnectionStack = 512 * 1024;  // thousands of clients, thousands of threads

struct ThreadArg {
  std::function<void()> body;
};

void* ThreadMain(void* p) {
  std::unique_ptr<ThreadArg> arg(static_cast<ThreadArg*>(p));
  arg->body();
  return nullptr;
}

}  // namespace

NbdServer::NbdServer(NbdServerOptions options)
    : options_(options),
      admission_(static_cast<size_t>(std::max(1, options.max_handshakes)),
                 static_cast<size_t>(std::max(1, options.max_handshakes_per_uid))),
      memory_(options.max_request_memory),
      workers_(std::make_unique<WorkerPool>(options.worker_threads)) {
  ::signal(SIGPIPE, SIG_IGN);
  // No SA_RESTART: the signal breaks a connection thread's blocking recv for a handover.
  struct sigaction sa = {};
  sa.sa_handler = [](int) {};
  sigemptyset(&sa.sa_mask);
  ::sigaction(kInterruptSignal, &sa, nullptr);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

NbdServer::~NbdServer() {
  Stop();
  workers_.reset();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Status NbdServer::AddExport(const std::string& name, std::shared_ptr<BlockDevice> device,
                            bool read_only, std::string description) {
  ExportRegistry::Spec spec;
  spec.name = name;
  spec.description = std::move(description);
  spec.read_only = read_only;
  spec.device = std::move(device);
  return registry_.Add(std::move(spec));
}

Status NbdServer::AddExport(const std::string& name, DeviceFactory factory, bool read_only,
                            ExportOptions options) {
  ExportRegistry::Spec spec;
  spec.name = name;
  spec.description = std::move(options.description);
  spec.read_only = read_only;
  spec.factory = std::move(factory);
  spec.factory_shares_device = options.factory_shares_device;
  spec.lease = std::move(options.lease);
  spec.consumer = options.consumer;
  spec.throttle = std::move(options.throttle);
  spec.stats = std::move(options.stats);
  return registry_.Add(std::move(spec));
}

Status NbdServer::AddExport(const std::string& name, DeviceFactory factory, bool read_only) {
  return AddExport(name, std::move(factory), read_only, ExportOptions{});
}

Status NbdServer::RemoveExport(const std::string& name) {
  return registry_.Remove(name);
}

void NbdServer::SetDefaultExport(const std::string& name) {
  registry_.SetDefault(name);
}

size_t NbdServer::connection_count() {
  std::lock_guard lock(mu_);
  return conns_.size();
}

Status NbdServer::ListenUnix(const std::string& path, const TlsOptions* tls) {
  SslCtxPtr ctx;
  if (tls != nullptr) {
    auto r = MakeServerTlsContext(*tls);
    if (!r.ok()) return r.status();
    ctx = std::move(r).value();
  }
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("InvalidParameterValue", "socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno("socket", errno);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1024) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("bind/listen " + path, err);
  }
  VBS_RETURN_IF_ERROR(AddListener(fd, std::move(ctx), /*tls_required=*/false, /*tcp=*/false,
                                  tls != nullptr && !tls->ca_file.empty() ? tls : nullptr));
  std::lock_guard lock(mu_);
  listeners_.back()->path = path;
  return Status::Ok();
}

Status NbdServer::AdoptListener(const HandedListener& l) {
  (void)::fcntl(l.fd, F_SETFD, FD_CLOEXEC);
  VBS_RETURN_IF_ERROR(AddListener(l.fd, nullptr, /*tls_required=*/false, /*tcp=*/false));
  std::lock_guard lock(mu_);
  listeners_.back()->path = l.path;
  return Status::Ok();
}

Status NbdServer::AdoptConnection(HandedConnection c) {
  auto conn = std::make_shared<Connection>(std::move(c), Env(nullptr));
  return Launch(conn) ? Status::Ok() : Status::Unavailable("cannot start a connection thread");
}

Result<ServerHandover> NbdServer::Handover(std::chrono::milliseconds timeout) {
  ServerHandover out;
  std::vector<std::unique_ptr<Listener>> listeners;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("the NBD server is stopping");
    stopping_ = true;  // no new clients: the listeners wait for our successor
    handing_over_ = true;
    listeners.swap(listeners_);
  }
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  for (auto& l : listeners) {
    if (l->thread.joinable()) l->thread.join();
    if (!l->tcp && l->tls == nullptr) {
      out.listeners.push_back({l->fd, l->path});
    } else {
      ::close(l->fd);  // TCP clients use TLS, whose sessions cannot move: they reconnect
    }
  }
  std::unique_lock lock(mu_);
  for (const auto& c : conns_) c->RequestHandover();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!conns_.empty()) {
    // Nudged again and again: a thread may enter its blocking recv just after a nudge.
    for (const auto& c : conns_) c->Interrupt();
    if (std::chrono::steady_clock::now() >= deadline) {
      for (const auto& c : conns_) c->Fence();
      cv_.wait(lock, [&] { return conns_.empty(); });
      break;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  out.connections.swap(handed_);
  return out;
}

namespace {

Result<int> BindTcp(const std::string& host, uint16_t port) {
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "cannot resolve " + host + ": " + gai_strerror(rc));
  }
  int err = 0;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    err = errno;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return Status::FromErrno("bind/listen " + host + ":" + service, err);
}

uint16_t BoundPort(int fd) {
  struct sockaddr_storage ss = {};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

Result<uint16_t> NbdServer::ListenTcp(const std::string& host, uint16_t port,
                                      const TlsOptions& tls) {
  VBS_ASSIGN_OR_RETURN(SslCtxPtr ctx, MakeServerTlsContext(tls));
  VBS_ASSIGN_OR_RETURN(int fd, BindTcp(host, port));
  uint16_t bound = BoundPort(fd);
  VBS_RETURN_IF_ERROR(AddListener(fd, std::move(ctx), /*tls_required=*/true, /*tcp=*/true,
                                  tls.ca_file.empty() ? nullptr : &tls));
  return bound;
}

Result<uint16_t> NbdServer::ListenTcpInsecure(const std::string& host, uint16_t port) {
  VBS_ASSIGN_OR_RETURN(int fd, BindTcp(host, port));
  uint16_t bound = BoundPort(fd);
  VBS_RETURN_IF_ERROR(AddListener(fd, nullptr, /*tls_required=*/false, /*tcp=*/true));
  return bound;
}

Status NbdServer::AddListener(int fd, SslCtxPtr tls, bool tls_required, bool tcp,
                              const TlsOptions* client) {
  std::lock_guard lock(mu_);
  if (stopping_) {
    ::close(fd);
    return Status::Unavailable("server is stopping");
  }
  auto l = std::make_unique<Listener>();
  l->fd = fd;
  l->tls = std::move(tls);
  l->tls_required = tls_required;
  if (client != nullptr) {
    l->tls_roles = client->client_roles;
    l->tls_admit = client->admit_client;
  }
  l->tcp = tcp;
  Listener* raw = l.get();
  l->thread = std::thread([this, raw] { AcceptLoop(raw); });
  listeners_.push_back(std::move(l));
  return Status::Ok();
}

void NbdServer::RecheckTlsClients() {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(mu_);
    conns.assign(conns_.begin(), conns_.end());
  }
  for (const auto& c : conns) c->RecheckAdmission();
}

void NbdServer::AcceptLoop(Listener* l) {
  while (!stopping_.load()) {
    struct pollfd p[2] = {{l->fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents || stopping_.load()) return;
    int fd = ::accept4(l->fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) ::usleep(10000);  // out of fds: back off
      continue;
    }
    StartConnection(fd, l);
  }
}

void NbdServer::StartConnection(int fd, Listener* l) {
  if (l->tcp) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  } else {
    // A unix socket's default send buffer (~200 KiB) splits every 1 MiB reply into several
    // wake-ups of both sides; TCP tunes itself, unix sockets do not.
    int sndbuf = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  Launch(std::make_shared<Connection>(fd, Env(l)));
}

ConnectionEnv NbdServer::Env(const Listener* l) {
  ConnectionEnv env;
  env.registry = &registry_;
  env.workers = workers_.get();
  env.tls = l != nullptr ? l->tls.get() : nullptr;
  env.tls_required = l != nullptr && l->tls_required;
  if (l != nullptr) {
    env.tls_roles = l->tls_roles;
    env.tls_admit = l->tls_admit;
  }
  env.allow_list = options_.allow_list;
  env.admission = &admission_;
  env.memory = &memory_;
  env.handshake_timeout_ms = options_.handshake_timeout_ms;
  env.allow_inline = options_.allow_inline;
  env.on_handover = [this](HandedConnection h) {
    std::lock_guard lock(mu_);
    handed_.push_back(std::move(h));
  };
  return env;
}

bool NbdServer::Launch(const std::shared_ptr<Connection>& conn) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || conns_.size() >= static_cast<size_t>(options_.max_connections)) {
      return false;  // conn's destructor closes its socket
    }
    conns_.insert(conn);
  }
  auto* arg = new ThreadArg{[this, conn] {
    conn->Run();
    ConnectionDone(conn);
  }};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kConnectionStack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  int rc = ::pthread_create(&tid, &attr, ThreadMain, arg);
  pthread_attr_destroy(&attr);
  if (rc != 0) {  // out of threads: drop this client, keep serving the others
    delete arg;
    ConnectionDone(conn);
    return false;
  }
  return true;
}

void NbdServer::ConnectionDone(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(mu_);
  conns_.erase(c);
  cv_.notify_all();
}

void NbdServer::Stop() {
  std::vector<std::unique_ptr<Listener>> listeners;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    listeners.swap(listeners_);
  }
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  for (auto& l : listeners) {
    if (l->thread.joinable()) l->thread.join();
    ::close(l->fd);
  }
  std::unique_lock lock(mu_);
  for (const auto& c : conns_) c->Fence();
  cv_.wait(lock, [&] { return conns_.empty(); });
}

}  // namespace vbs::nbd
