// DescribeAvailabilityZones (one zone per pool: a zone is where a volume's data lives) and
// DescribeInstances (the instances host agents report: QEMU VMs "i-…" and nodes "host-NODE"),
// reference/ec2-ebs-api.md §4.14–4.15.
#include <map>

#include "api/ec2/handler_util.h"
#include "api/ec2/shapes.h"

namespace vbs::ec2 {
namespace {

Status DescribeAvailabilityZones(const Ec2Request& r, XmlWriter& x, AdminService& admin) {
  static const std::set<std::string> kFilters = {
      "group-name", "message",   "opt-in-status", "region-name",    "state",
      "zone-id",    "zone-name", "zone-type",     "parent-zone-id", "parent-zone-name"};
  VBS_ASSIGN_OR_RETURN(auto filters, CheckedFilters(r, kFilters, false));
  VBS_ASSIGN_OR_RETURN(auto names, r.params.List("ZoneName"));
  VBS_ASSIGN_OR_RETURN(auto zone_ids, r.params.List("ZoneId"));
  VBS_RETURN_IF_ERROR(r.params.Bool("AllAvailabilityZones").status());
  VBS_ASSIGN_OR_RETURN(auto zones, admin.ListZones(r.caller));
  auto known = [&](const std::string& name, bool by_id) {
    return std::any_of(zones.begin(), zones.end(), [&](const PoolView& z) {
      return (by_id ? "vbs-" + z.pool.name : z.pool.name) == name;
    });
  };
  for (const auto& n : names) {
    if (!known(n, false)) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "Invalid availability zone: [" + n + "]");
    }
  }
  for (const auto& n : zone_ids) {
    if (!known(n, true)) {
      return Status::InvalidArgument("InvalidParameterValue", "Invalid zone id: [" + n + "]");
    }
  }
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  x.Open("availabilityZoneInfo");
  for (const auto& z : zones) {
    const std::string& name = z.pool.name;
    const std::string id = "vbs-" + name;
    if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
    if (!zone_ids.empty() && std::find(zone_ids.begin(), zone_ids.end(), id) == zone_ids.end()) {
      continue;
    }
    const std::string state = z.node_up || z.pool.shared ? "available" : "unavailable";
    auto field = [&](const std::string& n) -> std::vector<std::string> {
      if (n == "group-name") return {r.region};
      if (n == "opt-in-status") return {"opt-in-not-required"};
      if (n == "region-name") return {r.region};
      if (n == "state") return {state};
      if (n == "zone-id") return {id};
      if (n == "zone-name") return {name};
      if (n == "zone-type") return {"availability-zone"};
      return {};
    };
    if (!MatchesFilters(filters, field, {})) continue;
    x.Open("item")
        .Text("zoneName", name)
        .Text("zoneState", state)
        .Text("regionName", r.region)
        .Text("zoneId", id)
        .Text("optInStatus", "opt-in-not-required")
        .Text("zoneType", "availability-zone")
        .Text("groupName", r.region)
        .Text("networkBorderGroup", r.region)
        .Empty("messageSet")
        .Close();
  }
  x.Close();
  return Status::Ok();
}

struct InstanceView {
  InstanceRecord instance;
  std::string zone;
  std::vector<AttachmentRecord> attachments;
};

Status DescribeInstances(const Ec2Request& r, XmlWriter& x, const Ec2Services& s,
                         const Paginator& pages) {
  static const std::set<std::string> kFilters = {"instance-id",
                                                 "instance-state-name",
                                                 "instance-state-code",
                                                 "availability-zone",
                                                 "block-device-mapping.volume-id",
                                                 "block-device-mapping.device-name",
                                                 "block-device-mapping.status"};
  VBS_ASSIGN_OR_RETURN(auto filters, CheckedFilters(r, kFilters, true));
  VBS_ASSIGN_OR_RETURN(auto ids, DescribeIds(r, "InstanceId"));
  for (const auto& id : ids) {
    if (!IsValidInstanceId(id)) {
      return Status::InvalidArgument(
          "InvalidInstanceID.Malformed",
          "Invalid id: \"" + id + "\" (expecting \"i-...\" or host-NODE)");
    }
  }
  VBS_ASSIGN_OR_RETURN(auto instances, s.attachments->ListInstances(r.caller));
  for (const auto& id : ids) {
    if (std::none_of(instances.begin(), instances.end(),
                     [&](const InstanceRecord& i) { return i.id == id; })) {
      return Status::InvalidArgument("InvalidInstanceID.NotFound",
                                     "The instance ID '" + id + "' does not exist");
    }
  }
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  VBS_ASSIGN_OR_RETURN(auto zones, s.admin->ListZones(r.caller));
  VBS_ASSIGN_OR_RETURN(auto attachments, s.attachments->List(r.caller, std::nullopt));
  std::vector<InstanceView> views;
  for (auto& i : instances) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), i.id) == ids.end()) continue;
    InstanceView v{i, "", {}};
    for (const auto& z : zones) {
      if (z.pool.node == i.node || (v.zone.empty() && z.pool.shared)) v.zone = z.pool.name;
    }
    for (const auto& a : attachments) {
      if (a.instance_id == i.id) v.attachments.push_back(a);
    }
    const bool running = i.state == "running";
    auto field = [&](const std::string& n) -> std::vector<std::string> {
      if (n == "instance-id") return {i.id};
      if (n == "instance-state-name") return {running ? "running" : "terminated"};
      if (n == "instance-state-code") return {running ? "16" : "48"};
      if (n == "availability-zone") return {v.zone};
      std::vector<std::string> out;
      for (const auto& a : v.attachments) {
        if (n == "block-device-mapping.volume-id") out.push_back(a.volume_id);
        if (n == "block-device-mapping.device-name") out.push_back(Ec2Device(a));
        if (n == "block-device-mapping.status") out.push_back(a.state);
      }
      return out;
    };
    if (MatchesFilters(filters, field, {})) views.push_back(std::move(v));
  }
  VBS_ASSIGN_OR_RETURN(
      auto page,
      PageOf(
          std::move(views), [](const InstanceView& v) { return v.instance.id; }, r, pages));
  x.Open("reservationSet");
  for (const auto& v : page.first) {
    const bool running = v.instance.state == "running";
    x.Open("item").Text("reservationId", "r-" + v.instance.id).Text("ownerId", r.caller.user);
    x.Empty("groupSet").Open("instancesSet").Open("item").Text("instanceId", v.instance.id);
    x.Open("instanceState")
        .Int("code", running ? 16 : 48)
        .Text("name", running ? "running" : "terminated")
        .Close();
    x.Open("placement").Text("availabilityZone", v.zone).Close();
    if (v.attachments.empty()) {
      x.Empty("blockDeviceMapping");
    } else {
      x.Open("blockDeviceMapping");
      for (const auto& a : v.attachments) {
        x.Open("item").Text("deviceName", Ec2Device(a)).Open("ebs");
        x.Text("volumeId", a.volume_id)
            .Text("status", a.state)
            .Text("attachTime", Ec2Time(a.created_at))
            .Bool("deleteOnTermination", false);
        x.Close().Close();
      }
      x.Close();
    }
    x.Empty("tagSet").Close().Close().Close();
  }
  x.Close();
  WriteNextToken(x, page.second);
  return Status::Ok();
}

}  // namespace

void AddPlacementHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages) {
  AdminService& admin = *s.admin;
  h["DescribeAvailabilityZones"] = [&admin](const Ec2Request& r, XmlWriter& x) {
    return DescribeAvailabilityZones(r, x, admin);
  };
  h["DescribeInstances"] = [&s, &pages](const Ec2Request& r, XmlWriter& x) {
    return DescribeInstances(r, x, s, pages);
  };
}

}  // namespace vbs::ec2
