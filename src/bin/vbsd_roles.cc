#include "bin/vbsd_roles.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "agent/agent.h"
#include "api/ec2/ec2_api.h"
#include "api/http_server.h"
#include "api/rest/rest_api.h"
#include "auth/deployment_pki.h"
#include "backend/dir/dir_backend.h"
#include "backend/rbd/rbd_backend.h"
#include "common/ids.h"
#include "core/access_keys.h"
#include "core/cluster_metrics.h"
#include "core/reconciler.h"
#include "store/postgres/postgres_connection.h"
#include "store/sqlite/sqlite_connection.h"

namespace vbs {
namespace {

class ServerRoleImpl final : public ServerRole {
 public:
  uint16_t port() const override { return http_->port(); }
  void Stop() override {
    notifier_.Shutdown();  // long polls answer now, so the HTTP server stops promptly
    if (http_) http_->Stop();
    if (reconciler_) reconciler_->Stop();
  }
  ~ServerRoleImpl() override { Stop(); }
  Status EnsureAdminAwsCredentials(const std::string& path) override;

  std::unique_ptr<MetadataStore> store_;
  MetricsRegistry metrics_;
  std::unique_ptr<ApiMetrics> api_metrics_;
  RevisionNotifier notifier_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<VolumeService> volumes_;
  std::unique_ptr<SnapshotService> snapshots_;
  std::unique_ptr<WorkService> work_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<SecretBox> box_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<AttachmentService> attachments_;
  std::unique_ptr<HomeService> homes_;
  std::unique_ptr<PublicService> public_;
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<TagService> tags_;
  std::unique_ptr<RestApi> rest_;
  std::unique_ptr<ec2::Ec2Api> ec2_;
  std::unique_ptr<HttpServer> http_;
};

class AgentRoleImpl final : public AgentRole {
 public:
  void Stop() override {
    if (metrics_http_) metrics_http_->Stop();
    agent_->Stop();
  }
  Result<nlohmann::json> Handover() override { return agent_->Handover(std::chrono::seconds(30)); }
  ~AgentRoleImpl() override { Stop(); }
  std::unique_ptr<Agent> agent_;
  MetricsRegistry metrics_;
  std::unique_ptr<HttpServer> metrics_http_;  // GET /metrics, when metrics_listen is set
};

// The agent's GET /metrics: for monitor certificates (Prometheus) and admin certificates of
// the deployment CA, nothing else. (The agent keeps no users table: an admin certificate's
// OU is trusted here, and only to read numbers.)
HttpResponse AgentMetrics(const MetricsRegistry& metrics, const HttpRequest& req) {
  auto error = [](int status, const std::string& code, const std::string& message) {
    HttpResponse r;
    r.status = status;
    r.body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
    return r;
  };
  if (!req.peer.verified || !req.peer.identity) {
    return error(401, "InvalidClientCertificate",
                 "a client certificate of the deployment CA is required");
  }
  const CertRole role = req.peer.identity->role;
  if (role != CertRole::kMonitor && role != CertRole::kAdmin) {
    HttpResponse r = error(403, "UnauthorizedOperation",
                           "the agent's /metrics is for monitor and admin certificates");
    r.authenticated = true;
    return r;
  }
  HttpResponse r;
  if (req.path != "/metrics") {
    r = error(404, "NotFound", "the agent serves /metrics only");
  } else if (req.method != "GET") {
    r = error(405, "MethodNotAllowed", req.method + " is not allowed on /metrics");
  } else {
    r.content_type = kMetricsContentType;
    r.body = metrics.Render();
  }
  r.authenticated = true;
  return r;
}

}  // namespace

// "postgresql://…", "postgres://…" or a libpq keyword string select PostgreSQL (design.md
// §10: several servers share it); anything else is a SQLite file.
Status ServerRoleImpl::EnsureAdminAwsCredentials(const std::string& path) {
  if (auto text = ReadFile(path); text.ok()) {
    auto value = [&](const std::string& key) {
      const size_t at = text->find(key + " = ");
      if (at == std::string::npos) return std::string();
      const size_t start = at + key.size() + 3;
      return text->substr(start, text->find('\n', start) - start);
    };
    auto owner = auth_->ForAccessKey(value("aws_access_key_id"));
    if (owner.ok() && *owner && (*owner)->caller.user == "admin" &&
        (*owner)->secret == value("aws_secret_access_key")) {
      return Status::Ok();
    }
  }
  VBS_ASSIGN_OR_RETURN(auto key, admin_->IssueAccessKey(Caller{"admin", true}, "admin"));
  return WriteFileAtomic(
      path,
      "[default]\naws_access_key_id = " + key.id + "\naws_secret_access_key = " + key.secret + "\n",
      0600);
}

Result<std::unique_ptr<MetadataStore>> OpenStore(const std::string& database) {
  if (database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0 ||
      database.find("dbname=") != std::string::npos) {
    return OpenPostgresStore(database);
  }
  return OpenSqliteStore(database);
}

// The key that seals EC2 pagination tokens: one per deployment (in the PKI directory, mode
// 0600, made on first start), so a token from one server is good on another.
Result<std::string> LoadTokenKey(const std::string& pki_dir) {
  const std::string path = pki_dir + "/ec2-token.key";
  auto existing = ReadFile(path);
  if (existing.ok() && existing->size() >= 32) return *existing;
  VBS_RETURN_IF_ERROR(WriteFileAtomic(path, RandomHex(32), 0600));
  return ReadFile(path);
}

// The key that seals access-key secrets in the database (common/secret_box.h): one per
// deployment, PKI_DIR/secrets.key (0600), made on first start. Made with link(2), so servers
// starting together on one PKI directory end up with the same key; servers on other machines
// must be given a copy (AdoptSecretsKey refuses a different one).
Result<SecretBox> LoadSecretsKey(const std::string& pki_dir) {
  const std::string path = pki_dir + "/secrets.key";
  if (!ReadFile(path).ok()) {
    const std::string tmp = path + ".new." + RandomHex(8);
    VBS_RETURN_IF_ERROR(WriteFileAtomic(tmp, RandomHex(32) + "\n", 0600));
    if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      const int err = errno;
      ::unlink(tmp.c_str());
      return Status::FromErrno("link " + path, err);
    }
    ::unlink(tmp.c_str());
  }
  VBS_ASSIGN_OR_RETURN(std::string hex, ReadFile(path));
  auto box = SecretBox::FromHex(hex);
  if (!box.ok())
    return Status(box.status().kind(), box.status().code(), path + ": " + box.status().message());
  return box;
}

Result<std::unique_ptr<ServerRole>> StartServer(const ServerConfig& config) {
  auto role = std::make_unique<ServerRoleImpl>();
  VBS_ASSIGN_OR_RETURN(role->store_, OpenStore(config.database));
  DeploymentPki pki(config.pki_dir);
  VBS_ASSIGN_OR_RETURN(auto ca, pki.LoadCa());
  if (ca) {
    role->ca_ = std::make_unique<CertificateAuthority>(std::move(*ca));
  } else {
    spdlog::info(
        "server: {}/ca.key is not here: users are enrolled without certificates, "
        "which are issued offline (vbsd pki issue)",
        config.pki_dir);
  }
  std::vector<std::string> san = config.names;
  for (const char* local : {"127.0.0.1", "localhost"}) {
    if (std::find(san.begin(), san.end(), local) == san.end()) san.push_back(local);
  }
  if (config.listen.host != "0.0.0.0" && config.listen.host != "::" &&
      std::find(san.begin(), san.end(), config.listen.host) == san.end()) {
    san.insert(san.begin(), config.listen.host);
  }
  VBS_ASSIGN_OR_RETURN(auto server_pki, pki.EnsureServer(san, config.id));
  // The bootstrap admin's certificate (with the CA key offline, it is issued there too).
  if (role->ca_) VBS_RETURN_IF_ERROR(pki.EnsureAdmin().status());

  PlacementPolicy placement{config.node_timeout_seconds * 1000};
  WorkPolicy work;
  ReconcilePolicy reconcile{config.op_timeout_seconds * 1000, 1000};
  const QuotaLimits quota{config.quota_volumes, config.quota_gigabytes, config.quota_snapshots};
  role->volumes_ = std::make_unique<VolumeService>(
      *role->store_, role->notifier_, placement,
      VolumeTypes(config.volume_types, config.default_volume_type), quota);
  role->snapshots_ =
      std::make_unique<SnapshotService>(*role->store_, role->notifier_, placement, quota);
  role->work_ = std::make_unique<WorkService>(*role->store_, role->notifier_, work, placement);
  VBS_ASSIGN_OR_RETURN(SecretBox box, LoadSecretsKey(config.pki_dir));
  role->box_ = std::make_unique<SecretBox>(box);
  VBS_ASSIGN_OR_RETURN(int sealed, AdoptSecretsKey(*role->store_, *role->box_));
  if (sealed > 0)
    spdlog::info("server: sealed {} access-key secret(s) stored in plain text", sealed);
  role->admin_ = std::make_unique<AdminService>(*role->store_, placement, quota, role->box_.get());
  role->auth_ = std::make_unique<Authenticator>(*role->store_, role->box_.get());
  role->attachments_ =
      std::make_unique<AttachmentService>(*role->store_, role->notifier_, placement);
  // The bootstrap admin's certificate is made from files, not through the API: record the
  // name so that no user can be issued a certificate with the same CN (and its objects).
  VBS_RETURN_IF_ERROR(role->admin_->RecordUser("admin", true));
  role->reconciler_ = std::make_unique<Reconciler>(*role->store_, role->notifier_, work, placement,
                                                   reconcile, config.id);
  role->api_metrics_ = std::make_unique<ApiMetrics>(role->metrics_);
  AddClusterMetrics(role->metrics_, *role->store_);
  role->reconciler_->ExportMetrics(role->metrics_);
  role->homes_ = std::make_unique<HomeService>(*role->store_, *role->volumes_, *role->snapshots_,
                                               *role->attachments_,
                                               HomeSettings{config.home_size, config.home_pool});
  RestServices services{role->volumes_.get(), role->snapshots_.get(),   role->work_.get(),
                        role->admin_.get(),   role->attachments_.get(), role->ca_.get(),
                        role->auth_.get(),    role->api_metrics_.get(), &role->metrics_};
  services.homes = role->homes_.get();
  role->public_ = std::make_unique<PublicService>(*role->store_, *role->volumes_, *role->snapshots_,
                                                  *role->attachments_);
  services.public_volume = role->public_.get();
  role->rest_ = std::make_unique<RestApi>(services);
  role->tags_ = std::make_unique<TagService>(*role->store_);
  ec2::Ec2Services ec2_services{
      role->volumes_.get(),
      role->snapshots_.get(),
      role->attachments_.get(),
      role->admin_.get(),
      role->tags_.get(),
      [auth = role->auth_.get()](const std::string& id) { return auth->ForAccessKey(id); }};
  ec2::Ec2Options ec2_options;
  VBS_ASSIGN_OR_RETURN(ec2_options.token_key, LoadTokenKey(config.pki_dir));
  ec2_options.metrics = role->api_metrics_.get();
  role->ec2_ = std::make_unique<ec2::Ec2Api>(std::move(ec2_services), std::move(ec2_options));
  HttpServerOptions http;
  http.host = config.listen.host;
  http.port = config.listen.port;
  http.cert_file = server_pki.cert;
  http.key_file = server_pki.key;
  http.ca_file = server_pki.ca_cert;
  RestApi* rest = role->rest_.get();
  ec2::Ec2Api* ec2 = role->ec2_.get();
  // The native API lives under /v1/; the EC2 Query API is "/" (design.md §9).
  VBS_ASSIGN_OR_RETURN(role->http_, HttpServer::Start(http, [rest, ec2](const HttpRequest& r) {
                         return r.path == "/" ? ec2->Handle(r) : rest->Handle(r);
                       }));
  role->reconciler_->Start();
  spdlog::info("server: listening on https://{}:{}", config.listen.host, role->http_->port());
  return std::unique_ptr<ServerRole>(std::move(role));
}

namespace {

// A pool's backend from its configuration (config.cc has checked the keys of each type).
Result<std::unique_ptr<BlockBackend>> OpenBackend(const PoolConfig& pc) {
  if (pc.type == "rbd") {
    RbdPoolOptions o{pc.ceph_conf, pc.ceph_client, pc.ceph_keyring, pc.rbd_pool};
    auto b = RbdBackend::OpenPool(o);
    if (!b.ok()) {
      return Status(b.status().kind(), b.status().code(),
                    "pool " + pc.name + " (rbd " + pc.rbd_pool + " via " + pc.ceph_conf +
                        "): " + b.status().message());
    }
    return std::unique_ptr<BlockBackend>(std::move(b).value());
  }
  VBS_ASSIGN_OR_RETURN(auto dir, DirBackend::OpenPool(pc.path, pc.shared));
  if (pc.direct_io) {
    Status st = dir->EnableDirectIo();
    if (!st.ok()) return Status(st.kind(), st.code(), "pool " + pc.name + ": " + st.message());
    spdlog::info("pool {}: volumes bypass the page cache (direct_io)", pc.name);
  }
  // Fault injection for the crash tests (tests/system): see DirBackend::set_copy_chunk_delay.
  if (const char* delay = std::getenv("VBS_FAULT_COPY_CHUNK_DELAY_MS")) {
    dir->set_copy_chunk_delay(std::chrono::milliseconds(std::atoi(delay)));
    spdlog::warn("pool {}: fault injection: every copied chunk waits {} ms", pc.name, delay);
  }
  return std::unique_ptr<BlockBackend>(std::move(dir));
}

}  // namespace

Result<std::unique_ptr<AgentRole>> StartAgent(const AgentConfig& config,
                                              const nlohmann::json* handover) {
  std::map<std::string, AgentPool> pools;
  for (const auto& pc : config.pools) {
    VBS_ASSIGN_OR_RETURN(std::unique_ptr<BlockBackend> backend, OpenBackend(pc));
    uint64_t capacity = 0;
    if (pc.capacity) {
      capacity = *pc.capacity;
    } else {
      VBS_ASSIGN_OR_RETURN(auto stats, backend->Stats());
      capacity = stats.total_bytes;  // "auto": no over-commit (docs/decisions.md)
    }
    AgentPool pool;
    VBS_ASSIGN_OR_RETURN(std::string client, backend->ClientIdentity());
    if (!client.empty()) spdlog::info("pool {}: storage client {}", pc.name, client);
    pool.info = AgentPoolInfo{pc.name, pc.type, pc.shared, capacity, client};
    pool.backend = std::move(backend);
    pools.emplace(pc.name, std::move(pool));
  }
  AgentOptions options;
  options.node = config.node;
  options.nbd_socket = config.nbd_socket;
  options.qmp_dir = config.qmp_dir;
  options.libvirt_uri = config.libvirt_uri;
  options.libvirt_pid_dir = config.libvirt_pid_dir;
  options.home_root = config.home_root;
  options.mount_state_dir = config.mount_state_dir;
  options.public_root = config.public_root;
  options.server.endpoints = config.servers;
  options.server.ca_file = config.ca_file;
  options.server.cert_file = config.cert_file;
  options.server.key_file = config.key_file;
  // Fault injection for the crash tests (tests/system): see AgentOptions::fault_op_delay.
  if (const char* delay = std::getenv("VBS_FAULT_OP_DELAY_MS")) {
    options.fault_op_delay = std::chrono::milliseconds(std::atoi(delay));
    spdlog::warn("agent {}: fault injection: every operation waits {} ms", config.node, delay);
  }
  auto role = std::make_unique<AgentRoleImpl>();
  role->agent_ = std::make_unique<Agent>(options, std::move(pools));
  VBS_RETURN_IF_ERROR(role->agent_->Start(handover));
  if (!config.metrics_listen.empty()) {
    Agent* agent = role->agent_.get();
    role->metrics_.AddCollector([agent](MetricsWriter& w) { agent->WriteMetrics(w); });
    VBS_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(config.metrics_listen));
    HttpServerOptions http;
    http.host = hp.host;
    http.port = hp.port;
    http.cert_file = config.cert_file;
    http.key_file = config.key_file;
    http.ca_file = config.ca_file;
    http.max_connections = 16;  // scrapers, not clients
    const MetricsRegistry* metrics = &role->metrics_;
    VBS_ASSIGN_OR_RETURN(role->metrics_http_,
                         HttpServer::Start(http, [metrics](const HttpRequest& r) {
                           return AgentMetrics(*metrics, r);
                         }));
    spdlog::info("agent {}: metrics on https://{}:{}/metrics", config.node, hp.host,
                 role->metrics_http_->port());
  }
  spdlog::info("agent {}: started with {} pool(s)", config.node, config.pools.size());
  return std::unique_ptr<AgentRole>(std::move(role));
}

}  // namespace vbs
