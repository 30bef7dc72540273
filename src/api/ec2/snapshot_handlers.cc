// CreateSnapshot, DeleteSnapshot, DescribeSnapshots, CopySnapshot (reference §4.8–4.11)
// over SnapshotService. Snapshots being deleted are gone on this face, as on AWS.
#include "api/ec2/handler_util.h"
#include "api/ec2/shapes.h"
#include "core/validation.h"

namespace vbs::ec2 {
namespace {

bool Visible(const SnapshotRecord& s) {
  return s.state != "deleting" && s.state != "deleted";
}

Status CreateSnapshot(const Ec2Request& r, XmlWriter& x, SnapshotService& snapshots,
                      VolumeService& volumes) {
  CreateSnapshotRequest req;
  VBS_ASSIGN_OR_RETURN(req.volume_id, r.params.Required("VolumeId"));
  req.description = r.params.Get("Description").value_or("");
  VBS_ASSIGN_OR_RETURN(req.tags, r.params.SpecifiedTags("snapshot"));
  if (r.dry_run) {
    VBS_RETURN_IF_ERROR(ValidateTags(req.tags));
    return DryRunAnswer(volumes.Get(r.caller, req.volume_id).status());
  }
  VBS_ASSIGN_OR_RETURN(auto s, snapshots.Create(r.caller, req));
  WriteSnapshotMembers(x, s);
  return Status::Ok();
}

Status DeleteSnapshot(const Ec2Request& r, XmlWriter& x, SnapshotService& snapshots) {
  VBS_ASSIGN_OR_RETURN(std::string id, r.params.Required("SnapshotId"));
  VBS_ASSIGN_OR_RETURN(auto s, snapshots.Get(r.caller, id));
  if (!Visible(s)) return SnapshotNotFound(id);
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  VBS_RETURN_IF_ERROR(snapshots.Delete(r.caller, id).status());
  return ReturnTrue(x);
}

// Same-site copies only: the regions are labels, and the PresignedUrl botocore always adds
// (reference §4.11) names this same endpoint, so it is not needed.
Status CopySnapshot(const Ec2Request& r, XmlWriter& x, SnapshotService& snapshots) {
  CopySnapshotRequest req;
  VBS_RETURN_IF_ERROR(r.params.Required("SourceRegion").status());
  VBS_ASSIGN_OR_RETURN(req.source_snapshot_id, r.params.Required("SourceSnapshotId"));
  req.description = r.params.Get("Description").value_or("");
  VBS_ASSIGN_OR_RETURN(req.tags, r.params.SpecifiedTags("snapshot"));
  VBS_ASSIGN_OR_RETURN(bool encrypted, r.params.Bool("Encrypted"));
  if (encrypted || r.params.Get("KmsKeyId") || r.params.Get("DestinationOutpostArn")) {
    return Status::InvalidArgument("InvalidParameterCombination",
                                   "VBS copies snapshots unencrypted, within the deployment");
  }
  if (r.dry_run) {
    VBS_RETURN_IF_ERROR(ValidateTags(req.tags));
    auto src = snapshots.Get(r.caller, req.source_snapshot_id);
    if (src.ok() && !Visible(*src)) return DryRunAnswer(SnapshotNotFound(src->id));
    return DryRunAnswer(src.status());
  }
  VBS_ASSIGN_OR_RETURN(auto s, snapshots.Copy(r.caller, req));
  x.Text("snapshotId", s.id);
  WriteTagSet(x, s.tags);
  return Status::Ok();
}

std::vector<std::string> SnapshotField(const SnapshotRecord& s, const std::string& name) {
  if (name == "description") return {s.description};
  if (name == "encrypted") return {"false"};
  if (name == "owner-id") return {s.owner};
  if (name == "owner-alias") return {};
  if (name == "progress") {
    return {std::to_string(s.state == "completed" ? 100 : s.progress) + "%"};
  }
  if (name == "snapshot-id") return {s.id};
  if (name == "start-time") return {Ec2Time(s.created_at)};
  if (name == "status") return {s.state};
  if (name == "storage-tier") return {"standard"};
  if (name == "volume-id") return {s.volume_id};
  if (name == "volume-size") return {std::to_string(ToGiB(s.size))};
  return {};
}

Status DescribeSnapshots(const Ec2Request& r, XmlWriter& x, SnapshotService& snapshots,
                         const Paginator& pages) {
  static const std::set<std::string> kFilters = {
      "description", "encrypted", "owner-alias",  "owner-id",  "progress",   "snapshot-id",
      "start-time",  "status",    "storage-tier", "volume-id", "volume-size"};
  VBS_ASSIGN_OR_RETURN(auto filters, CheckedFilters(r, kFilters, true));
  VBS_ASSIGN_OR_RETURN(auto ids, DescribeIds(r, "SnapshotId"));
  VBS_ASSIGN_OR_RETURN(auto owners, r.params.List("Owner"));
  VBS_RETURN_IF_ERROR(r.params.List("RestorableBy").status());
  std::vector<SnapshotRecord> selected;
  if (ids.empty()) {
    VBS_ASSIGN_OR_RETURN(selected, snapshots.List(r.caller, {}));
  } else {
    for (const auto& id : ids) {
      VBS_ASSIGN_OR_RETURN(auto s, snapshots.Get(r.caller, id));
      if (!Visible(s)) return SnapshotNotFound(id);
      selected.push_back(std::move(s));
    }
  }
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  for (auto& o : owners) {
    if (o == "self") o = r.caller.user;
  }
  std::erase_if(selected, [&](const SnapshotRecord& s) {
    if (!Visible(s)) return true;
    if (!owners.empty() && std::find(owners.begin(), owners.end(), s.owner) == owners.end()) {
      return true;
    }
    return !MatchesFilters(
        filters, [&](const std::string& n) { return SnapshotField(s, n); }, s.tags);
  });
  VBS_ASSIGN_OR_RETURN(
      auto page, PageOf(
                     std::move(selected), [](const SnapshotRecord& s) { return s.id; }, r, pages));
  x.Open("snapshotSet");
  for (const auto& s : page.first) {
    x.Open("item");
    WriteSnapshotMembers(x, s);
    x.Close();
  }
  x.Close();
  WriteNextToken(x, page.second);
  return Status::Ok();
}

}  // namespace

void AddSnapshotHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages) {
  SnapshotService& snapshots = *s.snapshots;
  VolumeService& volumes = *s.volumes;
  h["CreateSnapshot"] = [&snapshots, &volumes](const Ec2Request& r, XmlWriter& x) {
    return CreateSnapshot(r, x, snapshots, volumes);
  };
  h["DeleteSnapshot"] = [&snapshots](const Ec2Request& r, XmlWriter& x) {
    return DeleteSnapshot(r, x, snapshots);
  };
  h["CopySnapshot"] = [&snapshots](const Ec2Request& r, XmlWriter& x) {
    return CopySnapshot(r, x, snapshots);
  };
  h["DescribeSnapshots"] = [&snapshots, &pages](const Ec2Request& r, XmlWriter& x) {
    return DescribeSnapshots(r, x, snapshots, pages);
  };
}

}  // namespace vbs::ec2
