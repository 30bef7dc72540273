// Argument checks and "not found" answers shared by every BlockBackend, so that a malformed
// id or size, or a missing object, gets the same EC2-style code whatever the pool type.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace vbs::backend {

Status CheckVolumeId(const std::string& id);     // InvalidVolumeID.Malformed
Status CheckSnapshotId(const std::string& id);   // InvalidSnapshotID.Malformed
Status CheckSize(uint64_t size);                 // InvalidParameterValue unless 0 < size <= 2^63-1
Status VolumeNotFound(const std::string& id);    // InvalidVolume.NotFound
Status SnapshotNotFound(const std::string& id);  // InvalidSnapshot.NotFound

}  // namespace vbs::backend
