#include "backend/backend_checks.h"

#include <limits>

#include "common/ids.h"

namespace vbs::backend {

Status CheckVolumeId(const std::string& id) {
  if (IsValidId(id, "vol")) return Status::Ok();
  return Status::InvalidArgument("InvalidVolumeID.Malformed", "malformed volume id '" + id + "'");
}

Status CheckSnapshotId(const std::string& id) {
  if (IsValidId(id, "snap")) return Status::Ok();
  return Status::InvalidArgument("InvalidSnapshotID.Malformed",
                                 "malformed snapshot id '" + id + "'");
}

Status CheckSize(uint64_t size) {
  // Both a file offset (off_t) and an RBD image size are signed 64-bit.
  if (size > 0 && size <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status::Ok();
  }
  return Status::InvalidArgument("InvalidParameterValue",
                                 "size " + std::to_string(size) + " is out of range");
}

Status VolumeNotFound(const std::string& id) {
  return Status::NotFound("InvalidVolume.NotFound", "volume " + id + " does not exist");
}

Status SnapshotNotFound(const std::string& id) {
  return Status::NotFound("InvalidSnapshot.NotFound", "snapshot " + id + " does not exist");
}

}  // namespace vbs::backend
