// CreateVolume, DeleteVolume, DescribeVolumes, DescribeVolumeStatus, AttachVolume,
// DetachVolume (reference/ec2-ebs-api.md §4.1–4.5, §4.13) over VolumeService and
// AttachmentService.
#include <map>

#include "api/ec2/handler_util.h"
#include "api/ec2/shapes.h"
#include "api/ec2/volume_params.h"
#include "core/validation.h"

namespace vbs::ec2 {
namespace {

// Options VBS cannot honour are refused, not ignored. VolumeType, Iops and Throughput are
// core's volume types and limits (volume_params.h, core/volume_types.h).
Status CheckVolumeOptions(const Params& p) {
  for (const char* unsupported : {"KmsKeyId", "OutpostArn"}) {
    if (p.Get(unsupported)) {
      return Status::InvalidArgument("InvalidParameterCombination",
                                     std::string("VBS volumes do not support ") + unsupported);
    }
  }
  VBS_ASSIGN_OR_RETURN(bool encrypted, p.Bool("Encrypted"));
  if (encrypted) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "VBS does not encrypt volumes at rest (Encrypted=true)");
  }
  VBS_ASSIGN_OR_RETURN(bool multi, p.Bool("MultiAttachEnabled"));
  if (multi) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "multi-attach is read-only sharing in VBS: use the native API (vbs attach --mode ro)");
  }
  return Status::Ok();
}

Status CreateVolume(const Ec2Request& r, XmlWriter& x, VolumeService& volumes,
                    SnapshotService& snapshots) {
  const Params& p = r.params;
  VBS_RETURN_IF_ERROR(CheckVolumeOptions(p));
  CreateVolumeRequest req;
  VBS_ASSIGN_OR_RETURN(req.size, SizeParam(p));
  VBS_ASSIGN_OR_RETURN(req.qos, QosParams(p));
  req.snapshot_id = p.Get("SnapshotId");
  req.pool = p.Get("AvailabilityZone");
  if (!req.pool) req.pool = p.Get("AvailabilityZoneId");
  req.client_token = p.Get("ClientToken");
  VBS_ASSIGN_OR_RETURN(req.tags, p.SpecifiedTags("volume"));
  if (!req.size && !req.snapshot_id) {
    return Status::InvalidArgument("MissingParameter",
                                   "The request must contain the parameter size or snapshotId");
  }
  if (r.dry_run) {
    VBS_RETURN_IF_ERROR(ValidateTags(req.tags));
    if (!req.snapshot_id) return DryRunAnswer(Status::Ok());
    return DryRunAnswer(snapshots.Get(r.caller, *req.snapshot_id).status());
  }
  auto v = volumes.Create(r.caller, req);
  if (!v.ok() && v.status().code() == "InvalidPool.NotFound") {
    return Status::InvalidArgument("InvalidZone.NotFound",
                                   "The zone '" + req.pool.value_or("") +
                                       "' does not exist (see describe-availability-zones)");
  }
  if (!v.ok()) return v.status();
  WriteVolumeMembers(x, *v, {});
  return Status::Ok();
}

Status DeleteVolume(const Ec2Request& r, XmlWriter& x, VolumeService& volumes) {
  VBS_ASSIGN_OR_RETURN(std::string id, r.params.Required("VolumeId"));
  if (r.dry_run) return DryRunAnswer(volumes.Get(r.caller, id).status());
  VBS_RETURN_IF_ERROR(volumes.Delete(r.caller, id).status());
  return ReturnTrue(x);
}

using AttachmentsByVolume = std::map<std::string, std::vector<AttachmentRecord>>;

Result<AttachmentsByVolume> LiveAttachments(const Caller& caller, AttachmentService& attachments) {
  VBS_ASSIGN_OR_RETURN(auto all, attachments.List(caller, std::nullopt));
  AttachmentsByVolume out;
  for (auto& a : all) out[a.volume_id].push_back(std::move(a));
  return out;
}

// The volumes a Describe call names (each must exist: waiters rely on NotFound), or all.
Result<std::vector<VolumeRecord>> SelectVolumes(const Ec2Request& r, VolumeService& volumes) {
  VBS_ASSIGN_OR_RETURN(auto ids, DescribeIds(r, "VolumeId"));
  if (ids.empty()) return volumes.List(r.caller, {});
  std::vector<VolumeRecord> out;
  for (const auto& id : ids) {
    VBS_ASSIGN_OR_RETURN(auto v, volumes.Get(r.caller, id));
    if (v.state == "deleted") return VolumeNotFound(id);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::string> VolumeField(const VolumeRecord& v,
                                     const std::vector<AttachmentRecord>& atts,
                                     const std::string& name) {
  if (name == "availability-zone") return {v.pool};
  if (name == "create-time") return {Ec2Time(v.created_at)};
  if (name == "encrypted" || name == "multi-attach-enabled" || name == "fast-restored") {
    return {"false"};
  }
  if (name == "size") return {std::to_string(ToGiB(v.size))};
  if (name == "snapshot-id") return {v.snapshot_id.value_or("")};
  if (name == "status") return {v.state};
  if (name == "volume-id") return {v.id};
  if (name == "volume-type") return {v.volume_type};
  std::vector<std::string> out;
  for (const auto& a : atts) {
    if (name == "attachment.attach-time") out.push_back(Ec2Time(a.created_at));
    if (name == "attachment.delete-on-termination") out.push_back("false");
    if (name == "attachment.device") out.push_back(Ec2Device(a));
    if (name == "attachment.instance-id") out.push_back(a.instance_id);
    if (name == "attachment.status") out.push_back(a.state);
  }
  return out;
}

Status DescribeVolumes(const Ec2Request& r, XmlWriter& x, VolumeService& volumes,
                       AttachmentService& attachments, const Paginator& pages) {
  static const std::set<std::string> kFilters = {"attachment.attach-time",
                                                 "attachment.delete-on-termination",
                                                 "attachment.device",
                                                 "attachment.instance-id",
                                                 "attachment.status",
                                                 "availability-zone",
                                                 "create-time",
                                                 "encrypted",
                                                 "multi-attach-enabled",
                                                 "fast-restored",
                                                 "size",
                                                 "snapshot-id",
                                                 "status",
                                                 "volume-id",
                                                 "volume-type"};
  VBS_ASSIGN_OR_RETURN(auto filters, CheckedFilters(r, kFilters, true));
  VBS_ASSIGN_OR_RETURN(auto selected, SelectVolumes(r, volumes));
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  VBS_ASSIGN_OR_RETURN(auto atts, LiveAttachments(r.caller, attachments));
  std::erase_if(selected, [&](const VolumeRecord& v) {
    const auto& mine = atts[v.id];
    return !MatchesFilters(
        filters, [&](const std::string& n) { return VolumeField(v, mine, n); }, v.tags);
  });
  VBS_ASSIGN_OR_RETURN(
      auto page, PageOf(
                     std::move(selected), [](const VolumeRecord& v) { return v.id; }, r, pages,
                     PageLimits{5, 500}));
  x.Open("volumeSet");
  for (const auto& v : page.first) {
    x.Open("item");
    WriteVolumeMembers(x, v, atts[v.id]);
    x.Close();
  }
  x.Close();
  WriteNextToken(x, page.second);
  return Status::Ok();
}

// Health as EC2 reports it: ok while the volume serves I/O, impaired in error, and
// insufficient-data while it is being made or removed.
std::string VolumeHealth(const VolumeRecord& v) {
  if (v.state == "available" || v.state == "in-use") return "ok";
  if (v.state == "error") return "impaired";
  return "insufficient-data";
}

Status DescribeVolumeStatus(const Ec2Request& r, XmlWriter& x, VolumeService& volumes,
                            AttachmentService& attachments, const Paginator& pages) {
  static const std::set<std::string> kFilters = {"action.code",
                                                 "action.description",
                                                 "action.event-id",
                                                 "availability-zone",
                                                 "event.description",
                                                 "event.event-id",
                                                 "event.event-type",
                                                 "event.not-after",
                                                 "event.not-before",
                                                 "volume-status.status",
                                                 "volume-status.details-name",
                                                 "volume-status.details-status"};
  VBS_ASSIGN_OR_RETURN(auto filters, CheckedFilters(r, kFilters, false));
  VBS_ASSIGN_OR_RETURN(auto selected, SelectVolumes(r, volumes));
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  VBS_ASSIGN_OR_RETURN(auto atts, LiveAttachments(r.caller, attachments));
  auto field = [](const VolumeRecord& v, const std::string& n) -> std::vector<std::string> {
    const std::string health = VolumeHealth(v);
    if (n == "availability-zone") return {v.pool};
    if (n == "volume-status.status") return {health};
    if (n == "volume-status.details-name") return {"io-enabled", "io-performance"};
    if (n == "volume-status.details-status") {
      return {health == "impaired" ? "failed" : "passed", "normal"};
    }
    return {};  // no events or actions
  };
  std::erase_if(selected, [&](const VolumeRecord& v) {
    return !MatchesFilters(filters, [&](const std::string& n) { return field(v, n); }, {});
  });
  VBS_ASSIGN_OR_RETURN(
      auto page, PageOf(
                     std::move(selected), [](const VolumeRecord& v) { return v.id; }, r, pages));
  x.Open("volumeStatusSet");
  for (const auto& v : page.first) {
    const std::string health = VolumeHealth(v);
    x.Open("item").Text("volumeId", v.id).Text("availabilityZone", v.pool);
    x.Open("volumeStatus").Text("status", health).Open("details");
    x.Open("item")
        .Text("name", "io-enabled")
        .Text("status", health == "impaired" ? "failed" : "passed")
        .Close();
    x.Open("item").Text("name", "io-performance").Text("status", "normal").Close();
    x.Close().Close();
    x.Empty("eventsSet").Empty("actionsSet");
    x.Open("attachmentStatuses");
    for (const auto& a : atts[v.id]) {
      x.Open("item").Text("instanceId", a.instance_id).Text("ioPerformance", "normal").Close();
    }
    x.Close().Close();
  }
  x.Close();
  WriteNextToken(x, page.second);
  return Status::Ok();
}

// "/dev/vdb" → "vdb": VBS device names are plain (core checks them).
std::string PlainDevice(const std::string& device) {
  return device.rfind("/dev/", 0) == 0 ? device.substr(5) : device;
}

Status AttachVolume(const Ec2Request& r, XmlWriter& x, VolumeService& volumes,
                    AttachmentService& attachments) {
  AttachRequest req;
  VBS_ASSIGN_OR_RETURN(std::string device, r.params.Required("Device"));
  VBS_ASSIGN_OR_RETURN(req.instance_id, r.params.Required("InstanceId"));
  VBS_ASSIGN_OR_RETURN(req.volume_id, r.params.Required("VolumeId"));
  req.device = PlainDevice(device);
  if (r.dry_run) return DryRunAnswer(volumes.Get(r.caller, req.volume_id).status());
  VBS_ASSIGN_OR_RETURN(auto a, attachments.Attach(r.caller, req));
  WriteAttachmentMembers(x, a);
  return Status::Ok();
}

Status DetachVolume(const Ec2Request& r, XmlWriter& x, VolumeService& volumes,
                    AttachmentService& attachments) {
  VBS_ASSIGN_OR_RETURN(std::string volume_id, r.params.Required("VolumeId"));
  VBS_ASSIGN_OR_RETURN(bool force, r.params.Bool("Force"));
  auto instance = r.params.Get("InstanceId");
  if (r.dry_run) return DryRunAnswer(volumes.Get(r.caller, volume_id).status());
  VBS_ASSIGN_OR_RETURN(auto a, attachments.Detach(r.caller, volume_id, instance, force));
  WriteAttachmentMembers(x, a);
  return Status::Ok();
}

}  // namespace

void AddVolumeHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages) {
  VolumeService& volumes = *s.volumes;
  AttachmentService& attachments = *s.attachments;
  SnapshotService& snapshots = *s.snapshots;
  h["CreateVolume"] = [&volumes, &snapshots](const Ec2Request& r, XmlWriter& x) {
    return CreateVolume(r, x, volumes, snapshots);
  };
  h["DeleteVolume"] = [&volumes](const Ec2Request& r, XmlWriter& x) {
    return DeleteVolume(r, x, volumes);
  };
  h["DescribeVolumes"] = [&volumes, &attachments, &pages](const Ec2Request& r, XmlWriter& x) {
    return DescribeVolumes(r, x, volumes, attachments, pages);
  };
  h["DescribeVolumeStatus"] = [&volumes, &attachments, &pages](const Ec2Request& r, XmlWriter& x) {
    return DescribeVolumeStatus(r, x, volumes, attachments, pages);
  };
  h["AttachVolume"] = [&volumes, &attachments](const Ec2Request& r, XmlWriter& x) {
    return AttachVolume(r, x, volumes, attachments);
  };
  h["DetachVolume"] = [&volumes, &attachments](const Ec2Request& r, XmlWriter& x) {
    return DetachVolume(r, x, volumes, attachments);
  };
}

}  // namespace vbs::ec2
