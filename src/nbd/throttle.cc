#include "nbd/throttle.h"

#include <algorithm>
#include <cmath>

#include "nbd/protocol.h"

namespace vbs::nbd {
namespace {

constexpr uint64_t kOpUnit = 256 * 1024;  // EBS's I/O size unit for SSD volumes
constexpr double kBurstSeconds = 0.05;

}  // namespace

double Throttle::Bucket::Cap(double cost) const {
  return std::max(rate * kBurstSeconds, cost);
}

Throttle::Throttle(QosLimits limits) : last_(Clock::now()) {
  SetLimits(limits);
}

void Throttle::SetLimits(QosLimits limits) {
  std::lock_guard lock(mu_);
  ops_.rate = static_cast<double>(limits.iops);
  bytes_.rate = static_cast<double>(limits.bytes_per_second);
  // A new limit starts with a full burst (and no debt from an older, lower one).
  ops_.level = ops_.Cap(1);
  bytes_.level = bytes_.Cap(kOpUnit);
  last_ = Clock::now();
}

QosLimits Throttle::limits() {
  std::lock_guard lock(mu_);
  return QosLimits{static_cast<uint64_t>(ops_.rate), static_cast<uint64_t>(bytes_.rate)};
}

uint64_t Throttle::OpsOf(const Request& req) {
  switch (req.type) {
    case kCmdRead:
    case kCmdWrite:
      return std::max<uint64_t>(1, (uint64_t{req.length} + kOpUnit - 1) / kOpUnit);
    case kCmdTrim:
    case kCmdWriteZeroes:
      return 1;
    default:
      return 0;
  }
}

uint64_t Throttle::BytesOf(const Request& req) {
  return req.type == kCmdRead || req.type == kCmdWrite ? req.length : 0;
}

void Throttle::Refill(Clock::time_point now) {
  const double dt = std::chrono::duration<double>(now - last_).count();
  if (dt <= 0) return;
  last_ = now;
  for (Bucket* b : {&ops_, &bytes_}) {
    if (b->rate > 0) b->level = std::min(b->Cap(0), b->level + b->rate * dt);
  }
}

Throttle::Clock::duration Throttle::Delay(const Request& req, Clock::time_point now) {
  if (OpsOf(req) == 0) return Clock::duration::zero();
  std::lock_guard lock(mu_);
  Refill(now);
  double wait = 0;
  for (const Bucket* b : {&ops_, &bytes_}) {
    if (b->rate > 0 && b->level < 0) wait = std::max(wait, -b->level / b->rate);
  }
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait));
}

void Throttle::Take(const Request& req, Clock::time_point now) {
  const uint64_t ops = OpsOf(req);
  if (ops == 0) return;
  std::lock_guard lock(mu_);
  Refill(now);
  if (ops_.rate > 0) ops_.level -= static_cast<double>(ops);
  if (bytes_.rate > 0) bytes_.level -= static_cast<double>(BytesOf(req));
}

}  // namespace vbs::nbd
