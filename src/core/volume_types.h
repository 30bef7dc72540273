// VolumeTypes: the operator's volume types ([[server.volume_type]], common/config.h) and the
// rules a volume's QoS settings follow (design.md §6). A volume has a type and, when the type
// limits it, IOPS and a throughput in MiB/s (0: unlimited); the agents enforce them with a
// token bucket per volume on each node (nbd/throttle.h).
//
// Refusals carry EC2's codes: an unknown type, a value that is not positive, or one above the
// type's maximum or its IOPS-per-GiB ratio is InvalidParameterValue; IOPS or throughput on a
// type that does not take them, or a type that needs IOPS without them, is
// InvalidParameterCombination.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace vbs {

struct VolumeQos {
  std::string type;
  int64_t iops = 0;        // 0: unlimited
  int64_t throughput = 0;  // MiB/s; 0: unlimited
  bool operator==(const VolumeQos&) const = default;
};

struct QosRequest {
  std::optional<std::string> type;
  std::optional<int64_t> iops;
  std::optional<int64_t> throughput;
  bool empty() const { return !type && !iops && !throughput; }
};

class VolumeTypes {
 public:
  explicit VolumeTypes(std::vector<VolumeTypeConfig> types = DefaultVolumeTypes(),
                       std::string default_type = "standard");

  // The settings of a new volume of `size` bytes; what the request leaves out comes from the
  // type (the default type when none is named).
  Result<VolumeQos> ForCreate(const QosRequest& req, uint64_t size) const;
  // The settings after a modification of a volume that has `current` and `size`: a new type
  // starts from its own defaults; the same type keeps what the request leaves out.
  Result<VolumeQos> ForModify(const QosRequest& req, const VolumeQos& current, uint64_t size) const;
  const std::vector<VolumeTypeConfig>& types() const { return types_; }

 private:
  Result<const VolumeTypeConfig*> Find(const std::string& name) const;
  Result<VolumeQos> Check(const VolumeTypeConfig& t, std::optional<int64_t> iops,
                          std::optional<int64_t> throughput, uint64_t size,
                          const VolumeQos* keep) const;

  std::vector<VolumeTypeConfig> types_;
  std::string default_type_;
};

}  // namespace vbs
