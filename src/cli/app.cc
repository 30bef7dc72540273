// The CLI11 app: global options, the command tree, and how a run turns into an exit code.
#include <fmt/format.h>

#include <ostream>

#include "cli/context.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace vbs::cli {

Result<const Settings*> Context::settings() {
  if (!settings_) {
    VBS_ASSIGN_OR_RETURN(Settings s, ResolveSettings(flags, deps_.env));
    VBS_RETURN_IF_ERROR(CheckCredentialFiles(s));
    settings_ = std::make_unique<Settings>(std::move(s));
  }
  return settings_.get();
}

Result<ApiClient*> Context::api() {
  if (!api_) {
    VBS_ASSIGN_OR_RETURN(const Settings* s, settings());
    HttpsClientOptions options;
    options.endpoints = s->endpoints;
    options.ca_file = s->ca_file;
    options.cert_file = s->cert_file;
    options.key_file = s->key_file;
    options.connect_timeout = std::min(options.connect_timeout, s->RequestTimeout());
    auto http = deps_.make_client(options);
    if (!http.ok()) {
      // Loading the CA/certificate/key into TLS failed: the files exist (checked above)
      // but are not usable.
      return UnreachableError(
          fmt::format("cannot set up TLS with --ca/--cert/--key: {}", http.status().message()));
    }
    api_ = std::make_unique<ApiClient>(std::move(http).value(), s->RequestTimeout());
  }
  return api_.get();
}

void Context::PrintObject(const Json& object, std::string (*details)(const Json&)) {
  out() << (json() ? PrettyJson(object) : details(object)) << std::flush;
}

Status Context::WaitAndPrint(const Json& initial, const PollFn& poll, WaitSpec spec,
                             bool show_progress, const std::string& show_hint,
                             std::string (*details)(const Json&)) {
  VBS_ASSIGN_OR_RETURN(const Settings* s, settings());
  spec.timeout = s->WaitTimeout();
  WaitReporter reporter(err(), deps_.err_is_terminal, show_progress);
  WaitOutcome outcome =
      WaitFor(initial, poll, spec, deps_.clock, [&](const Json& o) { reporter.Update(o); });
  reporter.Finish();
  if (outcome.result != WaitResult::kPollError) PrintObject(outcome.last, details);
  return WaitStatus(outcome, spec, show_hint);
}

namespace {

void AddGlobalOptions(CLI::App& app, Context& ctx) {
  GlobalFlags& f = ctx.flags;
  app.add_option("--endpoint", f.endpoints,
                 "Server URL https://HOST:PORT; repeat or comma-separate for failover "
                 "[env VBS_ENDPOINT]")
      ->type_name("URL")
      ->allow_extra_args(false);
  app.add_option("--ca", f.ca_file, "CA certificate that signs the server's [env VBS_CA]")
      ->type_name("FILE");
  app.add_option("--cert", f.cert_file, "Your client certificate [env VBS_CERT]")
      ->type_name("FILE");
  app.add_option("--key", f.key_file, "Your client key [env VBS_KEY]")->type_name("FILE");
  app.add_option("-o,--output", f.output, "Output format: table or json [env VBS_OUTPUT]")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"table", "json"}));
  app.add_option("--timeout", f.timeout_seconds,
                 "Seconds: per request (max 30) and for --wait (default 600)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
}

void AddWhoAmI(CLI::App& app, Context& ctx) {
  app.add_subcommand("whoami", "Show the user and role of your certificate")->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
      VBS_ASSIGN_OR_RETURN(Json me, api->WhoAmI());
      ctx.PrintObject(me, WhoAmIDetails);
      return Status::Ok();
    };
  });
}

}  // namespace

int RunApp(int argc, const char* const* argv, const AppDeps& deps) {
  Context ctx(deps);
  CLI::App app("vbs: command-line client of VBS, the self-hosted block storage service", "vbs");
  app.fallthrough();  // global options are accepted after the subcommand too (inherited)
  app.require_subcommand(1);
  app.footer(  // inherited by every subcommand, whose own help lists only its options
      "Global options (--endpoint, --ca, --cert, --key, -o/--output, --timeout) go before or\n"
      "after the subcommand; VBS_ENDPOINT, VBS_CA, VBS_CERT, VBS_KEY and VBS_OUTPUT set them\n"
      "from the environment (`vbsd dev` and `vbs admin user create` print the lines).\n"
      "Exit codes: 0 ok, 1 server error, 2 usage, 3 cannot reach the server,\n"
      "4 --wait timed out or the object ended in error.");
  AddGlobalOptions(app, ctx);
  AddVolumeCommands(app, ctx);
  AddSnapshotCommands(app, ctx);
  AddAttachCommands(app, ctx);
  AddHomeCommands(app, ctx);
  AddPublicCommands(app, ctx);
  AddAdminCommands(app, ctx);
  AddKeyCommands(app, ctx);
  AddWhoAmI(app, ctx);

  if (argc <= 1) {  // a bare `vbs`: the overview is more useful than "subcommand required"
    ctx.err() << app.help() << std::flush;
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, ctx.out(), ctx.err());
    return code == 0 ? kExitOk : kExitUsage;  // --help is success; CLI11's own codes are not ours
  }
  Status status;
  auto format = ResolveOutput(ctx.flags, deps.env);
  if (!format.ok()) {
    status = format.status();
  } else if (!ctx.action) {
    status = UsageError("no command given (see vbs --help)");
  } else {
    ctx.output = *format;
    status = ctx.action();
  }
  if (status.ok()) return kExitOk;
  ctx.out() << std::flush;
  ctx.err() << FormatError(status) << "\n" << std::flush;
  return ExitCodeFor(status);
}

}  // namespace vbs::cli
