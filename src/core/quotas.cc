#include "core/quotas.h"

namespace vbs {

namespace {
constexpr uint64_t kGiB = 1ull << 30;
}

int64_t QuotaGiB(uint64_t bytes) {
  return static_cast<int64_t>((bytes + kGiB - 1) / kGiB);
}

Result<QuotaLimits> EffectiveQuota(Transaction& tx, const QuotaLimits& defaults,
                                   const std::string& user) {
  QuotaLimits limits = defaults;
  VBS_ASSIGN_OR_RETURN(auto own, tx.GetQuota(user));
  if (own) {
    if (own->volumes) limits.volumes = own->volumes;
    if (own->gigabytes) limits.gigabytes = own->gigabytes;
    if (own->snapshots) limits.snapshots = own->snapshots;
  }
  return limits;
}

Result<QuotaUsage> QuotaUsageOf(Transaction& tx, const std::string& user) {
  QuotaUsage usage;
  VolumeFilter vf;
  vf.owner = user;
  VBS_ASSIGN_OR_RETURN(auto volumes, tx.ListVolumes(vf));
  for (const auto& v : volumes) {
    ++usage.volumes;
    usage.volume_bytes += v.size;
  }
  SnapshotFilter sf;
  sf.owner = user;
  VBS_ASSIGN_OR_RETURN(auto snapshots, tx.ListSnapshots(sf));
  usage.snapshots = static_cast<int64_t>(snapshots.size());
  return usage;
}

Status CheckVolumeQuota(Transaction& tx, const QuotaLimits& defaults, const std::string& user,
                        int64_t add_volumes, uint64_t add_bytes) {
  VBS_ASSIGN_OR_RETURN(QuotaLimits limits, EffectiveQuota(tx, defaults, user));
  if (!limits.volumes && !limits.gigabytes) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(QuotaUsage usage, QuotaUsageOf(tx, user));
  if (limits.volumes && add_volumes > 0 && usage.volumes + add_volumes > *limits.volumes) {
    return Status::InvalidArgument("VolumeLimitExceeded",
                                   "volume quota exceeded: " + user + " has " +
                                       std::to_string(usage.volumes) + " of " +
                                       std::to_string(*limits.volumes) + " volumes");
  }
  if (limits.gigabytes && add_bytes > 0 &&
      usage.volume_bytes + add_bytes > static_cast<uint64_t>(*limits.gigabytes) * kGiB) {
    return Status::InvalidArgument("VolumeLimitExceeded",
                                   "gigabytes quota exceeded: " + user + " has " +
                                       std::to_string(QuotaGiB(usage.volume_bytes)) + " GiB of " +
                                       std::to_string(*limits.gigabytes) +
                                       " GiB in volumes and asked for " +
                                       std::to_string(QuotaGiB(add_bytes)) + " GiB more");
  }
  return Status::Ok();
}

Status CheckSnapshotQuota(Transaction& tx, const QuotaLimits& defaults, const std::string& user) {
  VBS_ASSIGN_OR_RETURN(QuotaLimits limits, EffectiveQuota(tx, defaults, user));
  if (!limits.snapshots) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(QuotaUsage usage, QuotaUsageOf(tx, user));
  if (usage.snapshots + 1 > *limits.snapshots) {
    return Status::InvalidArgument("SnapshotLimitExceeded",
                                   "snapshot quota exceeded: " + user + " has " +
                                       std::to_string(usage.snapshots) + " of " +
                                       std::to_string(*limits.snapshots) + " snapshots");
  }
  return Status::Ok();
}

}  // namespace vbs
