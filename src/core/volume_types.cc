#include "core/volume_types.h"

namespace vbs {
namespace {

Status Value(const std::string& message) {
  return Status::InvalidArgument("InvalidParameterValue", message);
}
Status Combination(const std::string& message) {
  return Status::InvalidArgument("InvalidParameterCombination", message);
}

}  // namespace

VolumeTypes::VolumeTypes(std::vector<VolumeTypeConfig> types, std::string default_type)
    : types_(std::move(types)), default_type_(std::move(default_type)) {}

Result<const VolumeTypeConfig*> VolumeTypes::Find(const std::string& name) const {
  std::string known;
  for (const auto& t : types_) {
    if (t.name == name) return &t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  return Value("unknown volume type '" + name + "'; the types are " + known);
}

Result<VolumeQos> VolumeTypes::Check(const VolumeTypeConfig& t, std::optional<int64_t> iops,
                                     std::optional<int64_t> throughput, uint64_t size,
                                     const VolumeQos* keep) const {
  if (iops && *iops <= 0) return Value("iops must be a positive number");
  if (throughput && *throughput <= 0) return Value("throughput must be a positive number (MiB/s)");
  if (iops && t.max_iops == 0) {
    return Combination("volumes of type '" + t.name + "' take no iops");
  }
  if (throughput && t.max_throughput == 0) {
    return Combination("volumes of type '" + t.name + "' take no throughput");
  }
  VolumeQos q;
  q.type = t.name;
  q.iops = iops.value_or(keep ? keep->iops : t.iops);
  q.throughput = throughput.value_or(keep ? keep->throughput : t.throughput);
  if (t.iops_required && q.iops == 0) {
    return Combination("volumes of type '" + t.name + "' need iops");
  }
  if (t.max_iops > 0 && q.iops > t.max_iops) {
    return Value("iops " + std::to_string(q.iops) + " is above the " + std::to_string(t.max_iops) +
                 " that type '" + t.name + "' allows");
  }
  if (t.max_throughput > 0 && q.throughput > t.max_throughput) {
    return Value("throughput " + std::to_string(q.throughput) + " MiB/s is above the " +
                 std::to_string(t.max_throughput) + " that type '" + t.name + "' allows");
  }
  if (t.max_iops_per_gib > 0 && q.iops > 0) {
    const uint64_t gib = size >> 30;
    if (static_cast<uint64_t>(q.iops) > gib * static_cast<uint64_t>(t.max_iops_per_gib)) {
      return Value("iops " + std::to_string(q.iops) + " is above " +
                   std::to_string(t.max_iops_per_gib) + " per GiB for a volume of " +
                   std::to_string(gib) + " GiB on type '" + t.name + "'");
    }
  }
  return q;
}

Result<VolumeQos> VolumeTypes::ForCreate(const QosRequest& req, uint64_t size) const {
  VBS_ASSIGN_OR_RETURN(const VolumeTypeConfig* t, Find(req.type.value_or(default_type_)));
  return Check(*t, req.iops, req.throughput, size, nullptr);
}

Result<VolumeQos> VolumeTypes::ForModify(const QosRequest& req, const VolumeQos& current,
                                         uint64_t size) const {
  const std::string name = req.type.value_or(current.type);
  VBS_ASSIGN_OR_RETURN(const VolumeTypeConfig* t, Find(name));
  return Check(*t, req.iops, req.throughput, size, name == current.type ? &current : nullptr);
}

}  // namespace vbs
