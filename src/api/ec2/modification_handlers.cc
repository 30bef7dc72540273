// ModifyVolume (grow) and DescribeVolumesModifications (reference/ec2-ebs-api.md §4.6–4.7)
// over VolumeService::Resize / ListModifications.
#include "api/ec2/handler_util.h"
#include "api/ec2/shapes.h"
#include "core/validation.h"

namespace vbs::ec2 {
namespace {

void WriteModificationMembers(XmlWriter& x, const VolumeModificationRecord& m) {
  x.Text("volumeId", m.volume_id).Text("modificationState", m.state);
  if (m.error) x.Text("statusMessage", *m.error);
  x.Int("targetSize", ToGiB(m.target_size))
      .Text("targetVolumeType", "standard")
      .Bool("targetMultiAttachEnabled", false)
      .Int("originalSize", ToGiB(m.original_size))
      .Text("originalVolumeType", "standard")
      .Bool("originalMultiAttachEnabled", false)
      .Int("progress", m.state == "completed" ? 100 : m.progress)
      .Text("startTime", Ec2Time(m.created_at));
  if (m.state == "completed" || m.state == "failed") x.Text("endTime", Ec2Time(m.updated_at));
}

Status ModifyVolume(const Ec2Request& r, XmlWriter& x, VolumeService& volumes) {
  const Params& p = r.params;
  VBS_ASSIGN_OR_RETURN(std::string id, p.Required("VolumeId"));
  for (const char* unsupported : {"Iops", "Throughput"}) {
    if (p.Get(unsupported)) {
      return Status::InvalidArgument("InvalidParameterCombination",
                                     std::string("VBS volumes do not support ") + unsupported);
    }
  }
  VBS_ASSIGN_OR_RETURN(bool multi, p.Bool("MultiAttachEnabled"));
  if (multi) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "multi-attach is read-only sharing in VBS: use vbs attach --mode ro");
  }
  if (auto type = p.Get("VolumeType")) {
    static const std::set<std::string> kTypes = {"standard", "io1", "io2", "gp2",
                                                 "sc1",      "st1", "gp3"};
    if (!kTypes.count(*type)) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "Value (" + *type + ") for parameter volumeType is invalid");
    }
  }
  VBS_ASSIGN_OR_RETURN(auto size, p.Int("Size"));
  if (!size) {
    return Status::InvalidArgument("MissingParameter",
                                   "The request must contain the parameter Size (VBS volumes "
                                   "change only in size)");
  }
  if (*size < 1 || *size > 16384) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "Volume size " + std::to_string(*size) + " GiB is out of range: 1 to 16384 GiB");
  }
  if (r.dry_run) return DryRunAnswer(volumes.Get(r.caller, id).status());
  VBS_ASSIGN_OR_RETURN(auto m, volumes.Resize(r.caller, id, static_cast<uint64_t>(*size) * kGiB));
  x.Open("volumeModification");
  WriteModificationMembers(x, m);
  x.Close();
  return Status::Ok();
}

std::vector<std::string> ModificationField(const VolumeModificationRecord& m,
                                           const std::string& n) {
  if (n == "modification-state") return {m.state};
  if (n == "original-size") return {std::to_string(ToGiB(m.original_size))};
  if (n == "target-size") return {std::to_string(ToGiB(m.target_size))};
  if (n == "original-volume-type" || n == "target-volume-type") return {"standard"};
  if (n == "originalMultiAttachEnabled" || n == "targetMultiAttachEnabled") return {"false"};
  if (n == "start-time") return {Ec2Time(m.created_at)};
  if (n == "volume-id") return {m.volume_id};
  return {};  // original-iops, target-iops: VBS has none
}

Status DescribeVolumesModifications(const Ec2Request& r, XmlWriter& x, VolumeService& volumes,
                                    const Paginator& pages) {
  static const std::set<std::string> kFilters = {"modification-state",
                                                 "original-iops",
                                                 "original-size",
                                                 "original-volume-type",
                                                 "originalMultiAttachEnabled",
                                                 "start-time",
                                                 "target-iops",
                                                 "target-size",
                                                 "target-volume-type",
                                                 "targetMultiAttachEnabled",
                                                 "volume-id"};
  VBS_ASSIGN_OR_RETURN(auto filters, CheckedFilters(r, kFilters, false));
  VBS_ASSIGN_OR_RETURN(auto ids, r.params.List("VolumeId"));
  for (const auto& id : ids) {
    VBS_ASSIGN_OR_RETURN(auto v, volumes.Get(r.caller, id));
    if (v.state == "deleted") return VolumeNotFound(id);
  }
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  VBS_ASSIGN_OR_RETURN(auto mods, volumes.ListModifications(r.caller, ids));
  std::erase_if(mods, [&](const VolumeModificationRecord& m) {
    return !MatchesFilters(filters, [&](const std::string& n) { return ModificationField(m, n); },
                           {});
  });
  VBS_ASSIGN_OR_RETURN(
      auto page, PageOf(
                     std::move(mods), [](const VolumeModificationRecord& m) { return m.id; }, r,
                     pages, PageLimits{5, 500}));
  x.Open("volumeModificationSet");
  for (const auto& m : page.first) {
    x.Open("item");
    WriteModificationMembers(x, m);
    x.Close();
  }
  x.Close();
  WriteNextToken(x, page.second);
  return Status::Ok();
}

}  // namespace

void AddModificationHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages) {
  VolumeService& volumes = *s.volumes;
  h["ModifyVolume"] = [&volumes](const Ec2Request& r, XmlWriter& x) {
    return ModifyVolume(r, x, volumes);
  };
  h["DescribeVolumesModifications"] = [&volumes, &pages](const Ec2Request& r, XmlWriter& x) {
    return DescribeVolumesModifications(r, x, volumes, pages);
  };
}

}  // namespace vbs::ec2
