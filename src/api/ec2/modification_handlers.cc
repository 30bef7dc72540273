// ModifyVolume (grow, and/or change type, IOPS, throughput) and DescribeVolumesModifications
// (reference/ec2-ebs-api.md §4.6–4.7) over VolumeService::Modify / ListModifications.
#include "api/ec2/handler_util.h"
#include "api/ec2/shapes.h"
#include "api/ec2/volume_params.h"
#include "core/validation.h"

namespace vbs::ec2 {
namespace {

Status ModifyVolume(const Ec2Request& r, XmlWriter& x, VolumeService& volumes) {
  const Params& p = r.params;
  VBS_ASSIGN_OR_RETURN(std::string id, p.Required("VolumeId"));
  VBS_ASSIGN_OR_RETURN(bool multi, p.Bool("MultiAttachEnabled"));
  if (multi) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "multi-attach is read-only sharing in VBS: use vbs attach --mode ro");
  }
  VBS_ASSIGN_OR_RETURN(auto size, SizeParam(p));
  VBS_ASSIGN_OR_RETURN(auto qos, QosParams(p));
  if (!size && qos.empty()) {
    return Status::InvalidArgument("MissingParameter",
                                   "The request must contain at least one of the parameters "
                                   "Size, VolumeType, Iops or Throughput");
  }
  if (r.dry_run) return DryRunAnswer(volumes.Get(r.caller, id).status());
  VBS_ASSIGN_OR_RETURN(auto m, volumes.Modify(r.caller, id, size, qos));
  x.Open("volumeModification");
  WriteModificationMembers(x, m);
  x.Close();
  return Status::Ok();
}

// Limits of 0 (none) match no value, as AWS reports none for types without them.
std::vector<std::string> LimitField(int64_t value) {
  if (value == 0) return {};
  return {std::to_string(value)};
}

std::vector<std::string> ModificationField(const VolumeModificationRecord& m,
                                           const std::string& n) {
  if (n == "modification-state") return {m.state};
  if (n == "original-size") return {std::to_string(ToGiB(m.original_size))};
  if (n == "target-size") return {std::to_string(ToGiB(m.target_size))};
  if (n == "original-volume-type") return {m.original_type};
  if (n == "target-volume-type") return {m.target_type};
  if (n == "original-iops") return LimitField(m.original_iops);
  if (n == "target-iops") return LimitField(m.target_iops);
  if (n == "originalMultiAttachEnabled" || n == "targetMultiAttachEnabled") return {"false"};
  if (n == "start-time") return {Ec2Time(m.created_at)};
  if (n == "volume-id") return {m.volume_id};
  return {};
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
