// Throttle: IOPS and throughput limits of a volume (QoS), a token bucket shared by every
// connection of the volume's exports on a node (design.md §6).
//
// Counting follows EBS: READ and WRITE count; a request of up to 256 KiB is one operation
// and a larger one counts one per started 256 KiB (a 1 MiB write is 4 operations); its bytes
// count against the throughput. TRIM and WRITE_ZEROES count as one operation and no bytes;
// FLUSH, BLOCK_STATUS and DISC are free. Each bucket refills at its rate and holds at most
// 50 ms of it (at least one request): a volume never runs faster than its limit for longer
// than that. A request may take the bucket below zero (a large request is never starved);
// the next waits until it is back above zero. Requests are delayed, never refused: the
// connection leaves them unparsed in its socket meanwhile (connection.h).
// Thread-safe; limits may change at any time (an online modification).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "nbd/request.h"

namespace vbs::nbd {

struct QosLimits {
  uint64_t iops = 0;              // operations per second; 0: no limit
  uint64_t bytes_per_second = 0;  // 0: no limit
  bool unlimited() const { return iops == 0 && bytes_per_second == 0; }
};

class Throttle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Throttle(QosLimits limits = {});

  void SetLimits(QosLimits limits);
  QosLimits limits();

  // Operations a request counts as (0: free), by the rule above.
  static uint64_t OpsOf(const Request& req);
  static uint64_t BytesOf(const Request& req);

  // How long `req` must wait before it may run (zero: now). Takes nothing.
  Clock::duration Delay(const Request& req, Clock::time_point now);
  // The request runs: takes its operations and bytes from the buckets.
  void Take(const Request& req, Clock::time_point now);

 private:
  struct Bucket {
    double rate = 0;  // per second; 0: unlimited
    double level = 0;
    double Cap(double cost) const;
  };
  void Refill(Clock::time_point now);

  std::mutex mu_;
  Bucket ops_, bytes_;
  Clock::time_point last_;
};

}  // namespace vbs::nbd
