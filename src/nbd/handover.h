// Handover: the NBD server's listeners and client connections, passed to the process that
// replaces it (an agent re-executing itself on SIGUSR2, design.md §4: the agent is the data
// path, so a restart or an upgrade keeps every NBD connection open).
//
// NbdServer::Handover quiesces each connection at a request boundary: it stops taking new
// requests, finishes the payload it is receiving, waits until every request in flight has
// been answered and every reply sent, and then leaves the socket open. Bytes already received
// but not yet parsed travel along (`pending`). The successor serves the socket from there with
// the same negotiated options (AdoptConnection): the client sees a pause, never an error.
// Connections that cannot be handed over are closed, as a plain restart would: TLS sessions
// (their keys live in OpenSSL's memory) and clients still in the handshake.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace vbs::nbd {

struct HandedConnection {
  int fd = -1;
  std::string export_name;
  bool structured = false;
  bool base_allocation = false;
  std::string pending;  // received, not yet parsed
};

struct HandedListener {
  int fd = -1;
  std::string path;  // unix socket path (informational)
};

struct ServerHandover {
  std::vector<HandedListener> listeners;
  std::vector<HandedConnection> connections;
};

// For crossing execve: fds are numbers (kept open, close-on-exec cleared by the caller).
nlohmann::json HandoverToJson(const ServerHandover& h);
Result<ServerHandover> HandoverFromJson(const nlohmann::json& j);

}  // namespace vbs::nbd
