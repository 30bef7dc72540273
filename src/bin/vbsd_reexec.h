// Re-execution of vbsd on SIGUSR2 (docs/decisions.md "Agent restarts keep connections"): the
// process replaces itself with the binary at its path (which may be a new version) by
// execve, keeping its PID, and hands its state to the successor in a memfd named by the
// environment variable VBS_HANDOVER_FD. The file descriptors listed in the state (the NBD
// listener and client sockets) stay open across the execve.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace vbs {

// Call first thing in main: remembers the binary's path and the arguments to run again.
void RememberCommandLine(int argc, char** argv);

// Writes `state` for the successor, keeps `fds` open across execve, and execs. Returns only
// on failure (the caller then ends: what it handed over is no longer served).
Status Reexec(const nlohmann::json& state, const std::vector<int>& fds);

// In the successor: the predecessor's state, if this process was started by Reexec.
Result<std::optional<nlohmann::json>> TakeHandover();

}  // namespace vbs
