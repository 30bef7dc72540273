// vbs: the command-line client. Wiring only; everything lives in src/cli.
#include "cli/app.h"

int main(int argc, char** argv) {
  return vbs::cli::RunVbs(argc, argv);
}
