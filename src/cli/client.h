// ApiClient: the calls the vbs CLI makes to the native REST API (docs/rest-api.md), JSON in
// and out over an HttpsClient.
//
// Every call returns the server's JSON object, or a Status: a transport failure (no endpoint
// reachable, TLS failure) becomes vbs.ConnectionFailed (exit 3); a 4xx/5xx answer carries the
// server's error code and message (exit 1); a 2xx answer that is not JSON becomes
// vbs.BadResponse. Ids and query values are percent-encoded, so user input cannot change the
// path that is called.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "net/https_client.h"

namespace vbs::cli {

using Json = nlohmann::json;

// A volume type and its limits (the server checks them against its types).
struct QosSettings {
  std::optional<std::string> type;
  std::optional<int64_t> iops;
  std::optional<int64_t> throughput;  // MiB/s
  bool empty() const { return !type && !iops && !throughput; }
};

struct VolumeCreateRequest {
  std::optional<std::string> size;  // as typed: "10G"
  std::optional<std::string> pool;
  std::optional<std::string> snapshot_id;
  std::map<std::string, std::string> tags;
  std::optional<std::string> client_token;  // idempotency: the same token, the same volume
  QosSettings qos;
};

struct VolumeFilter {
  std::optional<std::string> state;
  std::optional<std::string> tag;  // "K=V"
  bool all = false;
};

struct SnapshotCreateRequest {
  std::string volume_id;
  std::optional<std::string> description;
  std::map<std::string, std::string> tags;
};

struct SnapshotFilter {
  std::optional<std::string> volume_id;
  std::optional<std::string> state;
  bool all = false;
};

struct AttachRequest {
  std::string volume_id;
  std::string instance_id;
  std::optional<std::string> mode;  // rw (the server's default) | ro
  std::optional<std::string> device;
  std::optional<int64_t> uid;  // host targets: the local uid that may open the export
};

struct DetachRequest {
  std::string volume_id;
  std::optional<std::string> instance_id;  // needed only when attached to several
  bool force = false;
};

class ApiClient {
 public:
  ApiClient(std::unique_ptr<HttpsClient> http, std::chrono::milliseconds request_timeout);

  Result<Json> CreateVolume(const VolumeCreateRequest& req);
  Result<Json> ListVolumes(const VolumeFilter& filter);  // the array of volumes
  Result<Json> GetVolume(const std::string& id);
  Result<Json> DeleteVolume(const std::string& id);
  // size as typed ("20G") or digits; the modification.
  Result<Json> ResizeVolume(const std::string& id, const std::string& size);
  Result<Json> ModifyVolume(const std::string& id, const QosSettings& qos);
  Result<Json> ListModifications(const std::string& id);  // the array, oldest first
  Result<Json> ForceVolumeState(const std::string& id, const std::string& state);

  Result<Json> AttachVolume(const AttachRequest& req);  // the attachment
  Result<Json> DetachVolume(const DetachRequest& req);  // the attachment (detaching)
  Result<Json> ListInstances();                         // the array of instances

  Result<Json> CreateSnapshot(const SnapshotCreateRequest& req);
  Result<Json> ListSnapshots(const SnapshotFilter& filter);  // the array of snapshots
  Result<Json> GetSnapshot(const std::string& id);
  Result<Json> DeleteSnapshot(const std::string& id);

  Result<Json> CreateUser(const std::string& name, bool admin);
  Result<Json> ListUsers();  // the arrays, unwrapped from {"users":[...]} etc.
  Result<Json> ListPools();
  Result<Json> ListNodes();
  Result<Json> WhoAmI();

  // One call: `body` null means no body. Public for commands that need a raw call.
  Result<Json> Call(const std::string& method, const std::string& target,
                    const Json& body = nullptr);

 private:
  Result<Json> ListOf(const std::string& target, const char* key);

  std::unique_ptr<HttpsClient> http_;
  std::chrono::milliseconds request_timeout_;
};

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string PercentEncode(std::string_view s);

// "?a=1&b=2" from the present pairs (empty string when none).
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace vbs::cli
