// The production wiring of RunApp: real environment, streams, terminal check and HttpsClient.
// Kept apart from app.cc so the unit tests, which drive RunApp with a fake client, do not
// need the network library linked in.
#include <unistd.h>

#include <iostream>

#include "cli/app.h"
#include "cli/context.h"

namespace vbs::cli {

int RunVbs(int argc, char** argv) {
  AppDeps deps;
  deps.out = &std::cout;
  deps.err = &std::cerr;
  deps.err_is_terminal = ::isatty(STDERR_FILENO) == 1;
  deps.env = ProcessEnv();
  deps.make_client = [](const HttpsClientOptions& options) { return HttpsClient::Create(options); };
  deps.clock = WaitClock::Real();
  return RunApp(argc, argv, deps);
}

}  // namespace vbs::cli
