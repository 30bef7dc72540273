// Input rules shared by both API faces: sizes, tags, ids, and the errors they produce.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "store/records.h"

namespace vbs {

inline constexpr uint64_t kMinVolumeSize = 1ull << 20;   // 1 MiB
inline constexpr uint64_t kMaxVolumeSize = 64ull << 40;  // 64 TiB
inline constexpr size_t kMaxTags = 50;

// Sizes: a multiple of 1 MiB in [1 MiB, 64 TiB].
Status ValidateVolumeSize(uint64_t size);
// Keys 1–128 characters, values up to 256, at most 50, no "vbs:" prefix (reserved).
Status ValidateTags(const Tags& tags);
// "InvalidVolumeID.Malformed" / "InvalidSnapshotID.Malformed" unless `id` has the EBS shape.
Status ValidateVolumeId(const std::string& id);
Status ValidateSnapshotId(const std::string& id);

Status VolumeNotFound(const std::string& id);
Status SnapshotNotFound(const std::string& id);
Status IncorrectState(const std::string& message);

}  // namespace vbs
