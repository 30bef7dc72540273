// QmpClient: a blocking QEMU Machine Protocol client over a unix socket.
//
// Contract:
// - Connect() connects, reads the greeting and negotiates capabilities (qmp_capabilities);
//   every step is bounded by Options::connect_timeout. A QMP socket serves one client at a
//   time: while another client holds it, QEMU never sends us a greeting, so Connect fails
//   with Unavailable "QmpTimeout" instead of hanging.
// - Execute() sends one command (with an "id" so a late reply to an earlier, timed-out
//   command is never taken for this one) and returns its "return" value. A QMP error becomes
//   a Status with code "Qmp.<class>" (e.g. "Qmp.DeviceNotFound", "Qmp.GenericError") and the
//   QMP "desc" as message; DeviceNotFound maps to kNotFound, CommandNotFound to
//   kInvalidArgument, the rest to kIoError.
// - Events that arrive at any time are queued (bounded: the oldest are dropped beyond
//   Options::max_queued_events) and consumed by WaitForEvent() or TakeEvents().
// - When QEMU goes away (EOF, reset) every call fails fast with Unavailable
//   "QmpDisconnected"; a timeout fails with Unavailable "QmpTimeout". Nothing throws.
// - Calls are serialised by a mutex; one QmpClient may be shared by threads, but each call
//   holds the connection for its whole duration.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs::hypervisor {

struct QmpEvent {
  std::string name;          // "DEVICE_DELETED", "BLOCK_IO_ERROR", …
  nlohmann::json data;       // the event's "data" object ({} when absent)
  nlohmann::json timestamp;  // {"seconds": …, "microseconds": …} as QEMU sent it
};

class QmpClient {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{5000};   // connect + greeting + capabilities
    std::chrono::milliseconds command_timeout{30000};  // default for Execute
    size_t max_queued_events = 1024;
    size_t max_message_bytes = 64u << 20;  // a longer line is a protocol error
  };

  // Connects to QEMU's QMP unix socket at `socket_path`.
  static Result<std::unique_ptr<QmpClient>> Connect(const std::string& socket_path,
                                                    const Options& options);
  static Result<std::unique_ptr<QmpClient>> Connect(const std::string& socket_path) {
    return Connect(socket_path, Options{});
  }
  // Takes ownership of an already connected stream socket (tests use a socketpair) and does
  // the greeting + capabilities handshake on it.
  static Result<std::unique_ptr<QmpClient>> FromFd(int fd, const Options& options);

  ~QmpClient();
  // The process at the other end of the socket (SO_PEERCRED: the QEMU that listens), 0 if
  // unknown. The agent names it the only consumer of the VM's exports (nbd/peer.h).
  pid_t peer_pid() const;
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Runs `command` with `arguments` (an object, or null for none). `timeout` defaults to
  // Options::command_timeout.
  Result<nlohmann::json> Execute(const std::string& command,
                                 const nlohmann::json& arguments = nullptr,
                                 std::optional<std::chrono::milliseconds> timeout = {});

  // Returns (and removes from the queue) the first event named `name` for which `predicate`
  // holds (null predicate = any), reading from QEMU until `timeout` passes.
  Result<QmpEvent> WaitForEvent(const std::string& name,
                                const std::function<bool(const QmpEvent&)>& predicate,
                                std::chrono::milliseconds timeout);

  // Events queued so far (read without blocking first), oldest first; the queue is emptied.
  std::vector<QmpEvent> TakeEvents();

  // The greeting's "QMP" object: {"version": {...}, "capabilities": [...]}.
  const nlohmann::json& greeting() const { return greeting_; }
  bool connected() const;

 private:
  using Clock = std::chrono::steady_clock;
  QmpClient(int fd, Options options);

  Status Handshake();
  // Reads one complete message (a JSON object) before `deadline`.
  Result<nlohmann::json> ReadMessage(Clock::time_point deadline);
  // Reads whatever is available now without blocking; queues events found.
  Status DrainNonBlocking();
  Status WriteAll(const std::string& data, Clock::time_point deadline);
  Status Fail(Status status);  // marks the connection dead, returns `status`
  void QueueEvent(const nlohmann::json& msg);
  std::optional<QmpEvent> PopEvent(const std::string& name,
                                   const std::function<bool(const QmpEvent&)>& predicate);

  mutable std::mutex mu_;
  int fd_;
  Options options_;
  std::string inbuf_;
  std::deque<QmpEvent> events_;
  nlohmann::json greeting_;
  uint64_t next_id_ = 1;
  Status dead_;  // not OK once the connection is unusable: returned by every later call
};

// The Status for a QMP {"error": {"class", "desc"}} reply (exposed for tests).
Status QmpErrorStatus(const nlohmann::json& error, const std::string& command);

// True when `status` is a QMP error of class `qmp_class` (e.g. "DeviceNotFound").
bool IsQmpError(const Status& status, const std::string& qmp_class);

}  // namespace vbs::hypervisor
