// `vbsd nbd-serve FILE`: serves one file over NBD with the VBS server and nothing else.
//
//   vbsd nbd-serve disk.img --socket /run/disk.sock [--read-only] [--export-name NAME]
//   vbsd nbd-serve disk.img --listen 0.0.0.0:10809 --tls-cert C --tls-key K --tls-ca CA
//
// TCP requires TLS unless --no-tls (benchmarks, fio). On a unix socket TLS is offered when
// certificates are given. Runs until SIGINT/SIGTERM; prints "ready" on stdout once listening.
#pragma once

#include <CLI/CLI.hpp>

namespace vbs {

void AddNbdServeCommand(CLI::App& app);

}  // namespace vbs
