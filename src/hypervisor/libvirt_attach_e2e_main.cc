// vbs_libvirt_attach_e2e: a command-line face of the libvirt driver for tests/vm, so a shell
// script can drive LibvirtConnection and LibvirtAttach against a real libvirtd. Every call
// opens its own connection, as an agent that restarted would. Prints JSON on stdout; errors
// as "error: CODE: message" on stderr, exit 1 (usage: exit 2). DOMAIN is a name, a UUID or
// an instance id. VBS_LIBVIRT_PID_DIR overrides libvirt's pid directory (/run/libvirt/qemu).
//
//   list-domains URI
//   attach URI DOMAIN VOL SOCKET EXPORT rw|ro
//   detach URI DOMAIN VOL [TIMEOUT_MS]
//   resize URI DOMAIN VOL BYTES [TIMEOUT_MS]
//   disks URI DOMAIN
//   session URI     one connection for many commands, one a line on stdin ("list-domains",
//                   "disks DOMAIN", "detach DOMAIN VOL"), one line of output each: shows
//                   that a long-lived connection survives a libvirtd restart
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "hypervisor/libvirt_attach.h"
#include "hypervisor/libvirt_connection.h"

namespace {

using nlohmann::json;
using vbs::Status;
using namespace vbs::hypervisor;

int Fail(const Status& st) {
  std::cerr << "error: " << st.ToString() << "\n";
  return 1;
}

int Usage() {
  std::cerr << "usage: vbs_libvirt_attach_e2e list-domains URI\n"
               "       vbs_libvirt_attach_e2e attach URI DOMAIN VOL SOCKET EXPORT rw|ro\n"
               "       vbs_libvirt_attach_e2e detach URI DOMAIN VOL [TIMEOUT_MS]\n"
               "       vbs_libvirt_attach_e2e resize URI DOMAIN VOL BYTES [TIMEOUT_MS]\n"
               "       vbs_libvirt_attach_e2e disks URI DOMAIN\n"
               "       vbs_libvirt_attach_e2e session URI   (commands on stdin)\n";
  return 2;
}

json DomainJson(const LibvirtDomain& d) {
  return {{"instance_id", d.instance_id}, {"uuid", d.uuid},  {"name", d.name}, {"owner", d.owner},
          {"qemu_pid", d.qemu_pid},       {"alive", d.alive}};
}

json DiskJson(const LibvirtAttachedDisk& d) {
  return {{"volume_id", d.volume_id}, {"alias", d.alias},   {"target", d.target_dev},
          {"export", d.export_name},  {"socket", d.socket}, {"serial", d.serial},
          {"read_only", d.read_only}};
}

// One line per command; errors as "error: CODE: message" on stdout too, so that the caller
// reads exactly one line per command.
int Session(LibvirtConnection* conn) {
  LibvirtAttach attach(conn);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, domain, vol;
    in >> cmd >> domain >> vol;
    json out;
    Status st;
    if (cmd == "list-domains") {
      auto list = conn->ListDomains();
      st = list.status();
      if (list.ok()) {
        out = json::array();
        for (const auto& d : *list) out.push_back(DomainJson(d));
      }
    } else if (cmd == "disks") {
      auto list = attach.List(domain);
      st = list.status();
      if (list.ok()) {
        out = json::array();
        for (const auto& d : *list) out.push_back(DiskJson(d));
      }
    } else if (cmd == "detach") {
      st = attach.Detach(domain, vol);
      out = json{{"detached", vol}};
    } else {
      st = Status::InvalidArgument("Usage", "unknown session command '" + cmd + "'");
    }
    if (st.ok()) {
      std::cout << out.dump() << std::endl;
    } else {
      std::cout << "error: " << st.ToString() << std::endl;
    }
  }
  return 0;
}

int Run(const std::vector<std::string>& a) {
  if (a.size() < 2) return Usage();
  const std::string& cmd = a[0];
  LibvirtConnection::Options copts;
  if (const char* dir = std::getenv("VBS_LIBVIRT_PID_DIR")) copts.pid_dir = dir;
  auto conn = LibvirtConnection::Open(a[1], copts);
  if (!conn.ok()) return Fail(conn.status());

  if (cmd == "session" && a.size() == 2) return Session(conn->get());
  if (cmd == "list-domains" && a.size() == 2) {
    auto list = (*conn)->ListDomains();
    if (!list.ok()) return Fail(list.status());
    json out = json::array();
    for (const auto& d : *list) out.push_back(DomainJson(d));
    std::cout << out.dump() << "\n";
    return 0;
  }
  LibvirtAttach::Options opts;
  if (cmd == "detach" && a.size() == 5) {
    opts.detach_timeout = std::chrono::milliseconds(std::stol(a[4]));
  }
  if (cmd == "resize" && a.size() == 6) {
    opts.resize_timeout = std::chrono::milliseconds(std::stol(a[5]));
  }
  LibvirtAttach attach(conn->get(), opts);
  if (cmd == "attach" && a.size() == 7) {
    if (a[6] != "rw" && a[6] != "ro") return Usage();
    LibvirtDiskSpec spec = LibvirtDiskSpec::ForVolume(a[3], a[4], a[5], a[6] == "ro");
    Status st = attach.Attach(a[2], spec);
    if (!st.ok()) return Fail(st);
    std::cout << json{{"alias", spec.alias}, {"serial", spec.serial}}.dump() << "\n";
    return 0;
  }
  if (cmd == "detach" && (a.size() == 4 || a.size() == 5)) {
    Status st = attach.Detach(a[2], a[3]);
    if (!st.ok()) return Fail(st);
    std::cout << json{{"detached", a[3]}}.dump() << "\n";
    return 0;
  }
  if (cmd == "resize" && (a.size() == 5 || a.size() == 6)) {
    Status st = attach.Resize(a[2], a[3], std::stoull(a[4]));
    if (!st.ok()) return Fail(st);
    std::cout << json{{"resized", a[3]}, {"size_bytes", std::stoull(a[4])}}.dump() << "\n";
    return 0;
  }
  if (cmd == "disks" && a.size() == 3) {
    auto list = attach.List(a[2]);
    if (!list.ok()) return Fail(list.status());
    json out = json::array();
    for (const auto& d : *list) out.push_back(DiskJson(d));
    std::cout << out.dump() << "\n";
    return 0;
  }
  return Usage();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return Run(args);
  } catch (const std::exception& e) {  // std::stol and friends on a bad number
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
