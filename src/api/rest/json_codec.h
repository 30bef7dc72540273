// JSON forms of VBS objects and errors on the native REST face, and strict parsing of
// request bodies (unknown fields and wrong types are errors, not silently ignored).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "common/status.h"
#include "core/volume_types.h"
#include "store/records.h"

namespace vbs {

nlohmann::json VolumeJson(const VolumeRecord& v,
                          const std::vector<AttachmentRecord>& attachments = {});
nlohmann::json AttachmentJson(const AttachmentRecord& a);
nlohmann::json InstanceJson(const InstanceRecord& i);
nlohmann::json SnapshotJson(const SnapshotRecord& s);
nlohmann::json OperationJson(const OperationRecord& op);
nlohmann::json ModificationJson(const VolumeModificationRecord& m);

nlohmann::json UserListJson(const std::vector<UserRecord>& users);  // account_routes.cc

HttpResponse JsonResponse(int status, const nlohmann::json& body);
HttpResponse ErrorResponse(const Status& status);
// The error of `r`, or `status` with to_json(the value) as the body.
template <typename T, typename F>
HttpResponse Reply(int status, const Result<T>& r, F to_json) {
  if (!r.ok()) return ErrorResponse(r.status());
  return JsonResponse(status, to_json(*r));
}

// Parses a request body that must be a JSON object with only `allowed` keys. Checks the
// content type (application/json) when there is a body; an empty body is `{}`.
Result<nlohmann::json> ParseJsonObject(const HttpRequest& req,
                                       const std::set<std::string>& allowed);

// Typed field access: missing → nullopt; wrong type → InvalidParameterValue naming the field.
Result<std::optional<std::string>> OptString(const nlohmann::json& obj, const std::string& key);
Result<std::optional<bool>> OptBool(const nlohmann::json& obj, const std::string& key);
Result<std::optional<int64_t>> OptInt(const nlohmann::json& obj, const std::string& key);
// volume_type, iops and throughput of a create or modify body (core/volume_types.h).
Result<QosRequest> OptQos(const nlohmann::json& obj);
Result<Tags> OptTags(const nlohmann::json& obj, const std::string& key);
// A size: a non-negative integer of bytes, or a string with units ("10G").
Result<std::optional<uint64_t>> OptSize(const nlohmann::json& obj, const std::string& key);

}  // namespace vbs
