#include "api/rest/json_codec.h"

#include <cctype>

#include "common/clock.h"
#include "common/units.h"

namespace vbs {
namespace {

nlohmann::json OptJson(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}

Status BadField(const std::string& key, const std::string& expected) {
  return Status::InvalidArgument("InvalidParameterValue",
                                 "the field '" + key + "' must be " + expected);
}

}  // namespace

// A QoS limit: null when there is none (0).
static nlohmann::json LimitJson(int64_t limit) {
  return limit > 0 ? nlohmann::json(limit) : nlohmann::json(nullptr);
}

nlohmann::json AttachmentJson(const AttachmentRecord& a) {
  return {{"id", a.id},
          {"volume_id", a.volume_id},
          {"instance_id", a.instance_id},
          {"node", a.node},
          {"mode", a.mode},
          {"device", a.device},
          {"state", a.state},
          {"export_name", OptJson(a.export_name)},
          {"nbd_uri", OptJson(a.nbd_uri)},
          {"mount_point", OptJson(a.mount_point)},
          {"uid", a.consumer_uid ? nlohmann::json(*a.consumer_uid) : nlohmann::json(nullptr)},
          {"error", OptJson(a.error)},
          {"created_at", FormatIso8601(a.created_at)}};
}

nlohmann::json InstanceJson(const InstanceRecord& i) {
  return {{"id", i.id},
          {"node", i.node},
          {"kind", i.kind},
          {"state", i.state},
          {"owner", i.owner.empty() ? nlohmann::json(nullptr) : nlohmann::json(i.owner)},
          {"last_seen", FormatIso8601(i.last_seen)}};
}

nlohmann::json VolumeJson(const VolumeRecord& v, const std::vector<AttachmentRecord>& atts) {
  nlohmann::json attachments = nlohmann::json::array();
  for (const auto& a : atts) {
    if (a.volume_id == v.id) attachments.push_back(AttachmentJson(a));
  }
  return {{"id", v.id},
          {"owner", v.owner},
          {"size", v.size},
          {"pool", v.pool},
          {"state", v.state},
          {"snapshot_id", OptJson(v.snapshot_id)},
          {"error", OptJson(v.error)},
          {"tags", v.tags},
          {"volume_type", v.volume_type},
          {"iops", LimitJson(v.iops)},
          {"throughput", LimitJson(v.throughput)},
          {"created_at", FormatIso8601(v.created_at)},
          {"attachments", attachments}};
}

nlohmann::json ModificationJson(const VolumeModificationRecord& m) {
  return {{"id", m.id},
          {"volume_id", m.volume_id},
          {"state", m.state},
          {"original_size", m.original_size},
          {"target_size", m.target_size},
          {"original_volume_type", m.original_type},
          {"target_volume_type", m.target_type},
          {"original_iops", LimitJson(m.original_iops)},
          {"target_iops", LimitJson(m.target_iops)},
          {"original_throughput", LimitJson(m.original_throughput)},
          {"target_throughput", LimitJson(m.target_throughput)},
          {"progress", m.progress},
          {"error", OptJson(m.error)},
          {"created_at", FormatIso8601(m.created_at)},
          {"updated_at", FormatIso8601(m.updated_at)}};
}

nlohmann::json SnapshotJson(const SnapshotRecord& s) {
  return {{"id", s.id},
          {"owner", s.owner},
          {"volume_id", s.volume_id},
          {"size", s.size},
          {"pool", s.pool},
          {"state", s.state},
          {"progress", s.progress},
          {"error", OptJson(s.error)},
          {"description", s.description},
          {"tags", s.tags},
          {"created_at", FormatIso8601(s.created_at)}};
}

nlohmann::json OperationJson(const OperationRecord& op) {
  auto params = nlohmann::json::parse(op.params, nullptr, false);
  if (params.is_discarded()) params = nlohmann::json::object();
  return {{"id", op.id},      {"kind", op.kind},        {"resource_id", op.resource_id},
          {"pool", op.pool},  {"node", op.node},        {"state", op.state},
          {"params", params}, {"attempts", op.attempts}};
}

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump() + "\n";
  return r;
}

HttpResponse ErrorResponse(const Status& st) {
  return JsonResponse(HttpStatusFor(st.kind()),
                      {{"error", {{"code", st.code()}, {"message", st.message()}}}});
}

Result<nlohmann::json> ParseJsonObject(const HttpRequest& req,
                                       const std::set<std::string>& allowed) {
  if (req.body.empty()) return nlohmann::json::object();
  std::string ct = req.Header("content-type");
  std::string media = ct.substr(0, ct.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (char& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (media != "application/json") {
    return Status(StatusKind::kUnsupportedMediaType, "UnsupportedMediaType",
                  "request bodies must be application/json, got '" + ct + "'");
  }
  auto j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::InvalidArgument("MalformedJSON", "the request body is not valid JSON");
  }
  if (!j.is_object()) {
    return Status::InvalidArgument("MalformedJSON", "the request body must be a JSON object");
  }
  for (auto& [k, _] : j.items()) {
    if (!allowed.count(k)) {
      return Status::InvalidArgument("UnknownParameter", "unknown field '" + k + "'");
    }
  }
  return j;
}

Result<std::optional<std::string>> OptString(const nlohmann::json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return BadField(key, "a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<bool>> OptBool(const nlohmann::json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return BadField(key, "true or false");
  return std::optional<bool>(it->get<bool>());
}

Result<std::optional<int64_t>> OptInt(const nlohmann::json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return BadField(key, "an integer");
  return std::optional<int64_t>(it->get<int64_t>());
}

Result<QosRequest> OptQos(const nlohmann::json& obj) {
  QosRequest q;
  VBS_ASSIGN_OR_RETURN(q.type, OptString(obj, "volume_type"));
  VBS_ASSIGN_OR_RETURN(q.iops, OptInt(obj, "iops"));
  VBS_ASSIGN_OR_RETURN(q.throughput, OptInt(obj, "throughput"));
  return q;
}

Result<Tags> OptTags(const nlohmann::json& obj, const std::string& key) {
  Tags tags;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return tags;
  if (!it->is_object()) return BadField(key, "an object of string values");
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) return BadField(key + "." + k, "a string");
    tags[k] = v.get<std::string>();
  }
  return tags;
}

Result<std::optional<uint64_t>> OptSize(const nlohmann::json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::optional<uint64_t>();
  if (it->is_number_unsigned()) return std::optional<uint64_t>(it->get<uint64_t>());
  if (it->is_number_integer()) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "the field '" + key + "' must not be negative");
  }
  if (it->is_string()) {
    VBS_ASSIGN_OR_RETURN(uint64_t n, ParseSize(it->get<std::string>()));
    return std::optional<uint64_t>(n);
  }
  return BadField(key, "a whole number of bytes or a string such as \"10G\"");
}

}  // namespace vbs
