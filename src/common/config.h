// Configuration of `vbsd server` and `vbsd agent` from a TOML file (toml++).
//
// Strict: unknown sections or keys, wrong types, bad sizes and missing required values are
// errors that name the key, so a typo never silently falls back to a default.
//
//   [server]
//   id = "api-1"                        # this instance, when several share a database (its
//                                       # certificate is then pki_dir/server-api-1.crt)
//   listen = "127.0.0.1:8443"           # host:port of the HTTPS API
//   database = "/var/lib/vbs/meta.db"   # SQLite file, or "postgresql://user@host/db"
//   pki_dir = "/var/lib/vbs/pki"        # CA and server certificate (made on first start)
//   names = ["vbs.example.org"]         # extra subjectAltNames for the server certificate
//   op_timeout = 600                    # seconds before work of a down node fails
//   node_timeout = 30                   # seconds of silence before a node counts as down
//   [server.home]                       # VBSFS homes (optional)
//   size = "20G"  pool = "default"      # a new home's size and pool (defaults: 20G, placed)
//
//   [agent]
//   node = "node1"
//   servers = ["https://127.0.0.1:8443"]
//   ca = "…/ca.crt"  cert = "…/node-node1.crt"  key = "…/node-node1.key"
//   nbd_socket = "/run/vbs/nbd.sock"   # where the node serves volumes over NBD (default)
//   qmp_dir = "/run/vbs/qmp"           # QEMU VMs' QMP sockets, <instance id>.qmp (optional)
//   libvirt_uri = "qemu:///system"     # libvirt's domains as instances (optional)
//   libvirt_pid_dir = "/run/libvirt/qemu"   # where that libvirt keeps QEMU's pid files
//   home_root = "/vbs/home"            # VBSFS homes are mounted at home_root/USER (default)
//   mount_state_dir = "/run/vbs/mounts"     # what each VBSFS mount keeps (default)
//   public_root = "/vbs/public"        # the public volume, read-only (its draft: .draft)
//   [[agent.pool]]
//   name = "default"  type = "dir"  path = "/var/lib/vbs/pools/default"
//   capacity = "10T"  # or "auto": the size of the file system under path
//   shared = false
//   direct_io = false  # true: volumes bypass the node's page cache (O_DIRECT, QEMU cache=none)
//   [[agent.pool]]                     # a Ceph RBD pool: always shared
//   name = "ceph"  type = "rbd"  ceph_conf = "/etc/ceph/ceph.conf"  rbd_pool = "vbs"
//   client = "client.vbs"  keyring = "/etc/ceph/ceph.client.vbs.keyring"  # optional
//   capacity = "100T"  # or "auto": the pool's stored + available bytes (`ceph df`)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "host:port", "[v6]:port"; port 0 allowed (pick a free one).
Result<HostPort> ParseHostPort(const std::string& text);

// An operator-defined volume type ([[server.volume_type]]): the QoS settings its volumes may
// have (core/volume_types.h). Zero means "none" throughout.
struct VolumeTypeConfig {
  std::string name;
  int64_t iops = 0;              // IOPS a volume gets when it names none; 0: unlimited
  int64_t max_iops = 0;          // highest settable IOPS; 0: IOPS cannot be set
  int64_t max_iops_per_gib = 0;  // IOPS at most this many per GiB of size; 0: no ratio
  bool iops_required = false;    // a volume must name its IOPS (io2)
  int64_t throughput = 0;        // MiB/s a volume gets when it names none; 0: unlimited
  int64_t max_throughput = 0;    // highest settable MiB/s; 0: throughput cannot be set
};
// standard (no limits), gp3 (3000 IOPS and 125 MiB/s, up to 16000 and 1000), io2 (IOPS
// required, up to 64000 and 500 per GiB).
std::vector<VolumeTypeConfig> DefaultVolumeTypes();

struct ServerConfig {
  std::string id;  // empty: the only server (certificate pki_dir/server.crt)
  HostPort listen{"127.0.0.1", 8443};
  std::string database;
  std::string pki_dir;
  std::vector<std::string> names;
  int64_t op_timeout_seconds = 600;
  int64_t node_timeout_seconds = 30;
  std::vector<VolumeTypeConfig> volume_types = DefaultVolumeTypes();
  std::string default_volume_type = "standard";
  // [server.quota]: each user's default limits (core/quotas.h); unset: no limit.
  std::optional<int64_t> quota_volumes;
  std::optional<int64_t> quota_gigabytes;  // GiB of volumes
  std::optional<int64_t> quota_snapshots;
  // [server.home]: VBSFS homes (core/home_service.h): default size and pool.
  uint64_t home_size = 20ull << 30;
  std::optional<std::string> home_pool;
};

struct PoolConfig {
  std::string name;
  std::string type = "dir";
  std::string path;                          // dir
  std::string ceph_conf;                     // rbd: ceph.conf path
  std::string ceph_client = "client.admin";  // rbd: cephx user
  std::string ceph_keyring;                  // rbd: keyring path (empty: what ceph.conf says)
  std::string rbd_pool;                      // rbd: the RBD pool's name in Ceph
  std::optional<uint64_t> capacity;          // unset: "auto"
  bool shared = false;                       // always true for rbd
  bool direct_io = false;                    // dir: volumes opened with O_DIRECT
};

struct AgentConfig {
  std::string node;
  std::vector<std::string> servers;
  std::string ca_file, cert_file, key_file;
  std::string nbd_socket = "/run/vbs/nbd.sock";
  std::string qmp_dir;  // empty: this node attaches to no QEMU VMs by QMP socket
  // libvirt connection whose running domains are this node's instances; empty: none.
  std::string libvirt_uri;
  std::string libvirt_pid_dir = "/run/libvirt/qemu";  // QEMU's pid files, <domain name>.pid
  // HOST:PORT of the agent's /metrics (HTTPS with the node certificate, which then needs
  // subjectAltNames: vbsd pki issue --role node --san …); empty: none.
  std::string metrics_listen;
  // VBSFS (agent/home_mount.h): where homes are mounted (<home_root>/<user>) and where each
  // mount keeps its pieces.
  std::string home_root = "/vbs/home";
  std::string mount_state_dir = "/run/vbs/mounts";
  std::string public_root = "/vbs/public";
  std::vector<PoolConfig> pools;
};

struct VbsdConfig {
  std::optional<ServerConfig> server;
  std::optional<AgentConfig> agent;
};

Result<VbsdConfig> ParseConfig(const std::string& toml_text, const std::string& origin);
Result<VbsdConfig> LoadConfigFile(const std::string& path);

}  // namespace vbs
