#include "common/config.h"

#include <toml++/toml.h>
#include <fstream>
#include <set>
#include <sstream>

#include "common/ids.h"
#include "common/units.h"

namespace vbs {

std::vector<VolumeTypeConfig> DefaultVolumeTypes() {
  VolumeTypeConfig standard;
  standard.name = "standard";
  VolumeTypeConfig gp3;
  gp3.name = "gp3";
  gp3.iops = 3000;
  gp3.max_iops = 16000;
  gp3.throughput = 125;
  gp3.max_throughput = 1000;
  VolumeTypeConfig io2;
  io2.name = "io2";
  io2.max_iops = 64000;
  io2.max_iops_per_gib = 500;
  io2.iops_required = true;
  return {standard, gp3, io2};
}

namespace {

Status Bad(const std::string& origin, const std::string& key, const std::string& why) {
  return Status::InvalidArgument("InvalidConfiguration", origin + ": " + key + ": " + why);
}

Status CheckKeys(const toml::table& t, const std::set<std::string>& allowed,
                 const std::string& origin, const std::string& where) {
  for (const auto& [k, _] : t) {
    if (!allowed.count(std::string(k.str()))) {
      return Bad(origin, where + std::string(k.str()), "unknown key");
    }
  }
  return Status::Ok();
}

Result<std::optional<std::string>> Str(const toml::table& t, const char* key,
                                       const std::string& origin, const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return std::optional<std::string>();
  if (!n->is_string()) return Bad(origin, where + key, "must be a string");
  return std::optional<std::string>(n->as_string()->get());
}

Result<std::optional<int64_t>> Int(const toml::table& t, const char* key, const std::string& origin,
                                   const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return std::optional<int64_t>();
  if (!n->is_integer() || n->as_integer()->get() < 0) {
    return Bad(origin, where + key, "must be a non-negative integer");
  }
  return std::optional<int64_t>(n->as_integer()->get());
}

Result<std::vector<std::string>> StrList(const toml::table& t, const char* key,
                                         const std::string& origin, const std::string& where) {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (!n) return out;
  const toml::array* a = n->as_array();
  if (!a) return Bad(origin, where + key, "must be a list of strings");
  for (const auto& e : *a) {
    if (!e.is_string()) return Bad(origin, where + key, "must be a list of strings");
    out.push_back(e.as_string()->get());
  }
  return out;
}

Result<VolumeTypeConfig> ParseVolumeType(const toml::table& t, const std::string& origin,
                                         size_t index) {
  const std::string w = "server.volume_type[" + std::to_string(index) + "].";
  VBS_RETURN_IF_ERROR(CheckKeys(t,
                                {"name", "iops", "max_iops", "max_iops_per_gib", "iops_required",
                                 "throughput", "max_throughput"},
                                origin, w));
  VolumeTypeConfig v;
  VBS_ASSIGN_OR_RETURN(auto name, Str(t, "name", origin, w));
  if (!name || !IsValidName(*name)) return Bad(origin, w + "name", "a type name is required");
  v.name = *name;
  struct Field {
    const char* key;
    int64_t* into;
  };
  for (const Field& f :
       {Field{"iops", &v.iops}, Field{"max_iops", &v.max_iops},
        Field{"max_iops_per_gib", &v.max_iops_per_gib}, Field{"throughput", &v.throughput},
        Field{"max_throughput", &v.max_throughput}}) {
    VBS_ASSIGN_OR_RETURN(auto n, Int(t, f.key, origin, w));
    if (n) *f.into = *n;
  }
  if (const toml::node* r = t.get("iops_required")) {
    if (!r->is_boolean()) return Bad(origin, w + "iops_required", "must be true or false");
    v.iops_required = r->as_boolean()->get();
  }
  if (v.iops > v.max_iops && v.max_iops > 0) {
    return Bad(origin, w + "iops", "is above max_iops");
  }
  if (v.throughput > v.max_throughput && v.max_throughput > 0) {
    return Bad(origin, w + "throughput", "is above max_throughput");
  }
  if (v.iops_required && v.max_iops == 0) {
    return Bad(origin, w + "iops_required", "needs max_iops");
  }
  return v;
}

Result<ServerConfig> ParseServer(const toml::table& t, const std::string& origin) {
  const std::string w = "server.";
  VBS_RETURN_IF_ERROR(
      CheckKeys(t,
                {"id", "listen", "database", "pki_dir", "names", "op_timeout", "node_timeout",
                 "volume_type", "default_volume_type", "quota", "home"},
                origin, w));
  ServerConfig c;
  VBS_ASSIGN_OR_RETURN(auto id, Str(t, "id", origin, w));
  if (id) {
    if (!IsValidName(*id)) return Bad(origin, w + "id", "'" + *id + "' is not a valid name");
    c.id = *id;
  }
  VBS_ASSIGN_OR_RETURN(auto listen, Str(t, "listen", origin, w));
  if (listen) {
    auto hp = ParseHostPort(*listen);
    if (!hp.ok()) return Bad(origin, w + "listen", hp.status().message());
    c.listen = *hp;
  }
  VBS_ASSIGN_OR_RETURN(auto db, Str(t, "database", origin, w));
  VBS_ASSIGN_OR_RETURN(auto pki, Str(t, "pki_dir", origin, w));
  if (!db) return Bad(origin, w + "database", "is required");
  if (!pki) return Bad(origin, w + "pki_dir", "is required");
  c.database = *db;
  c.pki_dir = *pki;
  VBS_ASSIGN_OR_RETURN(c.names, StrList(t, "names", origin, w));
  VBS_ASSIGN_OR_RETURN(auto opt, Int(t, "op_timeout", origin, w));
  VBS_ASSIGN_OR_RETURN(auto nt, Int(t, "node_timeout", origin, w));
  if (opt) c.op_timeout_seconds = *opt;
  if (nt) c.node_timeout_seconds = *nt;
  if (const toml::node* types = t.get("volume_type")) {
    const toml::array* a = types->as_array();
    if (!a)
      return Bad(origin, w + "volume_type", "must be a list of tables ([[server.volume_type]])");
    c.volume_types.clear();
    std::set<std::string> seen;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::table* e = (*a)[i].as_table();
      if (!e) return Bad(origin, w + "volume_type", "must be a list of tables");
      VBS_ASSIGN_OR_RETURN(auto vt, ParseVolumeType(*e, origin, i));
      if (!seen.insert(vt.name).second) {
        return Bad(origin, w + "volume_type", "type '" + vt.name + "' is defined twice");
      }
      c.volume_types.push_back(std::move(vt));
    }
  }
  if (const toml::node* quota = t.get("quota")) {
    const toml::table* q = quota->as_table();
    if (!q) return Bad(origin, w + "quota", "must be a table ([server.quota])");
    const std::string qw = w + "quota.";
    VBS_RETURN_IF_ERROR(CheckKeys(*q, {"volumes", "gigabytes", "snapshots"}, origin, qw));
    for (auto [key, field] :
         {std::pair{"volumes", &c.quota_volumes}, std::pair{"gigabytes", &c.quota_gigabytes},
          std::pair{"snapshots", &c.quota_snapshots}}) {
      VBS_ASSIGN_OR_RETURN(*field, Int(*q, key, origin, qw));  // Int refuses negatives
    }
  }
  if (const toml::node* home = t.get("home")) {
    const toml::table* h = home->as_table();
    if (!h) return Bad(origin, w + "home", "must be a table ([server.home])");
    const std::string hw = w + "home.";
    VBS_RETURN_IF_ERROR(CheckKeys(*h, {"size", "pool"}, origin, hw));
    VBS_ASSIGN_OR_RETURN(auto size, Str(*h, "size", origin, hw));
    if (size) {
      auto bytes = ParseSize(*size);
      if (!bytes.ok()) return Bad(origin, hw + "size", bytes.status().message());
      c.home_size = *bytes;
    }
    VBS_ASSIGN_OR_RETURN(c.home_pool, Str(*h, "pool", origin, hw));
  }
  VBS_ASSIGN_OR_RETURN(auto dvt, Str(t, "default_volume_type", origin, w));
  if (dvt) c.default_volume_type = *dvt;
  bool known = false;
  for (const auto& vt : c.volume_types) known |= vt.name == c.default_volume_type;
  if (!known) {
    return Bad(origin, w + "default_volume_type",
               "'" + c.default_volume_type + "' is not a defined volume type");
  }
  return c;
}

Result<PoolConfig> ParsePool(const toml::table& t, const std::string& origin, size_t index) {
  const std::string w = "agent.pool[" + std::to_string(index) + "].";
  PoolConfig p;
  VBS_ASSIGN_OR_RETURN(auto type, Str(t, "type", origin, w));
  if (type) p.type = *type;
  if (p.type == "dir") {
    VBS_RETURN_IF_ERROR(
        CheckKeys(t, {"name", "type", "path", "capacity", "shared", "direct_io"}, origin, w));
  } else if (p.type == "rbd") {
    VBS_RETURN_IF_ERROR(CheckKeys(
        t, {"name", "type", "ceph_conf", "client", "keyring", "rbd_pool", "capacity", "shared"},
        origin, w));
  } else {
    return Bad(origin, w + "type", "unknown pool type '" + p.type + "' (dir or rbd)");
  }
  VBS_ASSIGN_OR_RETURN(auto name, Str(t, "name", origin, w));
  VBS_ASSIGN_OR_RETURN(auto cap, Str(t, "capacity", origin, w));
  if (!name || !IsValidName(*name)) return Bad(origin, w + "name", "a pool name is required");
  p.name = *name;
  if (p.type == "dir") {
    VBS_ASSIGN_OR_RETURN(auto path, Str(t, "path", origin, w));
    if (!path || path->empty()) return Bad(origin, w + "path", "is required for a dir pool");
    p.path = *path;
  } else {
    VBS_ASSIGN_OR_RETURN(auto conf, Str(t, "ceph_conf", origin, w));
    if (!conf || conf->empty()) return Bad(origin, w + "ceph_conf", "is required for an rbd pool");
    p.ceph_conf = *conf;
    VBS_ASSIGN_OR_RETURN(auto rbd_pool, Str(t, "rbd_pool", origin, w));
    if (!rbd_pool || rbd_pool->empty()) {
      return Bad(origin, w + "rbd_pool", "is required for an rbd pool");
    }
    p.rbd_pool = *rbd_pool;
    VBS_ASSIGN_OR_RETURN(auto client, Str(t, "client", origin, w));
    if (client) {
      if (client->rfind("client.", 0) != 0 || client->size() == 7) {
        return Bad(origin, w + "client", "must be a Ceph client name such as client.admin");
      }
      p.ceph_client = *client;
    }
    VBS_ASSIGN_OR_RETURN(auto keyring, Str(t, "keyring", origin, w));
    if (keyring) p.ceph_keyring = *keyring;
    p.shared = true;
  }
  if (cap && *cap != "auto") {
    auto bytes = ParseSize(*cap);
    if (!bytes.ok()) return Bad(origin, w + "capacity", bytes.status().message());
    p.capacity = *bytes;
  }
  if (const toml::node* s = t.get("shared")) {
    if (!s->is_boolean()) return Bad(origin, w + "shared", "must be true or false");
    p.shared = s->as_boolean()->get();
    if (p.type == "rbd" && !p.shared) {
      return Bad(origin, w + "shared", "an rbd pool is always shared (every node reaches Ceph)");
    }
  }
  if (const toml::node* d = t.get("direct_io")) {
    if (!d->is_boolean()) return Bad(origin, w + "direct_io", "must be true or false");
    p.direct_io = d->as_boolean()->get();
  }
  return p;
}

Result<AgentConfig> ParseAgent(const toml::table& t, const std::string& origin) {
  const std::string w = "agent.";
  VBS_RETURN_IF_ERROR(CheckKeys(
      t,
      {"node", "servers", "ca", "cert", "key", "nbd_socket", "qmp_dir", "libvirt_uri",
       "libvirt_pid_dir", "metrics_listen", "home_root", "mount_state_dir", "public_root", "pool"},
      origin, w));
  AgentConfig c;
  VBS_ASSIGN_OR_RETURN(auto node, Str(t, "node", origin, w));
  if (!node || !IsValidName(*node)) return Bad(origin, w + "node", "a node name is required");
  c.node = *node;
  VBS_ASSIGN_OR_RETURN(c.servers, StrList(t, "servers", origin, w));
  if (c.servers.empty()) return Bad(origin, w + "servers", "at least one server is required");
  for (const char* key : {"ca", "cert", "key"}) {
    VBS_ASSIGN_OR_RETURN(auto v, Str(t, key, origin, w));
    if (!v) return Bad(origin, w + key, "is required");
    (std::string(key) == "ca"     ? c.ca_file
     : std::string(key) == "cert" ? c.cert_file
                                  : c.key_file) = *v;
  }
  VBS_ASSIGN_OR_RETURN(auto sock, Str(t, "nbd_socket", origin, w));
  if (sock) {
    // sockaddr_un holds 108 bytes including the terminator.
    if (sock->empty() || sock->size() > 107)
      return Bad(origin, w + "nbd_socket", "must be 1-107 characters");
    c.nbd_socket = *sock;
  }
  VBS_ASSIGN_OR_RETURN(auto metrics, Str(t, "metrics_listen", origin, w));
  if (metrics) {
    auto hp = ParseHostPort(*metrics);
    if (!hp.ok()) return Bad(origin, w + "metrics_listen", hp.status().message());
    c.metrics_listen = *metrics;
  }
  VBS_ASSIGN_OR_RETURN(auto qmp_dir, Str(t, "qmp_dir", origin, w));
  if (qmp_dir) {
    if (qmp_dir->empty()) return Bad(origin, w + "qmp_dir", "must not be empty");
    c.qmp_dir = *qmp_dir;
  }
  VBS_ASSIGN_OR_RETURN(auto libvirt_uri, Str(t, "libvirt_uri", origin, w));
  if (libvirt_uri) {
    if (libvirt_uri->empty() || libvirt_uri->find("://") == std::string::npos) {
      return Bad(origin, w + "libvirt_uri", "must be a libvirt URI such as qemu:///system");
    }
    c.libvirt_uri = *libvirt_uri;
  }
  for (auto [key, field] :
       {std::pair{"home_root", &c.home_root}, std::pair{"mount_state_dir", &c.mount_state_dir},
        std::pair{"public_root", &c.public_root}}) {
    VBS_ASSIGN_OR_RETURN(auto dir, Str(t, key, origin, w));
    if (!dir) continue;
    if (dir->size() < 2 || dir->front() != '/') {
      return Bad(origin, w + key, "must be an absolute path other than /");
    }
    *field = *dir;
  }
  VBS_ASSIGN_OR_RETURN(auto pid_dir, Str(t, "libvirt_pid_dir", origin, w));
  if (pid_dir) {
    if (pid_dir->empty() || pid_dir->front() != '/') {
      return Bad(origin, w + "libvirt_pid_dir", "must be an absolute path");
    }
    c.libvirt_pid_dir = *pid_dir;
  }
  if (const toml::node* pools = t.get("pool")) {
    const toml::array* a = pools->as_array();
    if (!a) return Bad(origin, w + "pool", "must be [[agent.pool]] tables");
    std::set<std::string> names;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::table* pt = (*a)[i].as_table();
      if (!pt) return Bad(origin, w + "pool", "must be [[agent.pool]] tables");
      VBS_ASSIGN_OR_RETURN(auto p, ParsePool(*pt, origin, i));
      if (!names.insert(p.name).second) return Bad(origin, w + "pool", "duplicate pool " + p.name);
      c.pools.push_back(std::move(p));
    }
  }
  return c;
}

}  // namespace

Result<HostPort> ParseHostPort(const std::string& text) {
  auto bad =
      Status::InvalidArgument("InvalidConfiguration", "expected HOST:PORT, got '" + text + "'");
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return bad;
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.front() == '[') {
    if (hp.host.back() != ']') return bad;
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad;
  int p = std::stoi(port);
  if (p > 65535) return bad;
  hp.port = static_cast<uint16_t>(p);
  return hp;
}

Result<VbsdConfig> ParseConfig(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return Status::InvalidArgument("InvalidConfiguration", msg.str());
  }
  VBS_RETURN_IF_ERROR(CheckKeys(root, {"server", "agent"}, origin, ""));
  VbsdConfig c;
  if (const toml::node* s = root.get("server")) {
    if (!s->is_table()) return Bad(origin, "server", "must be a table");
    VBS_ASSIGN_OR_RETURN(c.server, ParseServer(*s->as_table(), origin));
  }
  if (const toml::node* a = root.get("agent")) {
    if (!a->is_table()) return Bad(origin, "agent", "must be a table");
    VBS_ASSIGN_OR_RETURN(c.agent, ParseAgent(*a->as_table(), origin));
  }
  return c;
}

Result<VbsdConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("InvalidConfiguration", "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace vbs
