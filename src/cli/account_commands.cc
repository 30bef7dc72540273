// vbs admin user show|disable|enable|delete|set-role, vbs admin key create|list|delete, and
// vbs key create|list|delete (one's own access keys, so keys rotate without an admin), vbs quota
// and vbs admin quota show|set.
#include <fmt/format.h>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/context.h"
#include "cli/output.h"

namespace vbs::cli {
namespace {

struct UserArgs {
  std::string name;
  std::string role;
};

struct KeyArgs {
  std::string user;  // empty: one's own (/v1/keys)
  std::string id;
};

std::string KeysPath(const KeyArgs& a) {
  return a.user.empty() ? "/v1/keys" : "/v1/users/" + PercentEncode(a.user) + "/keys";
}

// `call` answers one user object; it is printed as details.
std::function<Status()> UserAction(Context& ctx, std::shared_ptr<UserArgs> a,
                                   std::function<Result<Json>(ApiClient&, const UserArgs&)> call) {
  return [&ctx, a, call]() -> Status {
    VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
    VBS_ASSIGN_OR_RETURN(Json user, call(*api, *a));
    ctx.PrintObject(user, UserDetails);
    return Status::Ok();
  };
}

Status KeyCreate(Context& ctx, const KeyArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json key, api->Call("POST", KeysPath(a)));
  if (ctx.json()) {
    ctx.out() << PrettyJson(key);
  } else {
    ctx.out() << fmt::format(
        "Created access key {} for {}. The secret is shown this once:\n"
        "  aws_access_key_id = {}\n  aws_secret_access_key = {}\n",
        FieldText(key, "access_key_id"), FieldText(key, "user"), FieldText(key, "access_key_id"),
        FieldText(key, "secret_access_key"));
  }
  ctx.out() << std::flush;
  return Status::Ok();
}

Status KeyList(Context& ctx, const KeyArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json listed, api->Call("GET", KeysPath(a)));
  Json keys = listed.value("access_keys", Json::array());
  ctx.out() << (ctx.json() ? PrettyJson(keys) : AccessKeysTable(keys)) << std::flush;
  return Status::Ok();
}

Status KeyDelete(Context& ctx, const KeyArgs& a) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json done, api->Call("DELETE", KeysPath(a) + "/" + PercentEncode(a.id)));
  if (ctx.json()) {
    ctx.out() << PrettyJson(done);
  } else {
    ctx.out() << fmt::format("Deleted access key {}\n", a.id);
  }
  ctx.out() << std::flush;
  return Status::Ok();
}

// create/list/delete under `parent`; `for_user`: the commands name the user (admin).
void AddKeySubcommands(CLI::App* parent, Context& ctx, bool for_user) {
  auto add = [&](const char* name, const char* help, bool takes_id,
                 Status (*run)(Context&, const KeyArgs&)) {
    auto a = std::make_shared<KeyArgs>();
    CLI::App* c = parent->add_subcommand(name, help);
    if (for_user) c->add_option("USER", a->user, "User name")->required();
    if (takes_id) c->add_option("ACCESS_KEY_ID", a->id, "Access key id (AKIA…)")->required();
    c->callback([&ctx, a, run] { ctx.action = [&ctx, a, run] { return run(ctx, *a); }; });
  };
  add("create", "Issue an access key (its secret is shown once)", false, KeyCreate);
  add("list", "List access keys (never their secrets)", false, KeyList);
  add("delete", "Delete an access key: the next request signed with it fails", true, KeyDelete);
}

struct QuotaArgs {
  std::string user;
  std::string volumes, gigabytes, snapshots;  // "" untouched, "default", or a count
};

Status QuotaShow(Context& ctx, const std::string& path) {
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json quota, api->Call("GET", path));
  ctx.PrintObject(quota, QuotaDetails);
  return Status::Ok();
}

Status QuotaSet(Context& ctx, const QuotaArgs& a) {
  Json body = Json::object();
  for (auto [key, value] : {std::pair{"volumes", &a.volumes}, std::pair{"gigabytes", &a.gigabytes},
                            std::pair{"snapshots", &a.snapshots}}) {
    if (value->empty()) continue;
    if (*value == "default") {
      body[key] = nullptr;
      continue;
    }
    if (value->find_first_not_of("0123456789") != std::string::npos || value->size() > 15) {
      return Status::InvalidArgument(
          "InvalidParameterValue",
          fmt::format("--{} takes a count (0 or more) or 'default', not '{}'", key, *value));
    }
    body[key] = std::stoll(*value);
  }
  if (body.empty()) {
    return Status::InvalidArgument("MissingParameter",
                                   "name at least one of --volumes, --gigabytes, --snapshots");
  }
  VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
  VBS_ASSIGN_OR_RETURN(Json quota,
                       api->Call("PUT", "/v1/users/" + PercentEncode(a.user) + "/quota", body));
  ctx.PrintObject(quota, QuotaDetails);
  return Status::Ok();
}

}  // namespace

void AddQuotaCommands(CLI::App& app, CLI::App* admin, Context& ctx) {
  app.add_subcommand("quota", "Your quota: limits and what you use")->callback([&ctx] {
    ctx.action = [&ctx] { return QuotaShow(ctx, "/v1/quota"); };
  });
  CLI::App* quota = admin->add_subcommand("quota", "Users' quotas");
  quota->require_subcommand(1);
  auto show = std::make_shared<QuotaArgs>();
  CLI::App* qs = quota->add_subcommand("show", "A user's quota: limits and usage");
  qs->add_option("USER", show->user, "User name")->required();
  qs->callback([&ctx, show] {
    ctx.action = [&ctx, show] {
      return QuotaShow(ctx, "/v1/users/" + PercentEncode(show->user) + "/quota");
    };
  });
  auto set = std::make_shared<QuotaArgs>();
  CLI::App* qset = quota->add_subcommand(
      "set", "Set a user's own limits (a count, or 'default' for the server's default)");
  qset->add_option("USER", set->user, "User name")->required();
  qset->add_option("--volumes", set->volumes, "How many volumes")->type_name("N|default");
  qset->add_option("--gigabytes", set->gigabytes, "GiB over all their volumes")
      ->type_name("N|default");
  qset->add_option("--snapshots", set->snapshots, "How many snapshots")->type_name("N|default");
  qset->callback([&ctx, set] { ctx.action = [&ctx, set] { return QuotaSet(ctx, *set); }; });
}

void AddInstanceCommands(CLI::App* admin, CLI::App* admin_node, Context& ctx) {
  struct Args {
    std::string a, b;
  };
  CLI::App* instance = admin->add_subcommand("instance", "Who owns which VM");
  instance->require_subcommand(1);
  auto assign = std::make_shared<Args>();
  CLI::App* as =
      instance->add_subcommand("assign", "Give a VM to a user (overrides its owner file)");
  as->add_option("INSTANCE", assign->a, "Instance id (i-…)")->required();
  as->add_option("--owner", assign->b, "User name")->required();
  as->callback([&ctx, assign] {
    ctx.action = [&ctx, assign]() -> Status {
      VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
      VBS_ASSIGN_OR_RETURN(Json inst,
                           api->Call("POST", "/v1/instances/" + PercentEncode(assign->a) + "/owner",
                                     {{"owner", assign->b}}));
      ctx.out() << (ctx.json() ? PrettyJson(inst) : InstancesTable(Json::array({inst})))
                << std::flush;
      return Status::Ok();
    };
  });
  for (bool allow : {true, false}) {
    auto args = std::make_shared<Args>();
    CLI::App* c = admin_node->add_subcommand(
        allow ? "allow" : "disallow",
        allow ? "Let a user attach volumes to the node itself (host-NODE)"
              : "No longer let a user attach to the node itself");
    c->add_option("NODE", args->a, "Node name")->required();
    c->add_option("USER", args->b, "User name")->required();
    c->callback([&ctx, args, allow] {
      ctx.action = [&ctx, args, allow]() -> Status {
        VBS_ASSIGN_OR_RETURN(ApiClient * api, ctx.api());
        const std::string path = "/v1/nodes/" + PercentEncode(args->a) + "/users";
        VBS_ASSIGN_OR_RETURN(Json users,
                             allow ? api->Call("POST", path, {{"user", args->b}})
                                   : api->Call("DELETE", path + "/" + PercentEncode(args->b)));
        if (ctx.json()) {
          ctx.out() << PrettyJson(users);
        } else {
          std::string names;
          for (const auto& u : users.value("users", Json::array())) {
            names += (names.empty() ? "" : ", ") + u.get<std::string>();
          }
          ctx.out() << fmt::format("Users allowed on node {}: {}\n", args->a,
                                   names.empty() ? "-" : names);
        }
        ctx.out() << std::flush;
        return Status::Ok();
      };
    });
  }
}

void AddUserManagementCommands(CLI::App* user, Context& ctx) {
  auto add = [&](const char* name, const char* help,
                 std::function<Result<Json>(ApiClient&, const UserArgs&)> call) {
    auto a = std::make_shared<UserArgs>();
    CLI::App* c = user->add_subcommand(name, help);
    c->add_option("NAME", a->name, "User name")->required();
    if (std::string(name) == "set-role") {
      c->add_option("ROLE", a->role, "admin | user")->required();
    }
    c->callback([&ctx, a, call] { ctx.action = UserAction(ctx, a, call); });
  };
  auto path = [](const UserArgs& a) { return "/v1/users/" + PercentEncode(a.name); };
  add("revoke", "Revoke every certificate of a user (issue the next one offline or by reissue)",
      [path](ApiClient& api, const UserArgs& a) -> Result<Json> {
        VBS_RETURN_IF_ERROR(api.Call("POST", path(a) + "/revoke").status());
        return api.Call("GET", path(a));  // the user with their certificates, now revoked
      });
  add("show", "Show a user, its state, access keys and certificates",
      [path](ApiClient& api, const UserArgs& a) { return api.Call("GET", path(a)); });
  add("disable", "Refuse the user's next request, on every face (enable undoes it)",
      [path](ApiClient& api, const UserArgs& a) { return api.Call("POST", path(a) + "/disable"); });
  add("enable", "Let a disabled user in again",
      [path](ApiClient& api, const UserArgs& a) { return api.Call("POST", path(a) + "/enable"); });
  add("delete", "Delete a user who owns nothing; the name is never issued again",
      [path](ApiClient& api, const UserArgs& a) { return api.Call("DELETE", path(a)); });
  add("set-role", "Make a user admin or user (holds from their next request)",
      [path](ApiClient& api, const UserArgs& a) -> Result<Json> {
        VBS_RETURN_IF_ERROR(CheckOneOf("ROLE", a.role, {"admin", "user"}));
        return api.Call("POST", path(a) + "/role", {{"role", a.role}});
      });
}

void AddAdminKeyCommands(CLI::App* admin, Context& ctx) {
  CLI::App* key = admin->add_subcommand("key", "Any user's EC2 access keys");
  key->require_subcommand(1);
  AddKeySubcommands(key, ctx, /*for_user=*/true);
}

void AddKeyCommands(CLI::App& app, Context& ctx) {
  CLI::App* key = app.add_subcommand("key", "Your own EC2 access keys (rotate without an admin)");
  key->require_subcommand(1);
  AddKeySubcommands(key, ctx, /*for_user=*/false);
}

}  // namespace vbs::cli
