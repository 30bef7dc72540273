#include "bin/vbsd_nbd_serve.h"

#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "api/rest/rest_api.h"
#include "backend/dir/file_device.h"
#include "bin/vbsd_roles.h"
#include "core/authenticator.h"
#include "nbd/nbd_server.h"

namespace vbs {
namespace {

struct ServeArgs {
  std::string file;
  std::string socket;
  std::string listen;
  std::string export_name;
  std::string description;
  bool read_only = false;
  bool direct_io = false;
  bool no_tls = false;
  bool no_client_auth = false;
  nbd::TlsOptions tls;
  std::string database;  // the deployment's: users' certificates are checked against it
  int workers = 16;
  size_t request_memory_mib = 1024;
};

int Fail(const std::string& msg) {
  std::fprintf(stderr, "vbsd nbd-serve: %s\n", msg.c_str());
  return 1;
}

// "HOST:PORT" or "[V6]:PORT".
bool SplitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  try {
    int p = std::stoi(s.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    *port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

int RunServe(ServeArgs a) {
  if (a.socket.empty() && a.listen.empty()) return Fail("give --socket PATH or --listen ADDR:PORT");
  const bool have_tls = !a.tls.cert_file.empty() || !a.tls.key_file.empty();
  if (!a.listen.empty() && !have_tls && !a.no_tls) {
    return Fail("TCP needs --tls-cert/--tls-key (or --no-tls for a trusted benchmark setup)");
  }
  // Anyone who reaches the port could read and write the file: say so explicitly.
  if (!a.listen.empty() && a.tls.ca_file.empty() && !a.no_client_auth) {
    return Fail(
        "TCP needs --tls-ca to authenticate clients by certificate (or "
        "--no-client-auth to serve anyone who can connect)");
  }
  if (a.no_client_auth && !a.tls.ca_file.empty()) {
    return Fail("--no-client-auth and --tls-ca contradict each other");
  }
  if (a.tls.client_roles.empty()) a.tls.client_roles = {"user", "admin", "node"};
  if (!a.database.empty() && a.tls.ca_file.empty()) {
    return Fail("--database checks client certificates: it needs --tls-ca");
  }
  std::unique_ptr<MetadataStore> store;
  std::unique_ptr<Authenticator> auth;
  if (!a.database.empty()) {
    auto opened = OpenStore(a.database);
    if (!opened.ok()) return Fail(opened.status().ToString());
    store = std::move(opened).value();
    auth = std::make_unique<Authenticator>(*store);
    // Users and admins as the users table says (disabled, deleted, revoked: refused); node
    // certificates are not users: their role decides.
    a.tls.admit_client = [&auth](X509* cert) -> Status {
      VBS_ASSIGN_OR_RETURN(CertIdentity id, IdentityFromX509(cert));
      if (id.role != CertRole::kUser && id.role != CertRole::kAdmin) return Status::Ok();
      return auth->ForCertificate(CertificateOf(id), id.role == CertRole::kAdmin).status();
    };
  }
  // Signals are taken by sigwait below; block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto dev = FileDevice::Open(a.file, a.read_only, FileDeviceOptions{.direct_io = a.direct_io});
  if (!dev.ok()) return Fail(dev.status().ToString());
  nbd::NbdServerOptions opts;
  opts.worker_threads = a.workers;
  opts.max_request_memory = a.request_memory_mib << 20;
  nbd::NbdServer server(opts);
  std::shared_ptr<BlockDevice> shared(std::move(dev).value());
  Status st = server.AddExport(a.export_name, shared, a.read_only, a.description);
  if (!st.ok()) return Fail(st.ToString());
  server.SetDefaultExport(a.export_name);

  if (!a.socket.empty()) {
    st = server.ListenUnix(a.socket, have_tls ? &a.tls : nullptr);
    if (!st.ok()) return Fail(st.ToString());
  }
  if (!a.listen.empty()) {
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(a.listen, &host, &port)) return Fail("bad --listen " + a.listen);
    auto bound = have_tls && !a.no_tls ? server.ListenTcp(host, port, a.tls)
                                       : server.ListenTcpInsecure(host, port);
    if (!bound.ok()) return Fail(bound.status().ToString());
    std::fprintf(stderr, "vbsd nbd-serve: tcp port %u%s\n", *bound,
                 have_tls && !a.no_tls ? " (TLS required)" : " (no TLS)");
  }
  std::printf("ready\n");
  std::fflush(stdout);
  // With a database, connected users are asked about again every 2 s: one disabled or
  // revoked since is cut off.
  if (auth) {
    const struct timespec recheck = {2, 0};
    while (sigtimedwait(&sigs, nullptr, &recheck) < 0) server.RecheckTlsClients();
  } else {
    int sig = 0;
    sigwait(&sigs, &sig);
  }
  server.Stop();
  return 0;
}

}  // namespace

void AddNbdServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("nbd-serve", "Serve one file over NBD");
  cmd->add_option("FILE", args->file, "file to serve")->required()->check(CLI::ExistingFile);
  cmd->add_option("--socket", args->socket, "unix socket path");
  cmd->add_option("--listen", args->listen, "TCP address ADDR:PORT (TLS required)");
  cmd->add_flag("--read-only", args->read_only, "refuse writes");
  cmd->add_flag("--direct-io", args->direct_io,
                "bypass the page cache (O_DIRECT) for aligned reads and writes");
  cmd->add_option("--export-name", args->export_name, "export name (default: empty)");
  cmd->add_option("--description", args->description, "export description");
  cmd->add_option("--tls-cert", args->tls.cert_file, "server certificate (PEM)");
  cmd->add_option("--tls-key", args->tls.key_file, "server private key (PEM)");
  cmd->add_option("--tls-ca", args->tls.ca_file, "CA for client certificates (PEM)");
  cmd->add_flag("--no-tls", args->no_tls, "allow plain TCP (benchmarks only)");
  cmd->add_flag("--no-client-auth", args->no_client_auth,
                "serve TCP clients without a client certificate");
  cmd->add_option("--tls-allow-role", args->tls.client_roles,
                  "client certificate roles admitted (default: user, admin, node)")
      ->type_name("ROLE");
  cmd->add_option("--database", args->database,
                  "the deployment's metadata database (as vbsd server's): admit users' and "
                  "admins' certificates only while the users table does (checked every 2 s)");
  cmd->add_option("--workers", args->workers, "worker threads for blocking I/O")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--request-memory", args->request_memory_mib,
                  "MiB that requests of all clients may hold beyond 2 MiB each (default 1024)")
      ->check(CLI::Range(64, 1 << 20));
  cmd->callback([args] { std::exit(RunServe(*args)); });
}

}  // namespace vbs
