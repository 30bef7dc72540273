#include "core/validation.h"

#include "common/ids.h"
#include "common/units.h"

namespace vbs {

Status ValidateVolumeSize(uint64_t size) {
  if (size < kMinVolumeSize) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "volume size must be at least 1 MiB, got " + std::to_string(size) + " bytes");
  }
  if (size > kMaxVolumeSize) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "volume size must be at most 64 TiB, got " + FormatSize(size));
  }
  if (size % kMinVolumeSize != 0) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "volume size must be a multiple of 1 MiB, got " + std::to_string(size) + " bytes");
  }
  return Status::Ok();
}

Status ValidateTags(const Tags& tags) {
  if (tags.size() > kMaxTags) {
    return Status::InvalidArgument("TagLimitExceeded", "at most 50 tags per resource");
  }
  for (const auto& [k, v] : tags) {
    if (k.empty() || k.size() > 128) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "tag keys must be 1 to 128 characters");
    }
    if (v.size() > 256) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "tag value of '" + k + "' is longer than 256 characters");
    }
    if (k.rfind("vbs:", 0) == 0) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "tag keys starting with 'vbs:' are reserved");
    }
  }
  return Status::Ok();
}

Status ValidateVolumeId(const std::string& id) {
  if (IsValidId(id, "vol")) return Status::Ok();
  return Status::InvalidArgument("InvalidVolumeID.Malformed",
                                 "invalid volume id '" + id + "': expected vol- and 17 hex digits");
}

Status ValidateSnapshotId(const std::string& id) {
  if (IsValidId(id, "snap")) return Status::Ok();
  return Status::InvalidArgument(
      "InvalidSnapshotID.Malformed",
      "invalid snapshot id '" + id + "': expected snap- and 17 hex digits");
}

Status VolumeNotFound(const std::string& id) {
  return Status::NotFound("InvalidVolume.NotFound", "the volume '" + id + "' does not exist");
}

Status SnapshotNotFound(const std::string& id) {
  return Status::NotFound("InvalidSnapshot.NotFound", "the snapshot '" + id + "' does not exist");
}

Status IncorrectState(const std::string& message) {
  return Status::Conflict("IncorrectState", message);
}

}  // namespace vbs
