// vbs_qemu_attach_e2e: a command-line face of the hypervisor layer for tests/vm, so a shell
// script can drive QemuAttach, InstanceDiscovery and raw QMP against real QEMU. Every call
// opens its own QMP connection, as an agent that restarted would: what persists is QEMU's
// state only. Prints JSON on stdout; errors as "error: CODE: message" on stderr, exit 1
// (usage: exit 2).
//
//   attach QMP VOL SOCKET EXPORT rw|ro [RECONNECT_DELAY_S]
//   detach QMP VOL [TIMEOUT_MS]
//   resize QMP VOL BYTES
//   list QMP
//   reconcile QMP [KEEP_VOL...]   detach every VBS disk that is not for a KEEP_VOL
//   discover DIR
//   qmp QMP COMMAND [ARGUMENTS_JSON]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "hypervisor/instance_discovery.h"
#include "hypervisor/qemu_attach.h"
#include "hypervisor/qmp_client.h"

namespace {

using nlohmann::json;
using vbs::Result;
using vbs::Status;
using namespace vbs::hypervisor;

int Fail(const Status& st) {
  std::cerr << "error: " << st.ToString() << "\n";
  return 1;
}

int Usage() {
  std::cerr << "usage: vbs_qemu_attach_e2e attach QMP VOL SOCKET EXPORT rw|ro [DELAY_S]\n"
               "       vbs_qemu_attach_e2e detach QMP VOL [TIMEOUT_MS]\n"
               "       vbs_qemu_attach_e2e resize QMP VOL BYTES\n"
               "       vbs_qemu_attach_e2e list QMP\n"
               "       vbs_qemu_attach_e2e reconcile QMP [KEEP_VOL...]\n"
               "       vbs_qemu_attach_e2e discover DIR\n"
               "       vbs_qemu_attach_e2e qmp QMP COMMAND [ARGUMENTS_JSON]\n";
  return 2;
}

json DiskJson(const AttachedDisk& d) {
  return {{"name", d.name},
          {"has_device", d.has_device},
          {"has_node", d.has_node},
          {"node_name", d.node_name},
          {"nbd_file", d.nbd_file},
          {"read_only", d.read_only},
          {"size_bytes", d.size_bytes}};
}

int Run(const std::vector<std::string>& a) {
  if (a.size() < 2) return Usage();
  const std::string& cmd = a[0];
  if (cmd == "discover") {
    auto list = InstanceDiscovery(a[1]).List();
    if (!list.ok()) return Fail(list.status());
    json out = json::array();
    for (const auto& i : *list) {
      out.push_back({{"id", i.id}, {"qmp_socket", i.qmp_socket}, {"alive", i.alive}});
    }
    std::cout << out.dump() << "\n";
    return 0;
  }
  auto qmp = QmpClient::Connect(a[1]);
  if (!qmp.ok()) return Fail(qmp.status());
  QemuAttach::Options opts;
  if (cmd == "detach" && a.size() > 3)
    opts.detach_timeout = std::chrono::milliseconds(std::stol(a[3]));
  QemuAttach attach(qmp->get(), opts);

  if (cmd == "attach" && (a.size() == 6 || a.size() == 7)) {
    if (a[5] != "rw" && a[5] != "ro") return Usage();
    AttachSpec spec = AttachSpec::ForVolume(a[2], a[3], a[4], a[5] == "ro");
    if (a.size() == 7) spec.reconnect_delay_s = std::stoi(a[6]);
    Status st = attach.Attach(spec);
    if (!st.ok()) return Fail(st);
    std::cout << json{{"device_id", spec.device_id},
                      {"node_name", spec.node_name},
                      {"serial", spec.serial}}
                     .dump()
              << "\n";
    return 0;
  }
  if (cmd == "detach" && (a.size() == 3 || a.size() == 4)) {
    AttachSpec spec = AttachSpec::ForVolume(a[2], "", "", false);
    Status st = attach.Detach(spec.device_id, spec.node_name);
    if (!st.ok()) return Fail(st);
    std::cout << json{{"detached", spec.device_id}}.dump() << "\n";
    return 0;
  }
  if (cmd == "resize" && a.size() == 4) {
    AttachSpec spec = AttachSpec::ForVolume(a[2], "", "", false);
    Status st = attach.Resize(spec.node_name, std::stoull(a[3]));
    if (!st.ok()) return Fail(st);
    std::cout << json{{"resized", spec.node_name}, {"size_bytes", std::stoull(a[3])}}.dump()
              << "\n";
    return 0;
  }
  if (cmd == "list" && a.size() == 2) {
    auto list = attach.List();
    if (!list.ok()) return Fail(list.status());
    json out = json::array();
    for (const auto& d : *list) out.push_back(DiskJson(d));
    std::cout << out.dump() << "\n";
    return 0;
  }
  if (cmd == "reconcile") {
    // What an agent does after a crash: everything VBS-owned that the store does not list
    // for this instance is a leftover and goes.
    std::set<std::string> keep;
    for (size_t i = 2; i < a.size(); ++i)
      keep.insert(AttachSpec::ForVolume(a[i], "", "", false).device_id);
    auto list = attach.List();
    if (!list.ok()) return Fail(list.status());
    json removed = json::array();
    for (const auto& d : *list) {
      if (keep.count(d.name)) continue;
      Status st = attach.Detach(d.name, d.has_node ? d.name : d.node_name);
      if (!st.ok()) return Fail(st);
      removed.push_back(d.name);
    }
    std::cout << json{{"removed", removed}}.dump() << "\n";
    return 0;
  }
  if (cmd == "qmp" && (a.size() == 3 || a.size() == 4)) {
    json args = nullptr;
    if (a.size() == 4) {
      args = json::parse(a[3], nullptr, false);
      if (args.is_discarded()) return Usage();
    }
    auto r = (*qmp)->Execute(a[2], args);
    if (!r.ok()) return Fail(r.status());
    std::cout << r->dump() << "\n";
    return 0;
  }
  return Usage();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return Run(args);
  } catch (const std::exception& e) {  // std::stoi and friends on a bad number
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
