// sd_notify(3) without libsystemd: a datagram of "KEY=VALUE" lines to $NOTIFY_SOCKET.
//
// A Type=notify unit learns from READY=1 that the service accepts connections, from
// WATCHDOG=1 that its main loop still runs (within WatchdogSec, announced as $WATCHDOG_USEC),
// from RELOADING=1 / STOPPING=1 what it is doing. Outside systemd (no $NOTIFY_SOCKET) every
// call is a no-op, so the daemons call these unconditionally.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/status.h"

namespace vbs {

// Sends `state` (e.g. "READY=1\nSTATUS=listening") to $NOTIFY_SOCKET: a path, or an abstract
// socket when it starts with '@'. Ok without $NOTIFY_SOCKET.
Status SdNotify(const std::string& state);

// How often the main loop must send WATCHDOG=1: $WATCHDOG_USEC, when $WATCHDOG_PID is unset or
// this process. nullopt: no watchdog.
std::optional<std::chrono::microseconds> SdWatchdogInterval();

}  // namespace vbs
