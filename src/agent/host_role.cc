#include "agent/host_role.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/ids.h"

namespace vbs {

HostRole::HostRole(HostRoleOptions options, std::map<std::string, AgentPool>* pools)
    : options_(std::move(options)), pools_(pools) {}

HostRole::~HostRole() {
  Stop();
}

Status HostRole::Start() {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(options_.nbd_socket).parent_path(), ec);
  return nbd_.ListenUnix(options_.nbd_socket);
}

void HostRole::Stop() {
  nbd_.Stop();
}

std::string HostRole::UriOf(const std::string& export_name) const {
  return "nbd+unix:///" + export_name + "?socket=" + options_.nbd_socket;
}

std::vector<AgentInstance> HostRole::Instances() const {
  return {AgentInstance{"host-" + options_.node, "host"}};
}

Status HostRole::Export(const std::string& name, const std::string& pool,
                        const std::string& volume_id, bool read_only) {
  auto it = pools_->find(pool);
  if (it == pools_->end()) {
    return Status::NotFound("InvalidPool.NotFound", "this agent has no pool '" + pool + "'");
  }
  BlockBackend* backend = it->second.backend.get();
  // Fail now, not at the first client, if the volume cannot be opened.
  VBS_ASSIGN_OR_RETURN(auto probe, backend->Open(volume_id, read_only));
  probe.reset();
  nbd::DeviceFactory factory = [backend, volume_id,
                                read_only]() -> Result<std::shared_ptr<BlockDevice>> {
    VBS_ASSIGN_OR_RETURN(auto dev, backend->Open(volume_id, read_only));
    return std::shared_ptr<BlockDevice>(std::move(dev));
  };
  VBS_RETURN_IF_ERROR(nbd_.AddExport(name, factory, read_only, volume_id));
  std::lock_guard<std::mutex> l(mu_);
  exports_[name] = volume_id;
  return Status::Ok();
}

Status HostRole::Execute(const AgentOp& op, nlohmann::json* result) {
  const std::string volume_id = op.params.value("volume_id", "");
  if (op.kind == "attach") {
    const std::string kind = op.params.value("instance_kind", "");
    if (kind != "host") {
      return Status::InvalidArgument(
          "UnsupportedInstance", "this agent cannot attach to instances of kind '" + kind + "'");
    }
    const bool read_only = op.params.value("mode", "rw") == "ro";
    // An unguessable name: knowing it is what lets a client in on the unix socket.
    const std::string name = "vbs-" + RandomHex(16);
    VBS_RETURN_IF_ERROR(Export(name, op.pool, volume_id, read_only));
    (*result)["export_name"] = name;
    (*result)["nbd_uri"] = UriOf(name);
    spdlog::info("agent {}: exported {} ({}) as {}", options_.node, volume_id,
                 read_only ? "ro" : "rw", name);
    return Status::Ok();
  }
  if (op.kind == "detach") {
    const std::string name = op.params.value("export_name", "");
    if (!name.empty()) {
      Status st = nbd_.RemoveExport(name);  // disconnects its clients: fencing
      if (!st.ok() && st.kind() != StatusKind::kNotFound) return st;
      std::lock_guard<std::mutex> l(mu_);
      exports_.erase(name);
    }
    spdlog::info("agent {}: unexported {} ({})", options_.node, volume_id, name);
    return Status::Ok();
  }
  return Status::InvalidArgument("UnknownOperation", "unknown operation kind '" + op.kind + "'");
}

void HostRole::Reconcile(const std::vector<AgentAttachment>& attachments) {
  for (const auto& a : attachments) {
    if (a.state != "attached" || a.export_name.empty()) continue;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (exports_.count(a.export_name)) continue;
    }
    Status st = Export(a.export_name, a.pool, a.volume_id, a.mode == "ro");
    if (st.ok()) {
      spdlog::info("agent {}: re-exported {} as {}", options_.node, a.volume_id, a.export_name);
    } else {
      spdlog::error("agent {}: cannot re-export {}: {}", options_.node, a.volume_id, st.ToString());
    }
  }
}

}  // namespace vbs
