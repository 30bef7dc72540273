// NbdServer: serves BlockDevices over NBD on unix sockets and TCP (with STARTTLS).
//
//   NbdServer server;
//   server.AddExport(NewExportName(), device, /*read_only=*/false, "vol-0123");
//   server.ListenUnix("/run/vbs/nbd.sock");
//   server.ListenTcp("0.0.0.0", 10809, tls);   // TLS mandatory on TCP
//   ...
//   server.RemoveExport(name);   // fences: returns once its clients are disconnected
//   server.Stop();
//
// Exports come and go at run time (ExportRegistry). Every connection has its own thread;
// blocking device work runs on a shared worker pool (see connection.h). Unix listeners
// offer TLS when given TLS options but do not require it; TCP listeners require it
// (FORCEDTLS) unless opened with ListenTcpInsecure, which exists for benchmarks and tools
// such as fio that cannot speak TLS. The server ignores SIGPIPE process-wide (OpenSSL writes
// to sockets with plain write()). All methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/block_device.h"
#include "common/status.h"
#include "nbd/admission.h"
#include "nbd/export_registry.h"
#include "nbd/handover.h"
#include "nbd/memory_budget.h"
#include "nbd/tls.h"
#include "nbd/worker_pool.h"

namespace vbs::nbd {

class Connection;
struct ConnectionEnv;

struct NbdServerOptions {
  int worker_threads = 16;           // blocking device calls in parallel, across connections
  int max_connections = 10000;       // beyond this, new clients are closed at once
  int handshake_timeout_ms = 30000;  // a client that does not finish haggling is dropped
  bool allow_inline = true;          // run non-blocking work on connection threads (faster)
  // NBD_OPT_LIST answers the exports a client may open; false: refused (agents' sockets).
  bool allow_list = true;
  // Clients in the handshake at once, in total and per local uid (admission.h).
  int max_handshakes = 256;
  int max_handshakes_per_uid = 64;
  // Request memory shared by all connections beyond each one's 2 MiB allowance
  // (memory_budget.h); a connection holds at most 64 MiB of it.
  size_t max_request_memory = size_t{1} << 30;
};

class NbdServer {
 public:
  explicit NbdServer(NbdServerOptions options = {});
  ~NbdServer();  // Stop()
  NbdServer(const NbdServer&) = delete;
  NbdServer& operator=(const NbdServer&) = delete;

  // One device shared by all connections (CAN_MULTI_CONN is advertised).
  Status AddExport(const std::string& name, std::shared_ptr<BlockDevice> device, bool read_only,
                   std::string description = {});
  // A device opened per connection; CAN_MULTI_CONN iff device->coherent_across_opens() or
  // the factory shares one device among the connections open at once.
  struct ExportOptions {
    std::string description;
    bool factory_shares_device = false;       // export_registry.h
    std::shared_ptr<const WriteLease> lease;  // writes run only while it is valid
    Consumer consumer;                        // who may open it (peer.h)
    std::shared_ptr<Throttle> throttle;       // QoS limits (throttle.h)
    std::shared_ptr<ExportStats> stats;       // what it served (export_stats.h)
  };
  Status AddExport(const std::string& name, DeviceFactory factory, bool read_only,
                   ExportOptions options);
  // Without options. An overload, not `options = {}`: g++ 12 refuses a default argument of a
  // nested struct whose members have initializers.
  Status AddExport(const std::string& name, DeviceFactory factory, bool read_only);
  // Disconnects the export's clients and returns when all of them are closed.
  Status RemoveExport(const std::string& name);
  // The export a client gets when it asks for the empty name.
  void SetDefaultExport(const std::string& name);
  size_t connection_count();
  // Request memory taken from the shared budget now (memory_budget.h).
  size_t request_memory() const { return memory_.used(); }

  // Replaces a stale socket file at `path`. With `tls`, STARTTLS is offered (optional).
  Status ListenUnix(const std::string& path, const TlsOptions* tls = nullptr);
  // Returns the bound port (useful with port 0). TLS is required of every client, and with
  // tls.ca_file a client certificate of one of tls.client_roles.
  Result<uint16_t> ListenTcp(const std::string& host, uint16_t port, const TlsOptions& tls);
  // Plain TCP, no TLS: only for benchmarks and trusted loopback tools.
  Result<uint16_t> ListenTcpInsecure(const std::string& host, uint16_t port);

  // Closes listeners and all connections; returns when every connection thread is done.
  void Stop();

  // For a successor process (handover.h): stops accepting and takes every connection to a
  // request boundary with nothing in flight, then returns the open unix listeners and the
  // open sockets instead of closing them. Connections that cannot be handed over (TLS, in the
  // handshake, or not quiet within `timeout`) are closed. The server is stopped afterwards.
  Result<ServerHandover> Handover(std::chrono::milliseconds timeout);
  // The successor's side: serve a predecessor's unix listener, and its client connections
  // (their exports must exist by then).
  Status AdoptListener(const HandedListener& listener);
  Status AdoptConnection(HandedConnection connection);

  ExportRegistry& registry() { return registry_; }
  // Asks TlsOptions::admit_client again about every connected client's certificate and cuts
  // those refused now (e.g. a user disabled since they connected). Blocks while it asks.
  void RecheckTlsClients();

 private:
  struct Listener;
  // `client`: the TLS options whose client checks apply (client_roles, admit_client).
  Status AddListener(int fd, SslCtxPtr tls, bool tls_required, bool tcp,
                     const TlsOptions* client = nullptr);
  void AcceptLoop(Listener* l);
  void StartConnection(int fd, Listener* l);
  ConnectionEnv Env(const Listener* l);
  bool Launch(const std::shared_ptr<Connection>& conn);
  void ConnectionDone(const std::shared_ptr<Connection>& c);

  NbdServerOptions options_;
  ExportRegistry registry_;
  Admission admission_;
  MemoryBudget memory_;
  std::unique_ptr<WorkerPool> workers_;
  int stop_fd_ = -1;  // eventfd that wakes accept loops
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::set<std::shared_ptr<Connection>> conns_;
  bool handing_over_ = false;
  std::vector<HandedConnection> handed_;
};

}  // namespace vbs::nbd
