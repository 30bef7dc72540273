// Agent: the node agent's work loop (design.md §4).
//
// Start → Hello (registers pools; the server requeues what this node had running; the node
// gets an epoch and a lease) →
// reconcile each pool against the server's inventory → long-poll for work, claim each op,
// run it on a worker thread, report progress every few seconds (which renews its lease) and
// report the outcome until the server has it. Every failure of the server connection is
// retried with backoff; nothing is lost because the server keeps the work.
//
// Leases (design.md §4): a heartbeat thread with a connection of its own renews the node's
// lease every renew interval, whatever the work loop is doing. The read-write exports write
// only until the last granted lease runs out (counted from before the renewal was sent); when
// the servers refuse a renewal (the node was counted down and its attachments ended, or it
// is unknown), every export goes and the agent says hello again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/host_role.h"
#include "agent/server_client.h"
#include "agent/storage_role.h"

namespace vbs {

struct AgentOptions {
  std::string node;
  std::string nbd_socket;   // where this node serves volumes over NBD
  std::string qmp_dir;      // QEMU VMs' QMP sockets ("" = no VMs on this node)
  std::string libvirt_uri;  // libvirt whose domains are instances ("" = none)
  std::string libvirt_pid_dir = "/run/libvirt/qemu";
  std::string home_root = "/vbs/home";              // VBSFS homes: <home_root>/<user>
  std::string mount_state_dir = "/run/vbs/mounts";  // agent/home_mount.h
  std::string public_root = "/vbs/public";          // the public volume (.draft: its draft)
  HttpsClientOptions server;                        // endpoints, CA, node certificate
  int max_parallel_ops = 4;
  std::chrono::seconds poll_wait{5};  // also bounds how long a stop waits for the poll
  std::chrono::milliseconds progress_interval{2000};
  // Fault injection for crash tests: wait this long after claiming an op before running it,
  // so that a kill -9 lands in the middle of the workflow. Zero in production.
  std::chrono::milliseconds fault_op_delay{0};
};

class Agent {
 public:
  Agent(AgentOptions options, std::map<std::string, AgentPool> pools);
  ~Agent();

  // With `handover` (a predecessor's Handover), its exports and NBD clients go on here.
  Status Start(const nlohmann::json* handover = nullptr);
  void Stop();  // stops polling and waits for running ops to finish their backend call
  // Re-execution (SIGUSR2): stops taking work, lets running operations finish, and quiesces
  // the NBD server (HostRole::Handover). What it returns lets the successor go on.
  Result<nlohmann::json> Handover(std::chrono::milliseconds timeout);
  // The agent's /metrics (agent/agent_metrics.cc): the NBD counters of the volumes exported
  // here, the lease's renewals and losses, and each pool's physical space.
  void WriteMetrics(MetricsWriter& w) const;

 private:
  void Loop();
  bool Register();
  void RunOp(const AgentOp& op);
  Status Snapshot(const AgentOp& op);  // create_snapshot, holding local writes
  void ReportProgressLoop();
  void HeartbeatLoop();
  void StopWork();  // everything but the NBD server
  void Granted(const AgentLease& lease, std::chrono::steady_clock::time_point sent);
  bool Sleep(std::chrono::milliseconds d);  // false when stopping

  AgentOptions options_;
  std::map<std::string, AgentPool> pools_;
  ServerClient server_;
  StorageRole storage_;
  HostRole host_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::set<std::string> in_flight_;
  std::map<std::string, int> progress_;         // op id → last percent
  // The mounts' usage as the server last took it (ReportProgressLoop only).
  std::map<std::string, MountUsage> reported_mounts_;
  std::map<std::string, std::thread> workers_;  // by op id
  std::vector<std::string> finished_;           // workers to join
  void ReapFinished();
  std::thread loop_thread_;
  std::thread progress_thread_;
  std::thread heartbeat_thread_;
  std::atomic<int64_t> epoch_{0};  // 0: not registered
  std::atomic<bool> need_hello_{false};
  std::atomic<int64_t> renew_interval_ms_{1000};
  // Lease events since start, for /metrics.
  std::atomic<uint64_t> renewals_ok_{0}, renewals_failed_{0}, renewals_refused_{0};
  std::atomic<uint64_t> leases_lost_{0};
};

}  // namespace vbs
