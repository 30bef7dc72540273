#include "cli/client.h"

#include <fmt/format.h>

#include <cctype>

#include "cli/errors.h"

namespace vbs::cli {

std::string PercentEncode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    out += out.empty() ? '?' : '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

ApiClient::ApiClient(std::unique_ptr<HttpsClient> http, std::chrono::milliseconds request_timeout)
    : http_(std::move(http)), request_timeout_(request_timeout) {}

Result<Json> ApiClient::Call(const std::string& method, const std::string& target,
                             const Json& body) {
  std::string payload = body.is_null() ? std::string() : body.dump();
  auto resp = http_->Request(method, target, payload, "application/json", request_timeout_);
  if (!resp.ok()) {
    // No answer at all: unreachable endpoints, refused TLS, timeouts.
    return UnreachableError(resp.status().message().empty() ? resp.status().ToString()
                                                            : resp.status().message());
  }
  if (resp->status < 200 || resp->status >= 300) {
    return StatusFromHttpError(resp->status, resp->body);
  }
  auto doc = Json::parse(resp->body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return BadResponseError(
        fmt::format("{} {}: the server answered {} with a body that is not JSON", method, target,
                    resp->status));
  }
  return doc;
}

Result<Json> ApiClient::ListOf(const std::string& target, const char* key) {
  VBS_ASSIGN_OR_RETURN(Json doc, Call("GET", target));
  if (!doc.is_object() || !doc.contains(key) || !doc[key].is_array()) {
    return BadResponseError(fmt::format("GET {}: expected {{\"{}\":[...]}}", target, key));
  }
  return std::move(doc[key]);
}

namespace {
void AddQos(const QosSettings& q, Json* body) {
  if (q.type) (*body)["volume_type"] = *q.type;
  if (q.iops) (*body)["iops"] = *q.iops;
  if (q.throughput) (*body)["throughput"] = *q.throughput;
}
}  // namespace

Result<Json> ApiClient::ModifyVolume(const std::string& id, const QosSettings& qos) {
  Json body = Json::object();
  AddQos(qos, &body);
  return Call("POST", "/v1/volumes/" + PercentEncode(id) + "/modify", body);
}

Result<Json> ApiClient::CreateVolume(const VolumeCreateRequest& req) {
  Json body = Json::object();
  if (req.size) body["size"] = *req.size;
  if (req.pool) body["pool"] = *req.pool;
  if (req.snapshot_id) body["snapshot_id"] = *req.snapshot_id;
  if (!req.tags.empty()) body["tags"] = req.tags;
  if (req.client_token) body["client_token"] = *req.client_token;
  AddQos(req.qos, &body);
  return Call("POST", "/v1/volumes", body);
}

Result<Json> ApiClient::ListVolumes(const VolumeFilter& f) {
  std::vector<std::pair<std::string, std::string>> q;
  if (f.state) q.emplace_back("state", *f.state);
  if (f.tag) q.emplace_back("tag", *f.tag);
  if (f.all) q.emplace_back("all", "true");
  return ListOf("/v1/volumes" + QueryString(q), "volumes");
}

Result<Json> ApiClient::GetVolume(const std::string& id) {
  return Call("GET", "/v1/volumes/" + PercentEncode(id));
}

Result<Json> ApiClient::DeleteVolume(const std::string& id) {
  return Call("DELETE", "/v1/volumes/" + PercentEncode(id));
}

Result<Json> ApiClient::ForceVolumeState(const std::string& id, const std::string& state) {
  return Call("POST", "/v1/volumes/" + PercentEncode(id) + "/force-state", {{"state", state}});
}

Result<Json> ApiClient::ResizeVolume(const std::string& id, const std::string& size) {
  return Call("POST", "/v1/volumes/" + PercentEncode(id) + "/resize", Json{{"size", size}});
}

Result<Json> ApiClient::ListModifications(const std::string& id) {
  return ListOf("/v1/volumes/" + PercentEncode(id) + "/modifications", "modifications");
}

Result<Json> ApiClient::AttachVolume(const AttachRequest& req) {
  Json body = {{"instance_id", req.instance_id}};
  if (req.mode) body["mode"] = *req.mode;
  if (req.device) body["device"] = *req.device;
  if (req.uid) body["uid"] = *req.uid;
  return Call("POST", "/v1/volumes/" + PercentEncode(req.volume_id) + "/attach", body);
}

Result<Json> ApiClient::DetachVolume(const DetachRequest& req) {
  Json body = Json::object();
  if (req.instance_id) body["instance_id"] = *req.instance_id;
  if (req.force) body["force"] = true;
  return Call("POST", "/v1/volumes/" + PercentEncode(req.volume_id) + "/detach", body);
}

Result<Json> ApiClient::ListInstances() {
  return ListOf("/v1/instances", "instances");
}

Result<Json> ApiClient::CreateSnapshot(const SnapshotCreateRequest& req) {
  Json body = {{"volume_id", req.volume_id}};
  if (req.description) body["description"] = *req.description;
  if (!req.tags.empty()) body["tags"] = req.tags;
  return Call("POST", "/v1/snapshots", body);
}

Result<Json> ApiClient::ListSnapshots(const SnapshotFilter& f) {
  std::vector<std::pair<std::string, std::string>> q;
  if (f.state) q.emplace_back("state", *f.state);
  if (f.volume_id) q.emplace_back("volume_id", *f.volume_id);
  if (f.all) q.emplace_back("all", "true");
  return ListOf("/v1/snapshots" + QueryString(q), "snapshots");
}

Result<Json> ApiClient::GetSnapshot(const std::string& id) {
  return Call("GET", "/v1/snapshots/" + PercentEncode(id));
}

Result<Json> ApiClient::DeleteSnapshot(const std::string& id) {
  return Call("DELETE", "/v1/snapshots/" + PercentEncode(id));
}

Result<Json> ApiClient::CreateUser(const std::string& name, bool admin) {
  return Call("POST", "/v1/users", {{"name", name}, {"admin", admin}});
}

Result<Json> ApiClient::ListUsers() {
  return ListOf("/v1/users", "users");
}
Result<Json> ApiClient::ListPools() {
  return ListOf("/v1/pools", "pools");
}
Result<Json> ApiClient::ListNodes() {
  return ListOf("/v1/nodes", "nodes");
}
Result<Json> ApiClient::WhoAmI() {
  return Call("GET", "/v1/whoami");
}

}  // namespace vbs::cli
