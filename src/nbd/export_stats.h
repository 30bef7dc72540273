// ExportStats: what an export served, for the agent's metrics (design.md §6).
//
// The connections of an export bump these as they answer requests: relaxed atomic adds and
// one histogram bucket per request, nothing that waits. The agent keeps one per volume
// (shared by the volume's exports, like its throttle) and renders them at scrape time.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/metrics.h"
#include "nbd/request.h"

namespace vbs::nbd {

struct ExportStats {
  struct Op {
    Counter requests;
    Counter bytes;   // reads and writes: the data moved; trims and zeroes: the range
    Counter errors;  // answered with an NBD error
    Histogram latency{&LatencyBuckets()};  // from parsing the request to its reply queued
  };
  Op read, write, flush, trim, zero, other;  // other: BLOCK_STATUS, CACHE, unknown
  Gauge in_flight;                           // requests parsed and not yet answered
  Gauge connections;                         // clients past the handshake
  Counter throttled_ns;                      // time requests waited for the volume's QoS limits

  Op& For(uint16_t type);
  // A request answered at `now` with `error` (0: success).
  void Answered(const Request& r, uint32_t error, std::chrono::steady_clock::time_point now);
  static const char* OpName(const Op& op, const ExportStats& s);
};

}  // namespace vbs::nbd
