// Entry point of the `vbs` command-line client (see src/cli/README.md for the commands).
#pragma once

namespace vbs::cli {

// Runs `vbs` with the process's environment, stdout/stderr and a real HTTPS client.
// Returns the exit code: 0 ok, 1 server error, 2 usage, 3 unreachable/TLS, 4 wait failed.
int RunVbs(int argc, char** argv);

}  // namespace vbs::cli
