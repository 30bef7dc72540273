// ServerClient: the agent's side of the work protocol (docs/rest-api.md, agent endpoints),
// typed over an HttpsClient that carries the node certificate.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/home_mount.h"
#include "common/status.h"
#include "net/https_client.h"

namespace vbs {

struct AgentPoolInfo {
  std::string name;
  std::string type;
  bool shared = false;
  uint64_t capacity = 0;
  std::string client;  // this process's identity in the pool's storage ("": none)
};

struct AgentOp {
  std::string id;
  std::string kind;
  std::string resource_id;
  std::string pool;
  nlohmann::json params;
};

struct AgentWork {
  int64_t revision = 0;
  std::vector<AgentOp> ops;
};

struct AgentInstance {
  std::string id;
  std::string kind;   // qemu, host
  std::string owner;  // qemu: from the owner file beside its QMP socket ("" when none)
};

// A live attachment served by this node (for re-exporting after a restart).
struct AgentAttachment {
  std::string id;
  std::string volume_id;
  std::string instance_id;
  std::string device;
  std::string pool;
  std::string mode;
  std::string state;
  std::string export_name;
  int64_t uid = 0;         // a host attachment's consumer (nbd/peer.h)
  int64_t iops = 0;        // the volume's QoS limits, 0: none
  int64_t throughput = 0;  // MiB/s
};

// The registration and lease that Hello and Heartbeat grant (core/work_service.h NodeLease).
struct AgentLease {
  int64_t epoch = 0;
  std::chrono::milliseconds lease{0};
  std::chrono::milliseconds renew_interval{1000};
};

struct AgentInventory {
  std::map<std::string, std::string> volumes;    // id → state
  std::map<std::string, std::string> snapshots;  // id → state
};

class ServerClient {
 public:
  explicit ServerClient(HttpsClientOptions options) : options_(std::move(options)) {}

  Result<AgentLease> Hello(const std::string& node, const std::vector<AgentPoolInfo>& pools);
  // Renews the node's lease; on a client of its own with a short timeout, so that it never
  // waits behind the poll or the work calls.
  Result<AgentLease> Heartbeat(int64_t epoch, std::chrono::milliseconds timeout);
  Result<AgentWork> Poll(std::chrono::seconds wait);
  Result<AgentOp> Claim(const std::string& op_id);
  Status Progress(const std::string& op_id, int percent);
  Status Complete(const std::string& op_id, bool ok, const std::string& error,
                  const nlohmann::json& result = nlohmann::json::object());
  Status ReportInstances(const std::vector<AgentInstance>& instances);
  // The VBSFS file systems mounted here: volume id → usage.
  Status ReportMounts(const std::map<std::string, MountUsage>& mounts);
  Result<std::vector<AgentAttachment>> Attachments();
  Result<AgentInventory> Inventory(const std::string& pool);

 private:
  // A client serializes its calls, so the long poll and the heartbeats each get their own
  // and the rest share another.
  Result<nlohmann::json> Call(HttpsClient* client, const std::string& method,
                              const std::string& target, const nlohmann::json* body,
                              std::chrono::milliseconds timeout);
  // The client in `slot` (poll, calls or heartbeats), made on first use.
  Result<HttpsClient*> Client(std::unique_ptr<HttpsClient>& slot);

  HttpsClientOptions options_;
  std::mutex mu_;
  std::unique_ptr<HttpsClient> poll_client_;
  std::unique_ptr<HttpsClient> call_client_;
  std::unique_ptr<HttpsClient> beat_client_;
};

}  // namespace vbs
