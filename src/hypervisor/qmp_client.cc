#include "hypervisor/qmp_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace vbs::hypervisor {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

Status Timeout(const std::string& what) {
  return Status(StatusKind::kUnavailable, "QmpTimeout", "QMP: timed out " + what);
}

Status Disconnected(const std::string& why) {
  return Status(StatusKind::kUnavailable, "QmpDisconnected",
                "QMP connection closed (" + why + "): the VM has exited or closed its monitor");
}

Status ProtocolError(const std::string& why) {
  return Status(StatusKind::kInternal, "QmpProtocolError", "QMP: " + why);
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 60000 ? 60000 : static_cast<int>(left.count());
}

}  // namespace

Status QmpErrorStatus(const json& error, const std::string& command) {
  std::string cls = "GenericError";
  std::string desc = "unknown error";
  if (error.is_object()) {
    auto c = error.find("class");
    if (c != error.end() && c->is_string()) cls = c->get<std::string>();
    auto d = error.find("desc");
    if (d != error.end() && d->is_string()) desc = d->get<std::string>();
  }
  StatusKind kind = StatusKind::kIoError;
  if (cls == "DeviceNotFound") kind = StatusKind::kNotFound;
  if (cls == "CommandNotFound") kind = StatusKind::kInvalidArgument;
  return Status(kind, "Qmp." + cls, command + ": " + desc);
}

bool IsQmpError(const Status& status, const std::string& qmp_class) {
  return !status.ok() && status.code() == "Qmp." + qmp_class;
}

QmpClient::QmpClient(int fd, Options options) : fd_(fd), options_(options) {}

pid_t QmpClient::peer_pid() const {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd_, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return 0;
  return cred.pid;
}

QmpClient::~QmpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool QmpClient::connected() const {
  std::lock_guard lock(mu_);
  return dead_.ok();
}

Result<std::unique_ptr<QmpClient>> QmpClient::Connect(const std::string& socket_path,
                                                      const Options& options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("QmpBadSocketPath",
                                   "QMP socket path empty or too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  const auto deadline = Clock::now() + options.connect_timeout;
  while (true) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return Status::FromErrno("socket", errno);
    // Non-blocking: a unix-socket connect to a live listener succeeds at once (it queues in
    // the backlog) unless the backlog is full — QEMU listens with a backlog of 1, so one
    // client being served plus one waiting fills it — and then it answers EAGAIN where a
    // blocking connect would hang. A missing or dead socket fails at once.
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return FromFd(fd, options);
    }
    int err = errno;
    ::close(fd);
    if (err != EAGAIN) {
      return Status(StatusKind::kUnavailable, "QmpConnectFailed",
                    "QMP connect " + socket_path + ": " + std::strerror(err));
    }
    if (Clock::now() >= deadline) {
      return Timeout("connecting to " + socket_path +
                     ": its backlog is full (other clients hold this QMP socket)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<std::unique_ptr<QmpClient>> QmpClient::FromFd(int fd, const Options& options) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("fcntl(O_NONBLOCK)", err);
  }
  std::unique_ptr<QmpClient> client(new QmpClient(fd, options));
  VBS_RETURN_IF_ERROR(client->Handshake());
  return client;
}

Status QmpClient::Handshake() {
  std::lock_guard lock(mu_);
  const auto deadline = Clock::now() + options_.connect_timeout;
  auto greeting = ReadMessage(deadline);
  if (!greeting.ok()) {
    if (greeting.status().code() == "QmpTimeout") {
      return Fail(
          Timeout("waiting for the greeting (is another client connected to this "
                  "QMP socket? it serves one at a time)"));
    }
    return greeting.status();
  }
  auto qmp = greeting->find("QMP");
  if (qmp == greeting->end() || !qmp->is_object()) {
    return Fail(ProtocolError("no QMP greeting, got " + greeting->dump()));
  }
  greeting_ = *qmp;
  // Reuse Execute's logic without re-locking: send + wait for the reply by id.
  const uint64_t id = next_id_++;
  json cmd = {{"execute", "qmp_capabilities"}, {"id", id}};
  VBS_RETURN_IF_ERROR(WriteAll(cmd.dump() + "\n", deadline));
  while (true) {
    auto msg = ReadMessage(deadline);
    if (!msg.ok()) return msg.status();
    if (msg->contains("event")) {
      QueueEvent(*msg);
      continue;
    }
    auto rid = msg->find("id");
    if (rid == msg->end() || *rid != id) continue;
    if (auto err = msg->find("error"); err != msg->end()) {
      return Fail(QmpErrorStatus(*err, "qmp_capabilities"));
    }
    return Status::Ok();
  }
}

Status QmpClient::Fail(Status status) {
  if (dead_.ok()) dead_ = status;
  return status;
}

Status QmpClient::WriteAll(const std::string& data, Clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int timeout_ms = MillisLeft(deadline);
      if (timeout_ms == 0) return Fail(Timeout("sending a command"));
      if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR) {
        return Fail(Status::FromErrno("poll", errno));
      }
      continue;
    }
    return Fail(Disconnected(std::string("send: ") + std::strerror(errno)));
  }
  return Status::Ok();
}

Result<json> QmpClient::ReadMessage(Clock::time_point deadline) {
  while (true) {
    if (!dead_.ok()) return dead_;
    size_t nl = inbuf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = inbuf_.substr(0, nl);
      inbuf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      json msg = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (msg.is_discarded() || !msg.is_object()) {
        // The stream is no longer trustworthy: a reply could be lost or misattributed.
        return Fail(ProtocolError("malformed message: " + line.substr(0, 200)));
      }
      return msg;
    }
    if (inbuf_.size() > options_.max_message_bytes) {
      return Fail(ProtocolError("message longer than " +
                                std::to_string(options_.max_message_bytes) + " bytes"));
    }
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      inbuf_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return Fail(Disconnected("EOF"));
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Fail(Disconnected(std::string("recv: ") + std::strerror(errno)));
    }
    int timeout_ms = MillisLeft(deadline);
    if (timeout_ms == 0) return Timeout("waiting for QEMU");
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR) {
      return Fail(Status::FromErrno("poll", errno));
    }
  }
}

Status QmpClient::DrainNonBlocking() {
  while (true) {
    auto msg = ReadMessage(Clock::now());
    if (!msg.ok()) {
      return msg.status().code() == "QmpTimeout" ? Status::Ok() : msg.status();
    }
    // Outside a command only events are expected; a stray reply (to a command that timed
    // out earlier) is dropped.
    if (msg->contains("event")) QueueEvent(*msg);
  }
}

void QmpClient::QueueEvent(const json& msg) {
  QmpEvent ev;
  if (auto e = msg.find("event"); e != msg.end() && e->is_string()) ev.name = e->get<std::string>();
  auto d = msg.find("data");
  ev.data = (d != msg.end() && d->is_object()) ? *d : json::object();
  if (auto t = msg.find("timestamp"); t != msg.end()) ev.timestamp = *t;
  events_.push_back(std::move(ev));
  while (events_.size() > options_.max_queued_events) events_.pop_front();
}

std::optional<QmpEvent> QmpClient::PopEvent(const std::string& name,
                                            const std::function<bool(const QmpEvent&)>& predicate) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (it->name == name && (!predicate || predicate(*it))) {
      QmpEvent ev = std::move(*it);
      events_.erase(it);
      return ev;
    }
  }
  return std::nullopt;
}

Result<json> QmpClient::Execute(const std::string& command, const json& arguments,
                                std::optional<std::chrono::milliseconds> timeout) {
  std::lock_guard lock(mu_);
  if (!dead_.ok()) return dead_;
  if (!arguments.is_null() && !arguments.is_object()) {
    return Status::InvalidArgument("QmpBadArguments", command + ": arguments must be an object");
  }
  const auto deadline = Clock::now() + timeout.value_or(options_.command_timeout);
  const uint64_t id = next_id_++;
  json cmd = {{"execute", command}, {"id", id}};
  if (!arguments.is_null()) cmd["arguments"] = arguments;
  VBS_RETURN_IF_ERROR(WriteAll(cmd.dump() + "\n", deadline));
  while (true) {
    auto msg = ReadMessage(deadline);
    if (!msg.ok()) {
      if (msg.status().code() == "QmpTimeout") return Timeout("waiting for " + command);
      return msg.status();
    }
    if (msg->contains("event")) {
      QueueEvent(*msg);
      continue;
    }
    auto rid = msg->find("id");
    if (rid == msg->end() || *rid != id) continue;  // a late reply to an abandoned command
    if (auto err = msg->find("error"); err != msg->end()) return QmpErrorStatus(*err, command);
    if (auto ret = msg->find("return"); ret != msg->end()) return *ret;
    return Fail(ProtocolError(command + ": reply has neither return nor error"));
  }
}

Result<QmpEvent> QmpClient::WaitForEvent(const std::string& name,
                                         const std::function<bool(const QmpEvent&)>& predicate,
                                         std::chrono::milliseconds timeout) {
  std::lock_guard lock(mu_);
  const auto deadline = Clock::now() + timeout;
  // Events may already sit unread in the socket; queue them before looking.
  Status drained = DrainNonBlocking();
  if (auto ev = PopEvent(name, predicate)) return *ev;
  if (!drained.ok()) return drained;
  while (true) {
    auto msg = ReadMessage(deadline);
    if (!msg.ok()) {
      if (msg.status().code() == "QmpTimeout") return Timeout("waiting for event " + name);
      return msg.status();
    }
    if (!msg->contains("event")) continue;  // a late reply to an abandoned command
    QueueEvent(*msg);
    if (auto ev = PopEvent(name, predicate)) return *ev;
  }
}

std::vector<QmpEvent> QmpClient::TakeEvents() {
  std::lock_guard lock(mu_);
  (void)DrainNonBlocking();  // a dead connection still hands over what was queued
  std::vector<QmpEvent> out(std::make_move_iterator(events_.begin()),
                            std::make_move_iterator(events_.end()));
  events_.clear();
  return out;
}

}  // namespace vbs::hypervisor
