// Temporary vbsd main (NBD engineer's): only `vbsd nbd-serve`. The lead replaces this file.
#include <CLI/CLI.hpp>

#include "bin/vbsd_nbd_serve.h"

int main(int argc, char** argv) {
  CLI::App app{"vbsd: VBS daemon"};
  app.require_subcommand(1);
  vbs::AddNbdServeCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
