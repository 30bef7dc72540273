// HostRole: what the agent does as a host of consumers (design.md §6, §7): it serves volumes
// over NBD, one export with an unguessable name per attachment (read-only for ro), and
// removes the export on detach, which disconnects its clients at once (fencing).
//
// Instances it reports: the node itself ("host-<node>", the bare NBD export target).
// After a restart it re-creates the exports of its attached attachments under their old
// names, so that consumers reconnect to the same URI.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/server_client.h"
#include "agent/storage_role.h"
#include "nbd/nbd_server.h"

namespace vbs {

struct HostRoleOptions {
  std::string node;
  std::string nbd_socket;  // unix socket of the node's NBD server
};

class HostRole {
 public:
  HostRole(HostRoleOptions options, std::map<std::string, AgentPool>* pools);
  ~HostRole();

  Status Start();  // listens on the NBD socket
  void Stop();

  // attach / detach operations. On success `result` carries what the server records.
  Status Execute(const AgentOp& op, nlohmann::json* result);
  // Re-creates exports for attachments that are attached on this node.
  void Reconcile(const std::vector<AgentAttachment>& attachments);
  std::vector<AgentInstance> Instances() const;

 private:
  Status Export(const std::string& name, const std::string& pool, const std::string& volume_id,
                bool read_only);
  std::string UriOf(const std::string& export_name) const;

  HostRoleOptions options_;
  std::map<std::string, AgentPool>* pools_;
  nbd::NbdServer nbd_;
  std::mutex mu_;
  std::map<std::string, std::string> exports_;  // export name → volume id
};

}  // namespace vbs
