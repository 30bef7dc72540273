// Transmission-phase requests: parsing the 28-byte header and checking it against the session.
//
// Parsing is separate from checking so that a bad request can still be answered with the
// spec's error (and its WRITE payload skipped) instead of dropping the connection. Only a bad
// magic or a WRITE payload larger than kMaxPayload (we cannot afford to skip it) is fatal.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "nbd/protocol.h"

namespace vbs::nbd {

// The memory a request holds until its reply is sent, and whether it came from the server's
// shared budget (memory_budget.h).
struct Charge {
  uint32_t bytes = 0;
  bool shared = false;
};

struct Request {
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t handle = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  // Not on the wire: set by the connection (memory_budget.h).
  uint32_t charge = 0;
  bool shared_charge = false;
  // Not on the wire: when the connection parsed it (latency metrics, export_stats.h).
  std::chrono::steady_clock::time_point received{};

  // Bytes of payload that follow the header on the wire.
  uint32_t payload_length() const { return type == kCmdWrite ? length : 0; }
};

// What a connection negotiated, as far as requests care.
struct SessionParams {
  uint64_t size = 0;
  bool read_only = false;
  bool structured = false;
  bool base_allocation = false;
};

enum class HeaderStatus { kOk, kBadMagic, kPayloadTooLarge };

// Decodes a header from exactly kRequestHeaderSize bytes.
HeaderStatus ParseRequestHeader(const uint8_t* p, Request* out);

// 0 when `r` may run; otherwise the NBD error to answer it with.
uint32_t ValidateRequest(const Request& r, const SessionParams& s);

}  // namespace vbs::nbd
