// Routes for node agents (node certificates only): the work protocol of core/work_service.
// The node is always the certificate's CN: an agent cannot act for another node.
#include <chrono>
#include <climits>

#include "api/rest/json_codec.h"
#include "api/rest/rest_api.h"
#include "common/ids.h"
#include "core/validation.h"

namespace vbs {
namespace {

constexpr int kMaxWaitSeconds = 60;

Result<std::vector<PoolAnnouncement>> ParsePools(const nlohmann::json& body) {
  std::vector<PoolAnnouncement> pools;
  auto it = body.find("pools");
  if (it == body.end()) return pools;
  if (!it->is_array())
    return Status::InvalidArgument("InvalidParameterValue", "pools must be an array");
  for (const auto& p : *it) {
    if (!p.is_object() || !p.contains("name") || !p["name"].is_string() || !p.contains("type") ||
        !p["type"].is_string() || !p.contains("capacity") || !p["capacity"].is_number_unsigned()) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "each pool needs name, type and capacity");
    }
    if (p.contains("client") && !p["client"].is_string()) {
      return Status::InvalidArgument("InvalidParameterValue", "a pool's client is a string");
    }
    pools.push_back({p["name"].get<std::string>(), p["type"].get<std::string>(),
                     p.value("shared", false), p["capacity"].get<uint64_t>(),
                     p.value("client", "")});
  }
  return pools;
}

nlohmann::json LeaseJson(const NodeLease& lease) {
  return {{"epoch", lease.epoch},
          {"lease_ms", lease.lease_ms},
          {"renew_interval_ms", lease.renew_interval_ms}};
}

HttpResponse OkResponse() {
  return JsonResponse(200, {{"ok", true}});
}

}  // namespace

void RestApi::AddAgentRoutes() {
  auto& r = agent_routes_;
  WorkService& work = *s_.work;
  r.Add("POST", "/v1/agent/hello",
        [&work](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          auto body = ParseJsonObject(req, {"node", "pools"});
          if (!body.ok()) return ErrorResponse(body.status());
          auto node = OptString(*body, "node");
          if (!node.ok()) return ErrorResponse(node.status());
          if (*node && **node != ctx.identity.common_name) {
            return ErrorResponse(Status::PermissionDenied(
                "UnauthorizedOperation",
                "this certificate is for node '" + ctx.identity.common_name + "'"));
          }
          auto pools = ParsePools(*body);
          if (!pools.ok()) return ErrorResponse(pools.status());
          auto lease = work.Hello(ctx.identity.common_name, *pools);
          if (!lease.ok()) return ErrorResponse(lease.status());
          return JsonResponse(200, LeaseJson(*lease));
        });
  // The lease renewal: its own route, no transaction (WorkService::Heartbeat).
  r.Add("POST", "/v1/agent/heartbeat",
        [&work](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          auto body = ParseJsonObject(req, {"epoch"});
          if (!body.ok()) return ErrorResponse(body.status());
          auto it = body->find("epoch");
          if (it == body->end() || !it->is_number_integer()) {
            return ErrorResponse(
                Status::InvalidArgument("MissingParameter", "epoch (an integer) is required"));
          }
          auto lease = work.Heartbeat(ctx.identity.common_name, it->get<int64_t>());
          if (!lease.ok()) return ErrorResponse(lease.status());
          return JsonResponse(200, LeaseJson(*lease));
        });
  r.Add("GET", "/v1/agent/work",
        [&work](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          int wait = 0;
          if (auto w = req.QueryParam("wait")) {
            try {
              wait = std::stoi(*w);
            } catch (...) {
              wait = -1;
            }
            if (wait < 0 || wait > kMaxWaitSeconds) {
              return ErrorResponse(
                  Status::InvalidArgument("InvalidParameterValue", "wait is 0 to 60 seconds"));
            }
          }
          auto batch = work.Poll(ctx.identity.common_name, std::chrono::seconds(wait));
          if (!batch.ok()) return ErrorResponse(batch.status());
          nlohmann::json ops = nlohmann::json::array();
          for (const auto& op : batch->ops) ops.push_back(OperationJson(op));
          return JsonResponse(200, {{"revision", batch->revision}, {"ops", ops}});
        });
  r.Add("POST", "/v1/agent/ops/{op}/claim",
        [&work](const HttpRequest&, const PathParams& p, RestContext& ctx) {
          auto op = work.Claim(ctx.identity.common_name, p.at("op"));
          if (!op.ok()) return ErrorResponse(op.status());
          return JsonResponse(200, OperationJson(*op));
        });
  r.Add("POST", "/v1/agent/ops/{op}/progress",
        [&work](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          auto body = ParseJsonObject(req, {"progress"});
          if (!body.ok()) return ErrorResponse(body.status());
          int progress = 0;
          if (body->contains("progress")) {
            if (!(*body)["progress"].is_number_integer()) {
              return ErrorResponse(Status::InvalidArgument("InvalidParameterValue",
                                                           "progress is an integer 0..100"));
            }
            progress = (*body)["progress"].get<int>();
          }
          Status st = work.Progress(ctx.identity.common_name, p.at("op"), progress);
          return st.ok() ? OkResponse() : ErrorResponse(st);
        });
  r.Add("POST", "/v1/agent/ops/{op}/complete",
        [&work](const HttpRequest& req, const PathParams& p, RestContext& ctx) {
          auto body = ParseJsonObject(req, {"ok", "error", "result"});
          if (!body.ok()) return ErrorResponse(body.status());
          std::string result = "{}";
          if (body->contains("result")) {
            if (!(*body)["result"].is_object()) {
              return ErrorResponse(
                  Status::InvalidArgument("InvalidParameterValue", "result must be an object"));
            }
            result = (*body)["result"].dump();
          }
          auto ok = OptBool(*body, "ok");
          auto error = OptString(*body, "error");
          if (!ok.ok()) return ErrorResponse(ok.status());
          if (!error.ok()) return ErrorResponse(error.status());
          if (!*ok)
            return ErrorResponse(Status::InvalidArgument("MissingParameter", "ok is required"));
          Status st = work.Complete(ctx.identity.common_name, p.at("op"), **ok, error->value_or(""),
                                    result);
          return st.ok() ? OkResponse() : ErrorResponse(st);
        });
  r.Add("POST", "/v1/agent/mounts",
        [&work](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          auto body = ParseJsonObject(req, {"mounts"});
          if (!body.ok()) return ErrorResponse(body.status());
          auto it = body->find("mounts");
          if (it == body->end() || !it->is_array()) {
            return ErrorResponse(Status::InvalidArgument("MissingParameter", "mounts is required"));
          }
          std::vector<WorkService::MountReport> mounts;
          for (const auto& m : *it) {
            auto bytes = [&m](const char* key) {
              return m.contains(key) && m[key].is_number_unsigned() &&
                     m[key].get<uint64_t>() <= uint64_t{INT64_MAX};
            };
            if (!m.is_object() || !m.contains("volume_id") || !m["volume_id"].is_string() ||
                !ValidateVolumeId(m["volume_id"].get<std::string>()).ok() || !bytes("size") ||
                !bytes("used") || !bytes("free")) {
              return ErrorResponse(Status::InvalidArgument(
                  "InvalidParameterValue",
                  "each mount needs a volume_id and its size, used and free bytes"));
            }
            mounts.push_back({m["volume_id"].get<std::string>(), m["size"].get<int64_t>(),
                              m["used"].get<int64_t>(), m["free"].get<int64_t>()});
          }
          Status st = work.ReportMounts(ctx.identity.common_name, mounts);
          return st.ok() ? OkResponse() : ErrorResponse(st);
        });
  r.Add("POST", "/v1/agent/instances",
        [&work](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          auto body = ParseJsonObject(req, {"instances"});
          if (!body.ok()) return ErrorResponse(body.status());
          std::vector<InstanceRecord> seen;
          auto it = body->find("instances");
          if (it == body->end() || !it->is_array()) {
            return ErrorResponse(
                Status::InvalidArgument("MissingParameter", "instances is required"));
          }
          for (const auto& i : *it) {
            if (!i.is_object() || !i.contains("id") || !i["id"].is_string() ||
                !i.contains("kind") || !i["kind"].is_string() ||
                (i["kind"] != "qemu" && i["kind"] != "libvirt" && i["kind"] != "host")) {
              return ErrorResponse(Status::InvalidArgument(
                  "InvalidParameterValue",
                  "each instance needs an id and a kind (qemu, libvirt or host)"));
            }
            InstanceRecord rec{
                i["id"].get<std::string>(), "", i["kind"].get<std::string>(), "", 0, ""};
            if (i.contains("owner")) {
              if (!i["owner"].is_string() || !IsValidName(i["owner"].get<std::string>())) {
                return ErrorResponse(Status::InvalidArgument(
                    "InvalidParameterValue", "an instance's owner must be a user name"));
              }
              rec.owner = i["owner"].get<std::string>();
            }
            seen.push_back(std::move(rec));
          }
          Status st = work.ReportInstances(ctx.identity.common_name, seen);
          return st.ok() ? OkResponse() : ErrorResponse(st);
        });
  r.Add("GET", "/v1/agent/attachments",
        [&work](const HttpRequest&, const PathParams&, RestContext& ctx) {
          auto live = work.NodeAttachments(ctx.identity.common_name);
          if (!live.ok()) return ErrorResponse(live.status());
          nlohmann::json arr = nlohmann::json::array();
          for (const auto& n : *live) {
            nlohmann::json j = AttachmentJson(n.attachment);
            j["pool"] = n.pool;
            j["iops"] = n.iops;
            j["throughput"] = n.throughput;
            arr.push_back(j);
          }
          return JsonResponse(200, {{"attachments", arr}});
        });
  r.Add("GET", "/v1/agent/inventory",
        [&work](const HttpRequest& req, const PathParams&, RestContext& ctx) {
          auto pool = req.QueryParam("pool");
          if (!pool)
            return ErrorResponse(Status::InvalidArgument("MissingParameter", "pool is required"));
          auto inv = work.Inventory(ctx.identity.common_name, *pool);
          if (!inv.ok()) return ErrorResponse(inv.status());
          return JsonResponse(200, {{"volumes", inv->volumes}, {"snapshots", inv->snapshots}});
        });
}

}  // namespace vbs
