// What the host role's operations carry and how long their detaches wait, shared by its QMP
// (host_role.cc) and libvirt (host_role_libvirt.cc) halves.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "nbd/throttle.h"

namespace vbs::host_op {

// How long a detach waits for the guest to release the device. A forced one fences sooner.
inline constexpr std::chrono::seconds kDetachTimeout{30};
inline constexpr std::chrono::seconds kForcedDetachTimeout{10};
// Leftovers found at start: nobody uses them, so do not hold up the agent long.
inline constexpr std::chrono::seconds kCleanupDetachTimeout{10};

// The limits an op or attachment carries: "iops" and "throughput" (MiB/s), 0 or absent: none.
inline nbd::QosLimits LimitsOf(int64_t iops, int64_t throughput_mib) {
  return nbd::QosLimits{static_cast<uint64_t>(std::max<int64_t>(0, iops)),
                        static_cast<uint64_t>(std::max<int64_t>(0, throughput_mib)) << 20};
}
inline nbd::QosLimits LimitsOf(const nlohmann::json& params) {
  auto num = [&](const char* key) {
    auto it = params.find(key);
    return it != params.end() && it->is_number_integer() ? it->get<int64_t>() : int64_t{0};
  };
  return LimitsOf(num("iops"), num("throughput"));
}

// A detach flag ("force", "instance_gone"): true only for a JSON true.
inline bool IsParamTrue(const nlohmann::json& params, const char* key) {
  auto it = params.find(key);
  return it != params.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace vbs::host_op
