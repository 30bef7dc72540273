// The volume members of CreateVolume and ModifyVolume requests (reference/ec2-ebs-api.md §4.1,
// §4.6): Size in GiB and the QoS settings VolumeType, Iops and Throughput (MiB/s), read into
// what core takes. Only the shape is checked here (a whole number, in range / positive); the
// rules of types and limits are core's (core/volume_types.h), with the same EC2 codes.
#pragma once

#include <cstdint>
#include <optional>

#include "api/ec2/params.h"
#include "core/volume_types.h"

namespace vbs::ec2 {

inline constexpr int64_t kMaxSizeGiB = 16384;

// "Size" in bytes, absent when not sent; 1 to 16384 GiB, else InvalidParameterValue.
Result<std::optional<uint64_t>> SizeParam(const Params& p);
// "VolumeType", "Iops", "Throughput"; a number that is not a positive integer is
// InvalidParameterValue, an empty VolumeType too.
Result<QosRequest> QosParams(const Params& p);

}  // namespace vbs::ec2
