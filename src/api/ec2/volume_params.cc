#include "api/ec2/volume_params.h"

#include "api/ec2/shapes.h"

namespace vbs::ec2 {
namespace {

Status Invalid(const std::string& message) {
  return Status::InvalidArgument("InvalidParameterValue", message);
}

// A member that must be a positive whole number when sent.
Result<std::optional<int64_t>> PositiveInt(const Params& p, const std::string& name,
                                           const std::string& wire_name) {
  VBS_ASSIGN_OR_RETURN(auto v, p.Int(name));
  if (v && *v < 1) {
    return Invalid("Value (" + std::to_string(*v) + ") for parameter " + wire_name +
                   " is invalid. Expected a positive integer");
  }
  return v;
}

}  // namespace

Result<std::optional<uint64_t>> SizeParam(const Params& p) {
  VBS_ASSIGN_OR_RETURN(auto size, p.Int("Size"));
  if (!size) return std::optional<uint64_t>();
  if (*size < 1 || *size > kMaxSizeGiB) {
    return Invalid("Volume size " + std::to_string(*size) + " GiB is out of range: 1 to 16384 GiB");
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(*size) * kGiB);
}

Result<QosRequest> QosParams(const Params& p) {
  QosRequest q;
  q.type = p.Get("VolumeType");
  if (q.type && q.type->empty()) {
    return Invalid("Value () for parameter volumeType is invalid");
  }
  VBS_ASSIGN_OR_RETURN(q.iops, PositiveInt(p, "Iops", "iops"));
  VBS_ASSIGN_OR_RETURN(q.throughput, PositiveInt(p, "Throughput", "throughput"));
  return q;
}

}  // namespace vbs::ec2
