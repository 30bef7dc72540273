// vbs admin user create | user reissue | user list | pool list | node list | volume force-state
// (the rest of `vbs admin user` and `vbs admin key` are in account_commands.cc).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/credentials.h"
#include "cli/errors.h"
#include "cli/output.h"

namespace vbs::cli {
namespace {

struct UserCreateArgs {
  std::string name;
  bool admin = false;
  std::string out_dir;
  bool force = false;
  bool reissue = false;  // `user reissue`: a new certificate for an existing user
};

struct ForceStateArgs {
  std::string id;
  std::string state;
};

std::string StringOf(const Json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Status UserCreate(Context& ctx, const UserCreateArgs& a) {
  VBS_ASSIGN_OR_RETURN(const Settings* settings, ctx.settings());
  VBS_ASSIGN_OR_RETURN(std::string our_ca, ReadWholeFile(settings->ca_file));
  // Check the files can be written before the user exists on the server: afterwards a
  // refusal would leave an enrolled user whose key nobody has.
  VBS_ASSIGN_OR_RETURN(CredentialPaths paths,
                       PlanCredentialFiles(a.out_dir, a.name, a.force, our_ca));

  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(
      Json user, a.reissue ? api->Call("POST", "/v1/users/" + PercentEncode(a.name) + "/reissue")
                           : api->CreateUser(a.name, a.admin));
  std::string cert = StringOf(user, "cert_pem");
  std::string key = StringOf(user, "key_pem");
  std::string ca = StringOf(user, "ca_pem");
  // A server without the CA key enrols the user and says how to issue the certificate offline.
  const std::string offline = StringOf(user, "certificate");
  if ((cert.empty() || key.empty() || ca.empty()) && offline.empty()) {
    return BadResponseError(
        fmt::format("user {} was {} but the answer lacks cert_pem/key_pem/ca_pem", a.name,
                    a.reissue ? "given a new certificate" : "created"));
  }
  Status written =
      offline.empty() ? WriteCredentialFiles(paths, cert, key, ca, a.force) : Status::Ok();
  const std::string access_key_id = StringOf(user, "access_key_id");
  const std::string secret = StringOf(user, "secret_access_key");
  const bool has_access_key = !access_key_id.empty() && !secret.empty();
  if (written.ok() && has_access_key) {
    written = WriteAwsCredentialsFile(paths, access_key_id, secret, a.force);
  }
  if (!written.ok()) {
    return {
        written.kind(), written.code(),
        fmt::format("user {} was {} on the server, but saving its credentials failed: {}", a.name,
                    a.reissue ? "given a new certificate" : "created", written.message())};
  }
  if (!offline.empty()) {
    if (ctx.json()) {
      Json doc = {{"user", a.name}, {"role", StringOf(user, "role")}, {"certificate", offline}};
      if (has_access_key) doc["aws_credentials_file"] = paths.aws;
      ctx.out() << PrettyJson(doc);
    } else {
      ctx.out() << fmt::format("Created user {} without a certificate: {}\n", a.name, offline);
      if (has_access_key) {
        ctx.out() << fmt::format("  {}  (EC2 access key {}, mode 0600: keep it secret)\n",
                                 paths.aws, access_key_id);
      }
    }
    ctx.out() << std::flush;
    return Status::Ok();
  }

  std::string endpoints = fmt::format("{}", fmt::join(settings->endpoints, ","));
  std::vector<std::pair<std::string, std::string>> env = {
      {"VBS_ENDPOINT", endpoints},
      {"VBS_CA", paths.ca},
      {"VBS_CERT", paths.cert},
      {"VBS_KEY", paths.key},
  };
  if (has_access_key) env.emplace_back("AWS_SHARED_CREDENTIALS_FILE", paths.aws);
  std::string role = StringOf(user, "role");
  if (ctx.json()) {
    Json doc = {{"user", StringOf(user, "user")}, {"role", role},        {"cert_file", paths.cert},
                {"key_file", paths.key},          {"ca_file", paths.ca}, {"env", Json::object()}};
    if (has_access_key) {
      doc["access_key_id"] = access_key_id;
      doc["aws_credentials_file"] = paths.aws;
    }
    for (const auto& [k, v] : env) doc["env"][k] = v;
    ctx.out() << PrettyJson(doc);  // never the key itself: it is in the 0600 file
  } else {
    ctx.out() << fmt::format(
        "{} {} (role {}). Credentials written to {}:\n"
        "  {}\n  {}  (private key, mode 0600: keep it secret)\n  {}\n",
        a.reissue ? "Issued a new certificate (serial " + StringOf(user, "certificate_serial") +
                        ", every older one revoked) for"
                  : std::string("Created user"),
        a.name, role.empty() ? "-" : role, paths.dir, paths.cert, paths.key, paths.ca);
    if (has_access_key) {
      ctx.out() << fmt::format("  {}  (EC2 access key {}, mode 0600: keep it secret)\n", paths.aws,
                               access_key_id);
    }
    ctx.out() << "To use them:\n";
    for (const auto& [k, v] : env) ctx.out() << fmt::format("  export {}={}\n", k, ShellQuote(v));
  }
  ctx.out() << std::flush;
  return Status::Ok();
}

// The admin list commands differ only in the call and the table.
template <typename Call>
std::function<Status()> ListAction(Context& ctx, Call call, std::string (*table)(const Json&)) {
  return [&ctx, call, table]() -> Status {
    VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
    VBS_ASSIGN_OR_RETURN(Json items, call(*api));
    ctx.out() << (ctx.json() ? PrettyJson(items) : table(items)) << std::flush;
    return Status::Ok();
  };
}

Status ForceState(Context& ctx, const ForceStateArgs& a) {
  VBS_RETURN_IF_ERROR(CheckOneOf("STATE", a.state, {"available", "error", "deleted"}));
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json volume, api->ForceVolumeState(a.id, a.state));
  ctx.PrintObject(volume, VolumeDetails);
  return Status::Ok();
}

}  // namespace

void AddAdminCommands(CLI::App& app, Context& ctx) {
  CLI::App* admin = app.add_subcommand("admin", "Administration (needs an admin certificate)");
  admin->require_subcommand(1);

  CLI::App* user = admin->add_subcommand("user", "Enrol, list and manage users");
  user->require_subcommand(1);
  auto create = std::make_shared<UserCreateArgs>();
  CLI::App* uc = user->add_subcommand("create",
                                      "Enrol a user: writes NAME.crt, NAME.key, ca.crt and "
                                      "NAME.aws-credentials (EC2 access key) into --out-dir");
  uc->add_option("NAME", create->name, "User name")->required();
  uc->add_flag("--admin", create->admin, "Give the user the admin role");
  uc->add_option("--out-dir", create->out_dir, "Where to write the files (default: here)")
      ->type_name("DIR");
  uc->add_flag("--force", create->force, "Overwrite existing files");
  uc->callback(
      [&ctx, create] { ctx.action = [&ctx, create] { return UserCreate(ctx, *create); }; });
  auto reissue = std::make_shared<UserCreateArgs>();
  reissue->reissue = true;
  CLI::App* ur = user->add_subcommand(
      "reissue",
      "Revoke every certificate of a user and issue a new one: writes NAME.crt, NAME.key and "
      "ca.crt into --out-dir");
  ur->add_option("NAME", reissue->name, "User name")->required();
  ur->add_option("--out-dir", reissue->out_dir, "Where to write the files (default: here)")
      ->type_name("DIR");
  ur->add_flag("--force", reissue->force, "Overwrite existing files");
  ur->callback(
      [&ctx, reissue] { ctx.action = [&ctx, reissue] { return UserCreate(ctx, *reissue); }; });
  user->add_subcommand("list", "List users")->callback([&ctx] {
    ctx.action = ListAction(
        ctx, [](ApiClient& api) { return api.ListUsers(); }, UsersTable);
  });
  AddUserManagementCommands(user, ctx);
  AddAdminKeyCommands(admin, ctx);
  AddQuotaCommands(app, admin, ctx);

  CLI::App* pool = admin->add_subcommand("pool", "Storage pools");
  pool->require_subcommand(1);
  pool->add_subcommand("list", "List pools with capacity and reservations")->callback([&ctx] {
    ctx.action = ListAction(
        ctx, [](ApiClient& api) { return api.ListPools(); }, PoolsTable);
  });

  CLI::App* node = admin->add_subcommand("node", "Nodes (agents)");
  node->require_subcommand(1);
  node->add_subcommand("list", "List nodes and their heartbeat")->callback([&ctx] {
    ctx.action = ListAction(
        ctx, [](ApiClient& api) { return api.ListNodes(); }, NodesTable);
  });
  AddInstanceCommands(admin, node, ctx);

  CLI::App* volume = admin->add_subcommand("volume", "Repair volumes");
  volume->require_subcommand(1);
  auto force = std::make_shared<ForceStateArgs>();
  CLI::App* fs =
      volume->add_subcommand("force-state", "Force a stuck volume to available, error or deleted");
  fs->add_option("ID", force->id, "Volume id (vol-…)")->required();
  fs->add_option("STATE", force->state, "available | error | deleted")->required();
  fs->callback([&ctx, force] { ctx.action = [&ctx, force] { return ForceState(ctx, *force); }; });
}

}  // namespace vbs::cli
