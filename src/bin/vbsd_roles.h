// The roles of vbsd, assembled from the modules: the control plane (server) and the node
// agent. `vbsd dev` runs both in one process; `vbsd server` and `vbsd agent` one each.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/status.h"

namespace vbs {

class ServerRole {
 public:
  virtual ~ServerRole() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
  // `vbsd dev`: makes sure `path` holds an active EC2 access key of the bootstrap admin (an aws
  // credentials file, mode 0600), issuing one when it is missing or no longer valid.
  virtual Status EnsureAdminAwsCredentials(const std::string& path) = 0;
};

class AgentRole {
 public:
  virtual ~AgentRole() = default;
  virtual void Stop() = 0;
  // Quiesces the agent for a successor process (Agent::Handover); Stop() afterwards only
  // releases what is left.
  virtual Result<nlohmann::json> Handover() = 0;
};

class MetadataStore;

// "postgresql://…", "postgres://…" or a libpq keyword string: PostgreSQL; else a SQLite file.
Result<std::unique_ptr<MetadataStore>> OpenStore(const std::string& database);

// Opens the store (running migrations), makes or loads the PKI, starts the reconciler and
// the HTTPS API. `names` are the server certificate's subjectAltNames.
Result<std::unique_ptr<ServerRole>> StartServer(const ServerConfig& config);

// Opens the pools and starts the work loop against the configured servers. With `handover`
// (a predecessor's AgentRole::Handover), its exports and NBD clients go on being served.
Result<std::unique_ptr<AgentRole>> StartAgent(const AgentConfig& config,
                                              const nlohmann::json* handover = nullptr);

}  // namespace vbs
