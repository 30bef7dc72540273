#include "agent/server_client.h"

namespace vbs {
namespace {

AgentOp OpFromJson(const nlohmann::json& j) {
  AgentOp op;
  op.id = j.value("id", "");
  op.kind = j.value("kind", "");
  op.resource_id = j.value("resource_id", "");
  op.pool = j.value("pool", "");
  op.params = j.contains("params") ? j["params"] : nlohmann::json::object();
  return op;
}

}  // namespace

Result<HttpsClient*> ServerClient::Client(std::unique_ptr<HttpsClient>& slot) {
  std::lock_guard<std::mutex> l(mu_);
  if (!slot) {
    VBS_ASSIGN_OR_RETURN(slot, HttpsClient::Create(options_));
  }
  return slot.get();
}

Result<nlohmann::json> ServerClient::Call(HttpsClient* client, const std::string& method,
                                          const std::string& target, const nlohmann::json* body,
                                          std::chrono::milliseconds timeout) {
  VBS_ASSIGN_OR_RETURN(auto resp, client->Request(method, target, body ? body->dump() : "",
                                                  "application/json", timeout));
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (resp.status >= 200 && resp.status < 300) {
    if (j.is_discarded()) return Status::Internal("server sent malformed JSON for " + target);
    return j;
  }
  std::string code = "HttpError", message = resp.body;
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    code = j["error"].value("code", code);
    message = j["error"].value("message", message);
  }
  StatusKind kind = resp.status == 404   ? StatusKind::kNotFound
                    : resp.status == 409 ? StatusKind::kConflict
                    : resp.status >= 500 ? StatusKind::kUnavailable
                                         : StatusKind::kInvalidArgument;
  return Status(kind, code, message);
}

namespace {

Result<AgentLease> LeaseFromJson(const nlohmann::json& j) {
  AgentLease l;
  l.epoch = j.value("epoch", int64_t{0});
  l.lease = std::chrono::milliseconds(j.value("lease_ms", int64_t{0}));
  l.renew_interval = std::chrono::milliseconds(j.value("renew_interval_ms", int64_t{1000}));
  if (l.epoch <= 0 || l.lease.count() <= 0 || l.renew_interval.count() <= 0) {
    return Status::Internal("the server granted no usable lease: " + j.dump());
  }
  return l;
}

}  // namespace

Result<AgentLease> ServerClient::Heartbeat(int64_t epoch, std::chrono::milliseconds timeout) {
  nlohmann::json body = {{"epoch", epoch}};
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(beat_client_));
  VBS_ASSIGN_OR_RETURN(auto j, Call(c, "POST", "/v1/agent/heartbeat", &body, timeout));
  return LeaseFromJson(j);
}

Result<AgentLease> ServerClient::Hello(const std::string& node,
                                       const std::vector<AgentPoolInfo>& pools) {
  nlohmann::json body = {{"node", node}, {"pools", nlohmann::json::array()}};
  for (const auto& p : pools) {
    nlohmann::json pool = {
        {"name", p.name}, {"type", p.type}, {"shared", p.shared}, {"capacity", p.capacity}};
    if (!p.client.empty()) pool["client"] = p.client;
    body["pools"].push_back(pool);
  }
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  VBS_ASSIGN_OR_RETURN(auto j, Call(c, "POST", "/v1/agent/hello", &body, std::chrono::seconds(30)));
  return LeaseFromJson(j);
}

Result<AgentWork> ServerClient::Poll(std::chrono::seconds wait) {
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(poll_client_));
  VBS_ASSIGN_OR_RETURN(auto j, Call(c, "GET", "/v1/agent/work?wait=" + std::to_string(wait.count()),
                                    nullptr, wait + std::chrono::seconds(15)));
  AgentWork w;
  w.revision = j.value("revision", int64_t{0});
  if (j.contains("ops") && j["ops"].is_array()) {
    for (const auto& op : j["ops"]) w.ops.push_back(OpFromJson(op));
  }
  return w;
}

Result<AgentOp> ServerClient::Claim(const std::string& op_id) {
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  VBS_ASSIGN_OR_RETURN(auto j, Call(c, "POST", "/v1/agent/ops/" + op_id + "/claim", nullptr,
                                    std::chrono::seconds(30)));
  return OpFromJson(j);
}

Status ServerClient::Progress(const std::string& op_id, int percent) {
  nlohmann::json body = {{"progress", percent}};
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  return Call(c, "POST", "/v1/agent/ops/" + op_id + "/progress", &body, std::chrono::seconds(30))
      .status();
}

Status ServerClient::Complete(const std::string& op_id, bool ok, const std::string& error,
                              const nlohmann::json& result) {
  nlohmann::json body = {{"ok", ok}};
  if (!ok) body["error"] = error;
  if (ok && !result.empty()) body["result"] = result;
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  return Call(c, "POST", "/v1/agent/ops/" + op_id + "/complete", &body, std::chrono::seconds(30))
      .status();
}

Status ServerClient::ReportInstances(const std::vector<AgentInstance>& instances) {
  nlohmann::json body = {{"instances", nlohmann::json::array()}};
  for (const auto& i : instances) {
    nlohmann::json j = {{"id", i.id}, {"kind", i.kind}};
    if (!i.owner.empty()) j["owner"] = i.owner;
    body["instances"].push_back(std::move(j));
  }
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  return Call(c, "POST", "/v1/agent/instances", &body, std::chrono::seconds(30)).status();
}

Status ServerClient::ReportMounts(const std::map<std::string, MountUsage>& mounts) {
  nlohmann::json body = {{"mounts", nlohmann::json::array()}};
  for (const auto& [volume_id, u] : mounts) {
    body["mounts"].push_back({{"volume_id", volume_id},
                              {"size", u.size_bytes},
                              {"used", u.used_bytes},
                              {"free", u.free_bytes}});
  }
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  return Call(c, "POST", "/v1/agent/mounts", &body, std::chrono::seconds(30)).status();
}

Result<std::vector<AgentAttachment>> ServerClient::Attachments() {
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  VBS_ASSIGN_OR_RETURN(auto j,
                       Call(c, "GET", "/v1/agent/attachments", nullptr, std::chrono::seconds(30)));
  std::vector<AgentAttachment> out;
  if (j.contains("attachments") && j["attachments"].is_array()) {
    // Fields may be null (export_name before the attach finished): never throw on them.
    auto text = [](const nlohmann::json& o, const char* key) {
      auto it = o.find(key);
      return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    for (const auto& a : j["attachments"]) {
      if (!a.is_object()) continue;
      AgentAttachment x;
      x.id = text(a, "id");
      x.volume_id = text(a, "volume_id");
      x.instance_id = text(a, "instance_id");
      x.device = text(a, "device");
      x.pool = text(a, "pool");
      x.mode = text(a, "mode");
      x.state = text(a, "state");
      x.export_name = text(a, "export_name");
      for (auto [key, into] : {std::pair{"uid", &x.uid}, std::pair{"iops", &x.iops},
                               std::pair{"throughput", &x.throughput}}) {
        if (a.contains(key) && a[key].is_number_integer()) *into = a[key].get<int64_t>();
      }
      out.push_back(std::move(x));
    }
  }
  return out;
}

Result<AgentInventory> ServerClient::Inventory(const std::string& pool) {
  VBS_ASSIGN_OR_RETURN(HttpsClient * c, Client(call_client_));
  VBS_ASSIGN_OR_RETURN(auto j, Call(c, "GET", "/v1/agent/inventory?pool=" + pool, nullptr,
                                    std::chrono::seconds(30)));
  AgentInventory inv;
  if (j.contains("volumes") && j["volumes"].is_object()) {
    for (auto& [k, v] : j["volumes"].items()) inv.volumes[k] = v.get<std::string>();
  }
  if (j.contains("snapshots") && j["snapshots"].is_object()) {
    for (auto& [k, v] : j["snapshots"].items()) inv.snapshots[k] = v.get<std::string>();
  }
  return inv;
}

}  // namespace vbs
