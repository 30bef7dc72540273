#include "agent/shared_device.h"

namespace vbs {

Result<std::shared_ptr<BlockDevice>> SharedDevice::Get() {
  // Opening under the lock: a second connection waits for the first one's open instead of
  // opening a handle of its own.
  std::lock_guard<std::mutex> l(mu_);
  if (auto dev = current_.lock()) return dev;
  auto dev = open_();
  if (dev.ok()) current_ = *dev;
  return dev;
}

void SharedDevice::Forget() {
  std::lock_guard<std::mutex> l(mu_);
  current_.reset();
}

nbd::DeviceFactory SharedDevice::Factory() {
  return [self = shared_from_this()] { return self->Get(); };
}

}  // namespace vbs
