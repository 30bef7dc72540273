// vbsd: the VBS daemon. Wiring only: parse the command line, start roles, wait for a signal.
//
//   vbsd dev [--data-dir DIR] [--listen HOST:PORT] [--pool-capacity SIZE] [--qmp-dir DIR]
//            [--libvirt-uri URI]
//            [--rbd-pool NAME [--ceph-conf PATH] [--ceph-client NAME] [--ceph-keyring PATH]]
//   vbsd server --config FILE
//   vbsd agent --config FILE
//   vbsd pki issue --pki-dir DIR --role node|user|admin|server --name NAME [--san H,IP]
//                  --out-dir DIR
//   vbsd nbd-serve FILE …
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <filesystem>
#include <iostream>

#include "auth/deployment_pki.h"
#include "bin/vbsd_nbd_serve.h"
#include "bin/vbsd_reexec.h"
#include "bin/vbsd_roles.h"
#include "common/log_context.h"
#include "common/sd_notify.h"
#include "common/units.h"

namespace vbs {
namespace {

// Blocks SIGINT/SIGTERM (stop) and SIGUSR2 (re-execute, keeping NBD connections) in every
// thread (call before starting any) and waits for one.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Tells systemd (Type=notify) that the service accepts connections now. Outside systemd a
// no-op; a failure is logged, never fatal.
void NotifyReady(const std::string& status) {
  if (Status st = SdNotify("READY=1\nSTATUS=" + status); !st.ok()) {
    spdlog::warn("vbsd: sd_notify: {}", st.ToString());
  }
}

// True for SIGUSR2: the caller re-executes instead of stopping. Meanwhile the main loop pings
// systemd's watchdog (WatchdogSec) at half its interval.
bool WaitForStopSignal(const sigset_t& set) {
  int sig = 0;
  if (auto watchdog = SdWatchdogInterval()) {
    const auto half = *watchdog / 2;
    const struct timespec every = {
        static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(half).count()),
        static_cast<long>((half % std::chrono::seconds(1)).count() * 1000)};
    (void)SdNotify("WATCHDOG=1");
    while ((sig = sigtimedwait(&set, nullptr, &every)) < 0) (void)SdNotify("WATCHDOG=1");
  } else {
    sigwait(&set, &sig);
  }
  if (sig == SIGUSR2) {
    spdlog::info("vbsd: SIGUSR2 received");
    (void)SdNotify("RELOADING=1\nSTATUS=re-executing, NBD connections kept");
    return true;
  }
  spdlog::info("vbsd: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (void)SdNotify("STOPPING=1");
  return false;
}

int Fail(const Status& st) {
  std::cerr << "vbsd: " << st.message() << " (" << st.code() << ")\n";
  return 1;
}

// The agent's half of a re-execution: quiesce, then exec with the state. Returns only on
// failure, after which nothing is served any more.
int ReexecAgent(AgentRole& agent) {
  auto state = agent.Handover();
  if (!state.ok()) return Fail(state.status());
  std::vector<int> fds;
  for (const auto& l : (*state)["nbd"]["listeners"]) fds.push_back(l["fd"].get<int>());
  for (const auto& c : (*state)["nbd"]["connections"]) fds.push_back(c["fd"].get<int>());
  Status st = Reexec(nlohmann::json{{"agent", *state}}, fds);
  return Fail(st);
}

// The successor's side: what the predecessor handed to the agent, if anything.
Result<std::optional<nlohmann::json>> AgentHandover() {
  VBS_ASSIGN_OR_RETURN(auto h, TakeHandover());
  if (!h) return h;
  if (!h->contains("agent")) {
    return Status::InvalidArgument("InvalidConfiguration", "the handover has no agent state");
  }
  return std::optional<nlohmann::json>((*h)["agent"]);
}

std::string Absolute(const std::string& p) {
  return std::filesystem::absolute(p).lexically_normal().string();
}

struct DevOptions {
  std::string data_dir = "./var/vbs";
  std::string listen = "127.0.0.1:8443";
  std::string pool_capacity = "auto";
  std::string node = "local";
  std::string qmp_dir;      // default DATA/qmp
  std::string libvirt_uri;  // "": no libvirt domains
  int op_timeout = 600;
  // Set: the default pool is this Ceph RBD pool instead of a directory under DATA.
  std::string rbd_pool;
  std::string ceph_conf = "/etc/ceph/ceph.conf";
  std::string ceph_client = "client.admin";
  std::string ceph_keyring;
};

int RunDev(const DevOptions& o) {
  const std::string data = Absolute(o.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) return Fail(Status::IoError("cannot create " + data + ": " + ec.message()));
  // Nobody else lists or reads the data directory (the database and the CA are in it). Others
  // may still pass through it (o+x): the agent's NBD socket in DATA/run must stay reachable
  // for QEMUs and the users of other uids it serves (design.md §6).
  if (::chmod(data.c_str(), 0711) != 0) {
    return Fail(Status::FromErrno("chmod 0711 " + data, errno));
  }
  auto listen = ParseHostPort(o.listen);
  if (!listen.ok()) return Fail(listen.status());
  std::optional<uint64_t> capacity;
  if (o.pool_capacity != "auto") {
    auto c = ParseSize(o.pool_capacity);
    if (!c.ok()) return Fail(c.status());
    capacity = *c;
  }
  sigset_t signals = BlockStopSignals();

  ServerConfig sc;
  sc.listen = *listen;
  sc.database = data + "/meta.db";
  sc.pki_dir = data + "/pki";
  sc.op_timeout_seconds = o.op_timeout;
  auto server = StartServer(sc);
  if (!server.ok()) return Fail(server.status());

  DeploymentPki pki(sc.pki_dir);
  auto node_pki = pki.EnsureNode(o.node);
  if (!node_pki.ok()) return Fail(node_pki.status());
  auto admin_pki = pki.EnsureAdmin();
  if (!admin_pki.ok()) return Fail(admin_pki.status());

  const std::string connect_host =
      (listen->host == "0.0.0.0" || listen->host == "::") ? "127.0.0.1" : listen->host;
  const std::string endpoint =
      "https://" +
      (connect_host.find(':') != std::string::npos ? "[" + connect_host + "]" : connect_host) +
      ":" + std::to_string((*server)->port());
  AgentConfig ac;
  ac.node = o.node;
  ac.servers = {endpoint};
  ac.ca_file = node_pki->ca_cert;
  ac.cert_file = node_pki->cert;
  ac.key_file = node_pki->key;
  ac.nbd_socket = data + "/run/nbd.sock";
  ac.qmp_dir = o.qmp_dir.empty() ? data + "/qmp" : Absolute(o.qmp_dir);
  std::filesystem::create_directories(ac.qmp_dir, ec);
  if (ec) return Fail(Status::IoError("cannot create " + ac.qmp_dir + ": " + ec.message()));
  ac.libvirt_uri = o.libvirt_uri;
  // VBSFS: homes and their mounts' pieces stay in the data directory too.
  ac.home_root = data + "/home";
  ac.mount_state_dir = data + "/run/mounts";
  ac.public_root = data + "/public";
  PoolConfig pool;
  pool.name = "default";
  pool.capacity = capacity;
  if (o.rbd_pool.empty()) {
    pool.type = "dir";
    pool.path = data + "/pools/default";
  } else {
    pool.type = "rbd";
    pool.shared = true;
    pool.rbd_pool = o.rbd_pool;
    pool.ceph_conf = Absolute(o.ceph_conf);
    pool.ceph_client = o.ceph_client;
    pool.ceph_keyring = o.ceph_keyring.empty() ? "" : Absolute(o.ceph_keyring);
  }
  ac.pools.push_back(pool);
  auto handover = AgentHandover();
  if (!handover.ok()) return Fail(handover.status());
  auto agent = StartAgent(ac, *handover ? &**handover : nullptr);
  if (!agent.ok()) return Fail(agent.status());

  // vbs sits beside vbsd (in the build tree and in an install): put it on the PATH.
  std::error_code self_ec;
  const std::string bin_dir =
      std::filesystem::read_symlink("/proc/self/exe", self_ec).parent_path().string();
  // The admin's EC2 access key, so that `aws --endpoint-url $VBS_ENDPOINT ec2 …` works too.
  const std::string aws_credentials = data + "/admin.aws-credentials";
  if (Status st = (*server)->EnsureAdminAwsCredentials(aws_credentials); !st.ok()) {
    return Fail(st);
  }
  const std::string env =
      "export PATH=" + bin_dir + ":$PATH\nexport VBS_ENDPOINT=" + endpoint +
      "\nexport VBS_CA=" + admin_pki->ca_cert + "\nexport VBS_CERT=" + admin_pki->cert +
      "\nexport VBS_KEY=" + admin_pki->key +
      "\nexport AWS_SHARED_CREDENTIALS_FILE=" + aws_credentials +
      "\nexport AWS_CA_BUNDLE=" + admin_pki->ca_cert + "\nexport AWS_DEFAULT_REGION=us-east-1\n";
  Status st = WriteFileAtomic(data + "/vbs.env", env, 0600);
  if (!st.ok()) return Fail(st);
  std::cout << "VBS is running (dev mode: SQLite metadata, "
            << (o.rbd_pool.empty() ? "a dir pool" : "the Ceph RBD pool " + o.rbd_pool)
            << ", a fresh CA).\n"
            << "  API:   " << endpoint << "\n"
            << "  data:  " << data << "\n"
            << "  VMs:   QMP sockets in " << ac.qmp_dir << " (<instance id>.qmp)\n\n"
            << "Use it as the administrator from another shell:\n"
            << "  source " << data << "/vbs.env\n"
            << "  vbs volume create --size 10G --name first --wait\n"
            << "  vbs volume list\n"
            << "  vbs admin user create alice --out-dir ./alice   # a user of their own\n"
            << "  aws --endpoint-url $VBS_ENDPOINT ec2 describe-volumes   # the EC2 API\n\n"
            << "vbs.env sets:\n"
            << env << std::flush;
  NotifyReady("serving " + endpoint);
  const bool reexec = WaitForStopSignal(signals);
  (*server)->Stop();  // first: the agent's long poll then ends at once
  // The server part restarts with the process (its HTTPS clients retry or fail over); the
  // agent part hands its NBD connections over.
  if (reexec) return ReexecAgent(**agent);
  (*agent)->Stop();
  return 0;
}

int RunServer(const std::string& config_path, const std::string& db) {
  auto cfg = LoadConfigFile(config_path);
  if (!cfg.ok()) return Fail(cfg.status());
  if (!cfg->server) {
    return Fail(
        Status::InvalidArgument("InvalidConfiguration", config_path + " has no [server] section"));
  }
  if (!db.empty()) cfg->server->database = db;
  sigset_t signals = BlockStopSignals();
  auto server = StartServer(*cfg->server);
  if (!server.ok()) return Fail(server.status());
  std::cout << "vbsd server listening on port " << (*server)->port() << std::endl;
  NotifyReady("listening on port " + std::to_string((*server)->port()));
  while (WaitForStopSignal(signals)) {
    spdlog::info("vbsd server: SIGUSR2 means nothing here (servers keep no connections)");
  }
  (*server)->Stop();
  return 0;
}

int RunAgent(const std::string& config_path) {
  auto cfg = LoadConfigFile(config_path);
  if (!cfg.ok()) return Fail(cfg.status());
  if (!cfg->agent)
    return Fail(
        Status::InvalidArgument("InvalidConfiguration", config_path + " has no [agent] section"));
  sigset_t signals = BlockStopSignals();
  auto handover = AgentHandover();
  if (!handover.ok()) return Fail(handover.status());
  auto agent = StartAgent(*cfg->agent, *handover ? &**handover : nullptr);
  if (!agent.ok()) return Fail(agent.status());
  std::cout << "vbsd agent " << cfg->agent->node << " running" << std::endl;
  NotifyReady("node " + cfg->agent->node + " serving NBD at " + cfg->agent->nbd_socket);
  if (WaitForStopSignal(signals)) return ReexecAgent(**agent);
  (*agent)->Stop();
  return 0;
}

int RunPkiIssue(const std::string& pki_dir, const std::string& role_name, const std::string& name,
                const std::vector<std::string>& san, const std::string& out_dir) {
  auto role = ParseRole(role_name);
  if (!role.ok()) return Fail(role.status());
  DeploymentPki pki(pki_dir);
  auto ca = pki.EnsureCa();
  if (!ca.ok()) return Fail(ca.status());
  auto issued = ca->Issue(name, *role, san);
  if (!issued.ok()) return Fail(issued.status());
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  for (const auto& [file, content, mode] :
       {std::tuple<std::string, std::string, int>{out_dir + "/" + name + ".crt", issued->cert_pem,
                                                  0644},
        {out_dir + "/" + name + ".key", issued->key_pem, 0600},
        {out_dir + "/ca.crt", ca->cert_pem(), 0644}}) {
    Status st = WriteFileAtomic(file, content, mode);
    if (!st.ok()) return Fail(st);
  }
  std::cout << "issued " << role_name << " certificate for " << name << " in " << out_dir << "\n";
  return 0;
}

}  // namespace
}  // namespace vbs

int main(int argc, char** argv) {
  vbs::RememberCommandLine(argc, argv);
  // Logs go to stderr: stdout carries what a user reads (how to use the service) and "ready".
  spdlog::set_default_logger(spdlog::stderr_color_mt("vbsd"));
  vbs::ConfigureLogging(vbs::LogFormat::kText);
  CLI::App app{"vbsd: the VBS daemon (control plane, node agent, NBD server)"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  // Applied as it is parsed, so that it holds also for nbd-serve (which runs in its callback).
  app.add_option_function<std::string>(
         "--log-format",
         [](const std::string& name) {
           if (auto format = vbs::ParseLogFormat(name); format.ok()) vbs::ConfigureLogging(*format);
         },
         "text (default), or json: one object per line with the request and object ids")
      ->check(CLI::IsMember({"text", "json"}));

  vbs::DevOptions dev;
  auto* dev_cmd = app.add_subcommand("dev",
                                     "control plane and a node agent in one process, "
                                     "on SQLite, a dir pool and a fresh CA");
  dev_cmd->add_option("--data-dir", dev.data_dir, "where metadata, certificates and volumes live")
      ->capture_default_str();
  dev_cmd->add_option("--listen", dev.listen, "HOST:PORT of the HTTPS API (port 0: any free one)")
      ->capture_default_str();
  dev_cmd
      ->add_option("--pool-capacity", dev.pool_capacity,
                   "capacity of the default pool (e.g. 2T), or auto: the file system's size")
      ->capture_default_str();
  dev_cmd->add_option("--node", dev.node, "name of this node")->capture_default_str();
  dev_cmd->add_option("--qmp-dir", dev.qmp_dir,
                      "directory of QEMU VMs' QMP sockets, <instance id>.qmp (default DATA/qmp)");
  dev_cmd->add_option("--libvirt-uri", dev.libvirt_uri,
                      "libvirt whose running domains are instances too (e.g. qemu:///system)");
  dev_cmd
      ->add_option("--op-timeout", dev.op_timeout,
                   "seconds before work of a node that is down fails")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  auto* rbd_pool = dev_cmd->add_option("--rbd-pool", dev.rbd_pool,
                                       "serve volumes from this Ceph RBD pool instead of a "
                                       "directory (the pool must exist, `rbd pool init`)");
  dev_cmd->add_option("--ceph-conf", dev.ceph_conf, "ceph.conf of the cluster (with --rbd-pool)")
      ->capture_default_str()
      ->needs(rbd_pool);
  dev_cmd->add_option("--ceph-client", dev.ceph_client, "cephx user (with --rbd-pool)")
      ->capture_default_str()
      ->needs(rbd_pool);
  dev_cmd
      ->add_option("--ceph-keyring", dev.ceph_keyring,
                   "keyring of the cephx user (default: what ceph.conf says)")
      ->needs(rbd_pool);

  std::string server_config, agent_config, server_db;
  auto* server_cmd = app.add_subcommand("server", "the control plane (HTTPS API)");
  server_cmd->add_option("--config", server_config, "TOML file with a [server] section")
      ->required();
  server_cmd->add_option("--db", server_db,
                         "metadata database: postgresql://… or a SQLite file (overrides the "
                         "config's server.database)");
  auto* agent_cmd = app.add_subcommand("agent", "a node agent");
  agent_cmd->add_option("--config", agent_config, "TOML file with an [agent] section")->required();

  std::string pki_dir, pki_role, pki_name, pki_out;
  std::vector<std::string> pki_san;
  auto* pki_cmd = app.add_subcommand("pki", "the deployment's certificates");
  pki_cmd->require_subcommand(1);
  auto* issue = pki_cmd->add_subcommand("issue", "issue a certificate from the CA");
  issue->add_option("--pki-dir", pki_dir, "the server's pki_dir (holds ca.crt and ca.key)")
      ->required();
  issue->add_option("--role", pki_role, "node, user, admin, server or monitor (reads /metrics)")
      ->required()
      ->check(CLI::IsMember({"node", "user", "admin", "server", "monitor"}));
  issue
      ->add_option("--san", pki_san,
                   "subjectAltNames (server and node certificates): host names and IPs")
      ->delimiter(',');
  issue->add_option("--name", pki_name, "node or user name (the certificate's CN)")->required();
  issue->add_option("--out-dir", pki_out, "where to write NAME.crt, NAME.key, ca.crt")->required();

  vbs::AddNbdServeCommand(app);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (*dev_cmd) return vbs::RunDev(dev);
  if (*server_cmd) return vbs::RunServer(server_config, server_db);
  if (*agent_cmd) return vbs::RunAgent(agent_config);
  if (*issue) return vbs::RunPkiIssue(pki_dir, pki_role, pki_name, pki_san, pki_out);
  return 0;  // nbd-serve ran inside its callback
}
