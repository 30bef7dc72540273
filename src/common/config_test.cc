#include "common/config.h"

#include <gtest/gtest.h>

namespace vbs {
namespace {

const char* kFull = R"(
[server]
listen = "0.0.0.0:9443"
database = "/var/lib/vbs/meta.db"
pki_dir = "/var/lib/vbs/pki"
names = ["vbs.example.org"]
op_timeout = 120

[agent]
node = "node1"
servers = ["https://a:8443", "https://b:8443"]
ca = "/etc/vbs/ca.crt"
cert = "/etc/vbs/node1.crt"
key = "/etc/vbs/node1.key"

[[agent.pool]]
name = "fast"
path = "/srv/fast"
capacity = "2T"

[[agent.pool]]
name = "lustre"
type = "dir"
path = "/lustre/vbs"
shared = true
)";

TEST(Config, ParsesEverything) {
  auto c = ParseConfig(kFull, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->server && c->agent);
  EXPECT_EQ(c->server->listen.host, "0.0.0.0");
  EXPECT_EQ(c->server->listen.port, 9443);
  EXPECT_EQ(c->server->op_timeout_seconds, 120);
  EXPECT_EQ(c->server->node_timeout_seconds, 30);
  EXPECT_EQ(c->agent->servers.size(), 2u);
  ASSERT_EQ(c->agent->pools.size(), 2u);
  EXPECT_EQ(*c->agent->pools[0].capacity, 2ull << 40);
  EXPECT_FALSE(c->agent->pools[1].capacity.has_value());
  EXPECT_TRUE(c->agent->pools[1].shared);
}

void ExpectError(const std::string& text, const std::string& needle) {
  auto c = ParseConfig(text, "bad.toml");
  ASSERT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.status().code(), "InvalidConfiguration");
  EXPECT_NE(c.status().message().find(needle), std::string::npos)
      << "message '" << c.status().message() << "' lacks '" << needle << "'";
}

TEST(Config, RejectsWhatIsWrongAndSaysWhere) {
  ExpectError("[server\n", "bad.toml:");             // TOML syntax
  ExpectError("[srever]\n", "srever: unknown key");  // typo in a section
  ExpectError("[server]\ndatabase='x'\npki_dir='y'\nlisen='a:1'\n", "server.lisen: unknown key");
  ExpectError("[server]\npki_dir='y'\n", "server.database: is required");
  ExpectError("[server]\ndatabase='x'\npki_dir='y'\nlisten='nohost'\n", "server.listen");
  ExpectError("[server]\ndatabase='x'\npki_dir='y'\nlisten='a:70000'\n", "server.listen");
  ExpectError("[server]\ndatabase='x'\npki_dir='y'\nop_timeout=-1\n", "server.op_timeout");
  ExpectError("[server]\ndatabase=5\npki_dir='y'\n", "server.database: must be a string");
  const std::string agent =
      "[agent]\nnode='n'\nservers=['https://a:1']\nca='c'\ncert='c'\nkey='k'\n";
  ExpectError(agent + "[[agent.pool]]\nname='p'\npath='/x'\ncapacity='lots'\n",
              "agent.pool[0].capacity");
  ExpectError(agent + "[[agent.pool]]\nname='p'\ntype='zfs'\npath='/x'\n", "unknown pool type");
  ExpectError(agent + "[[agent.pool]]\nname='p'\n", "agent.pool[0].path");
  ExpectError(agent + "[[agent.pool]]\nname='p'\npath='/a'\n[[agent.pool]]\nname='p'\npath='/b'\n",
              "duplicate pool");
  ExpectError("[agent]\nnode='bad name'\n", "agent.node");
  ExpectError("[agent]\nnode='n'\nservers=[]\n", "agent.servers");
}

TEST(Config, Quota) {
  const std::string server = "[server]\ndatabase='x'\npki_dir='y'\n";
  auto c = ParseConfig(server + "[server.quota]\nvolumes=20\ngigabytes=500\n", "q.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*c->server->quota_volumes, 20);
  EXPECT_EQ(*c->server->quota_gigabytes, 500);
  EXPECT_FALSE(c->server->quota_snapshots.has_value()) << "unset: no limit";
  auto none = ParseConfig(server, "q.toml");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->server->quota_volumes.has_value());
  ExpectError(server + "[server.quota]\nvolumes=-1\n",
              "server.quota.volumes: must be a non-negative integer");
  ExpectError(server + "[server.quota]\ndisks=1\n", "server.quota.disks: unknown key");
  ExpectError(server + "quota=5\n", "server.quota: must be a table");
}

TEST(Config, AgentQmpDir) {
  const std::string agent =
      "[agent]\nnode='n'\nservers=['https://a:1']\nca='c'\ncert='c'\nkey='k'\n";
  auto none = ParseConfig(agent, "a.toml");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->agent->qmp_dir, "");  // no VMs on this node
  auto some = ParseConfig(agent + "qmp_dir='/run/vbs/qmp'\n", "a.toml");
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(some->agent->qmp_dir, "/run/vbs/qmp");
  ExpectError(agent + "qmp_dir=''\n", "agent.qmp_dir");
  ExpectError(agent + "qmp_dir=3\n", "agent.qmp_dir");
}

TEST(Config, AgentLibvirt) {
  const std::string agent =
      "[agent]\nnode='n'\nservers=['https://a:1']\nca='c'\ncert='c'\nkey='k'\n";
  auto none = ParseConfig(agent, "a.toml");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->agent->libvirt_uri, "");  // no libvirt on this node
  EXPECT_EQ(none->agent->libvirt_pid_dir, "/run/libvirt/qemu");
  auto some =
      ParseConfig(agent + "libvirt_uri='qemu:///system'\nlibvirt_pid_dir='/run/lv'\n", "a.toml");
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(some->agent->libvirt_uri, "qemu:///system");
  EXPECT_EQ(some->agent->libvirt_pid_dir, "/run/lv");
  ExpectError(agent + "libvirt_uri=''\n", "agent.libvirt_uri");
  ExpectError(agent + "libvirt_uri='system'\n", "agent.libvirt_uri: must be a libvirt URI");
  ExpectError(agent + "libvirt_pid_dir='run'\n", "agent.libvirt_pid_dir: must be an absolute");
}

TEST(Config, Homes) {
  const std::string agent =
      "[agent]\nnode='n'\nservers=['https://a:1']\nca='c'\ncert='c'\nkey='k'\n";
  auto defaults = ParseConfig(agent, "a.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->agent->home_root, "/vbs/home");
  EXPECT_EQ(defaults->agent->mount_state_dir, "/run/vbs/mounts");
  auto set = ParseConfig(agent + "home_root='/home/vbs'\nmount_state_dir='/run/m'\n", "a.toml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->agent->home_root, "/home/vbs");
  EXPECT_EQ(set->agent->mount_state_dir, "/run/m");
  ExpectError(agent + "home_root='home'\n", "agent.home_root: must be an absolute path");
  ExpectError(agent + "home_root='/'\n", "agent.home_root: must be an absolute path");
  ExpectError(agent + "mount_state_dir=''\n", "agent.mount_state_dir");

  const std::string server = "[server]\ndatabase='d'\npki_dir='p'\n";
  auto plain = ParseConfig(server, "s.toml");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->server->home_size, 20ull << 30);
  EXPECT_FALSE(plain->server->home_pool);
  auto homes = ParseConfig(server + "[server.home]\nsize='5G'\npool='fast'\n", "s.toml");
  ASSERT_TRUE(homes.ok()) << homes.status().ToString();
  EXPECT_EQ(homes->server->home_size, 5ull << 30);
  EXPECT_EQ(homes->server->home_pool, "fast");
  ExpectError(server + "[server.home]\nsize='lots'\n", "server.home.size");
  ExpectError(server + "[server.home]\nroot='/x'\n", "server.home");
  ExpectError(server + "home=3\n", "server.home: must be a table");
}

TEST(HostPort, Forms) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:0")->port, 0);
  EXPECT_EQ(ParseHostPort("[::1]:8443")->host, "::1");
  EXPECT_FALSE(ParseHostPort(":80").ok());
  EXPECT_FALSE(ParseHostPort("host:").ok());
  EXPECT_FALSE(ParseHostPort("host:8x").ok());
}

TEST(Config, RbdPool) {
  const std::string agent =
      "[agent]\nnode='n'\nservers=['https://a:1']\nca='c'\ncert='c'\nkey='k'\n";
  auto c =
      ParseConfig(agent +
                      "[[agent.pool]]\nname='ceph'\ntype='rbd'\nceph_conf='/etc/ceph/ceph.conf'"
                      "\nrbd_pool='vbs'\nclient='client.vbs'\nkeyring='/k'\ncapacity='1T'\n",
                  "a.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const PoolConfig& p = c->agent->pools.at(0);
  EXPECT_EQ(p.type, "rbd");
  EXPECT_EQ(p.ceph_conf, "/etc/ceph/ceph.conf");
  EXPECT_EQ(p.rbd_pool, "vbs");
  EXPECT_EQ(p.ceph_client, "client.vbs");
  EXPECT_EQ(p.ceph_keyring, "/k");
  EXPECT_TRUE(p.shared);  // always
  EXPECT_EQ(*p.capacity, 1ull << 40);
  auto dflt = ParseConfig(
      agent + "[[agent.pool]]\nname='ceph'\ntype='rbd'\nceph_conf='/c'\nrbd_pool='vbs'\n",
      "a.toml");
  ASSERT_TRUE(dflt.ok()) << dflt.status().ToString();
  EXPECT_EQ(dflt->agent->pools.at(0).ceph_client, "client.admin");
  EXPECT_FALSE(dflt->agent->pools.at(0).capacity.has_value());

  const std::string rbd = agent + "[[agent.pool]]\nname='p'\ntype='rbd'\n";
  ExpectError(rbd + "rbd_pool='vbs'\n", "agent.pool[0].ceph_conf");
  ExpectError(rbd + "ceph_conf='/c'\n", "agent.pool[0].rbd_pool");
  ExpectError(rbd + "ceph_conf='/c'\nrbd_pool='v'\npath='/x'\n", "agent.pool[0].path: unknown key");
  ExpectError(rbd + "ceph_conf='/c'\nrbd_pool='v'\nshared=false\n", "always shared");
  ExpectError(rbd + "ceph_conf='/c'\nrbd_pool='v'\nclient='admin'\n", "agent.pool[0].client");
  ExpectError(agent + "[[agent.pool]]\nname='p'\npath='/x'\nrbd_pool='v'\n",
              "agent.pool[0].rbd_pool: unknown key");
  // direct_io: a dir pool's choice only.
  ExpectError(rbd + "ceph_conf='/c'\nrbd_pool='v'\ndirect_io=true\n",
              "agent.pool[0].direct_io: unknown key");
  ExpectError(agent + "[[agent.pool]]\nname='p'\npath='/x'\ndirect_io='yes'\n",
              "agent.pool[0].direct_io: must be true or false");
  auto direct =
      ParseConfig(agent + "[[agent.pool]]\nname='p'\npath='/x'\ndirect_io=true\n", "a.toml");
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_TRUE(direct->agent->pools.at(0).direct_io);
  EXPECT_FALSE(dflt->agent->pools.at(0).direct_io);
}

}  // namespace
}  // namespace vbs
