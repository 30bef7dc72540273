// SharedDevice: one open device for all the NBD connections of an export that are open at the
// same time.
//
// The NBD server asks an export's factory for a device per connection. Each open of an RBD
// image is a librbd handle of its own, and two handles writing one image pass its exclusive
// lock back and forth (4k random writes over 2 connections measured 3.4 against 8.1 kIOPS
// over 1). Through Factory(), the volume is opened once: connections that come while that
// device is open get the same one, and it is closed when the last of them lets go. Forget()
// makes the next connection open afresh (after a resize, reconnecting clients must get the
// grown volume). Thread-safe.
// Since the connections open at once share one device, the export advertises CAN_MULTI_CONN
// (host_role.cc). The one exception is the moment of a resize: Forget() is followed at once
// by dropping the export's connections, and a client that connects in between may, until
// its older connections are dropped, be on two devices.
#pragma once

#include <memory>
#include <mutex>

#include "nbd/export_registry.h"

namespace vbs {

class SharedDevice : public std::enable_shared_from_this<SharedDevice> {
 public:
  explicit SharedDevice(nbd::DeviceFactory open) : open_(std::move(open)) {}

  // The device open now, or a new one from the wrapped factory.
  Result<std::shared_ptr<BlockDevice>> Get();
  // Later Get()s open afresh; connections holding the current device keep it.
  void Forget();
  // A factory for NbdServer::AddExport that calls Get() (and keeps this alive).
  nbd::DeviceFactory Factory();

 private:
  const nbd::DeviceFactory open_;
  std::mutex mu_;
  std::weak_ptr<BlockDevice> current_;
};

}  // namespace vbs
