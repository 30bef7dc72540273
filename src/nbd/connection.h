// Connection: one NBD client, served by its own thread from accept to close.
//
// Handshake (connection.cc): drives the Handshake state machine over the socket, with a
// deadline, and upgrades to TLS on STARTTLS. Transmission (transmission.cc): reads many
// requests per recv, runs those that cannot block right on this thread (cached reads, plain
// writes), hands the rest to the shared WorkerPool, and sends every reply that is ready with
// one sendmsg. Replies go out in completion order. Fence() (export removed, server stopping)
// stops the connection at once from any thread; the thread then waits for its in-flight
// requests, detaches from the export and closes the socket — only then does the export
// registry consider the client gone.
#pragma once

#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nbd/admission.h"
#include "nbd/buffer.h"
#include "nbd/executor.h"
#include "nbd/export_registry.h"
#include "nbd/handover.h"
#include "nbd/handshake.h"
#include "nbd/memory_budget.h"
#include "nbd/transport.h"
#include "nbd/worker_pool.h"
#include "nbd/write_gate.h"

namespace vbs::nbd {

struct ConnectionEnv {
  ExportRegistry* registry = nullptr;
  WorkerPool* workers = nullptr;
  SSL_CTX* tls = nullptr;  // STARTTLS offered when set
  bool tls_required = false;
  std::vector<std::string> tls_roles;      // client certificate roles admitted (empty: any)
  std::function<Status(X509*)> tls_admit;  // TlsOptions::admit_client
  bool allow_list = true;                  // HandshakeOptions::allow_list
  Admission* admission = nullptr;          // bounds clients in the handshake; null: unbounded
  MemoryBudget* memory = nullptr;          // shared by the server's connections; null: unbounded
  int handshake_timeout_ms = 30000;
  bool allow_inline = true;  // false: every request goes through the worker pool (tests)
  // Receives a connection that handed itself over (RequestHandover), its socket still open.
  std::function<void(HandedConnection)> on_handover;
};

// The signal that breaks a connection thread's blocking recv for a handover (a no-op handler
// installed without SA_RESTART by the NbdServer).
inline constexpr int kInterruptSignal = SIGURG;

class Connection final : public Fenceable, public std::enable_shared_from_this<Connection> {
 public:
  // Takes ownership of the connected socket `fd`.
  Connection(int fd, ConnectionEnv env);
  // A connection handed over by a predecessor process: transmission goes on where it stopped.
  Connection(HandedConnection adopted, ConnectionEnv env);
  ~Connection() override;

  // The thread body: serves the client until it leaves, errs, or is fenced.
  void Run();
  // Stop serving now (from any thread, never blocks).
  void Fence() override;
  // Asks the connection to stop at a request boundary once everything in flight is answered
  // and to pass its open socket to env.on_handover instead of closing it (never blocks).
  // A connection still waiting in the handshake or under TLS cannot be handed over: it closes.
  void RequestHandover();
  // Breaks a blocking recv of the connection's thread (see kInterruptSignal); repeatable.
  void Interrupt();
  // Asks env.tls_admit again about the client's certificate and fences the connection if it
  // is refused now (from any thread; the question may block, e.g. on a database).
  void RecheckAdmission();

 private:
  friend class TransmissionJob;

  // connection.cc
  bool RunHandshake(Negotiated* neg);
  bool WaitFor(Transport::Want want, int64_t deadline_ms);
  bool SendAll(const std::string& data, int64_t deadline_ms);
  bool StartTls(int64_t deadline_ms);
  // The verified client certificate's role is one env_.tls_roles admits.
  bool TlsRoleAdmitted();
  // Asks env_.tls_admit about the client certificate (Ok without the question).
  Status AdmitCertificate();
  void CloseSocket();

  // transmission.cc
  void Serve(Negotiated& neg);
  bool ProcessInput();
  // `entered`: a write that already passed the export's write gate (received in place).
  void Handle(const Request& req, const uint8_t* payload, Buffer* owned, bool entered = false);
  // Runs a checked request: on this thread if it cannot block, else at a worker. `gated`:
  // it has entered the export's write gate and leaves it once run.
  void Dispatch(const Request& req, const uint8_t* payload, Buffer* owned, bool gated);
  // A write held by a paused export: runs when the export resumes (entered) or is refused.
  void Park(const Request& req, const uint8_t* payload, Buffer* owned);
  void StartAsyncRequest(const Request& req, const uint8_t* payload, Buffer* owned, bool gated);
  bool FlushOut(bool* blocked);
  bool Spliced(const Reply& r);
  void PopSent();
  bool ReadFileData(Reply& r);
  bool ReceivesInPlace(const Request& req) const;
  uint8_t* MappedTarget(const Request& req) const;
  Transport::Io ReceiveInPlace(size_t room);
  void WriteInPlace(const uint8_t* data, size_t len, size_t at);
  void FinishInPlace();
  Buffer KeepPayload(const Request& req, const uint8_t* payload, Buffer* owned);
  void MapDevice();
  void DrainCompleted();
  // A finished request's reply: stamped with the request's charge and queued (connection
  // thread) or handed back to it (Complete, from a worker).
  void Queue(const Request& req, Reply reply);
  void Complete(const Request& req, Reply r);
  // Charges `req` before it is parsed (memory_budget.h); false: not now (backpressure).
  bool TakeCharge(Request* req);
  void ReleaseCharge(const Charge& c);
  void WaitIdle();
  bool Backpressured() const;

  ConnectionEnv env_;
  Transport transport_;
  Peer peer_;  // who connected (peer.h)
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;  // eventfd: worker completions and Fence
  std::mutex fd_mu_;  // guards the socket fd against close while Fence shuts it down
  bool fd_open_ = true;
  std::atomic<bool> handover_{false};  // asked to hand over
  std::atomic<bool> serving_{false};   // past the handshake
  bool handed_over_ = false;           // Serve stopped for a handover (connection thread)
  std::unique_ptr<HandedConnection> adopted_;
  std::mutex cert_mu_;
  X509* admitted_cert_ = nullptr;  // the client certificate env_.tls_admit accepted (owned)
  std::atomic<bool> thread_known_{false};
  pthread_t thread_{};
  void HandOver(const Negotiated& neg);

  // Transmission state (connection thread only, except completed_/inflight_).
  ExecContext ctx_;
  WriteGate* gate_ = nullptr;  // the export's (outlives Serve), null when none
  BufferPool pool_;
  std::vector<uint8_t> rbuf_;
  size_t rstart_ = 0, rend_ = 0;
  bool in_payload_ = false;  // collecting a WRITE payload too large for rbuf_
  Request preq_;
  Buffer pbuf_;
  // Or: the payload goes straight to its place in the device file as it arrives (pin_place_).
  // Such a payload has entered the write gate before its first byte lands (a paused export
  // takes it into a buffer instead, to be held).
  bool pin_place_ = false;
  uint8_t* pmapped_ = nullptr;  // in place through the mapping (else read and pwritten)
  bool pentered_ = false;
  uint32_t perr_ = 0;  // NBD error: part of an in-place payload could not be written
  size_t pfill_ = 0;
  std::deque<Reply> outq_;
  size_t out_head_sent_ = 0;
  size_t out_bytes_ = 0;
  bool disc_ = false;
  size_t charged_ = 0;            // charges of requests parsed whose replies are not yet sent
  bool stalled_ = false;          // ProcessInput stopped: no charge for the next request yet
  bool budget_wait_ = false;      // ... because the server's shared budget was used up
  Throttle* throttle_ = nullptr;  // the export's QoS limits, null: none
  std::chrono::steady_clock::time_point throttled_until_{};  // stalled_ by the throttle
  std::chrono::steady_clock::time_point throttled_since_{};  // when the throttle stalled us
  ExportStats* stats_ = nullptr;  // the export's counters (export_stats.h); null: none

  std::mutex cmu_;
  std::vector<Reply> completed_;
  std::atomic<int> inflight_{0};
};

}  // namespace vbs::nbd
