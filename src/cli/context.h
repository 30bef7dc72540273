// What every vbs command gets: the global flags, where to print, and (lazily) an ApiClient.
//
// Commands are registered on the CLI11 app by AddVolumeCommands & co.; when CLI11 has parsed
// a leaf command, its callback stores the work in `action`, which RunApp runs after parsing
// (so that parse errors and command errors are reported the same way). Everything external
// (environment, the HTTPS client, clock, terminal detection) comes from AppDeps, so whole
// command lines are tested against a fake server.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/client.h"
#include "cli/options.h"
#include "cli/wait.h"
#include "net/https_client.h"

namespace vbs::cli {

using ClientFactory =
    std::function<Result<std::unique_ptr<HttpsClient>>(const HttpsClientOptions& options)>;

struct AppDeps {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool err_is_terminal = false;
  EnvLookup env;
  ClientFactory make_client;
  WaitClock clock;
};

class Context {
 public:
  explicit Context(const AppDeps& deps) : deps_(deps) {}

  GlobalFlags flags;                           // bound to the global options
  std::function<Status()> action;              // set by the parsed leaf command
  OutputFormat output = OutputFormat::kTable;  // resolved before `action` runs

  std::ostream& out() { return *deps_.out; }
  std::ostream& err() { return *deps_.err; }
  const AppDeps& deps() const { return deps_; }
  bool json() const { return output == OutputFormat::kJson; }

  // Settings resolved from flags + environment (usage error when something is missing).
  Result<const Settings*> settings();
  // The API client, created on first use.
  Result<ApiClient*> api();

  // Prints one object: JSON, or `details` in table mode.
  void PrintObject(const Json& object, std::string (*details)(const Json&));

  // Runs a --wait for `initial` with progress on stderr, then prints the final object
  // (also when it ended in error, so scripts see it) and returns the wait's Status.
  Status WaitAndPrint(const Json& initial, const PollFn& poll, WaitSpec spec, bool show_progress,
                      const std::string& show_hint, std::string (*details)(const Json&));

 private:
  const AppDeps& deps_;
  std::unique_ptr<Settings> settings_;
  std::unique_ptr<ApiClient> api_;
};

void AddVolumeCommands(CLI::App& app, Context& ctx);
void AddSnapshotCommands(CLI::App& app, Context& ctx);
void AddAdminCommands(CLI::App& app, Context& ctx);
// account_commands.cc
void AddUserManagementCommands(CLI::App* admin_user, Context& ctx);
void AddAdminKeyCommands(CLI::App* admin, Context& ctx);
void AddKeyCommands(CLI::App& app, Context& ctx);
void AddQuotaCommands(CLI::App& app, CLI::App* admin, Context& ctx);
void AddInstanceCommands(CLI::App* admin, CLI::App* admin_node, Context& ctx);
void AddAttachCommands(CLI::App& app, Context& ctx);
void AddHomeCommands(CLI::App& app, Context& ctx);
void AddPublicCommands(CLI::App& app, Context& ctx);

// Polls `volume_id` and returns the attachment with the id of `initial`; once it is gone from
// the volume, the last one seen with state `detached` (and `gone_error` as its error).
// Prints a new modification of `volume_id`, or follows it until it is final (`wait`).
Status FollowModification(Context& ctx, ApiClient* api, const std::string& volume_id, Json mod,
                          bool wait);

PollFn FollowAttachment(ApiClient* api, const std::string& volume_id, const Json& initial,
                        const std::string& gone_error);

// Parses argv, runs the command, prints errors; returns the process exit code (errors.h).
int RunApp(int argc, const char* const* argv, const AppDeps& deps);

}  // namespace vbs::cli
