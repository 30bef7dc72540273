// WriteLease: the time until which an export may write (design.md §4, node leases).
//
// A node's agent holds its read-write exports under a lease that it renews with the servers;
// when a renewal does not come in time, every write-type request of those exports (WRITE,
// WRITE_ZEROES, TRIM) fails with EIO instead of reaching the device: another node may own the
// volume by then. The check is made right before each device call, on the process's own
// monotonic clock, so writes that waited in a socket, a queue or a stopped process (SIGSTOP)
// are refused when they finally run. Writes are never received in place into a leased
// export's mapping (see Connection::ReceivesInPlace): each passes the check. Thread-safe;
// one lease is shared by all the exports of a node.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace vbs::nbd {

class WriteLease {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts expired: nothing is written before the first grant.
  WriteLease() = default;

  // Writes may go on until `until` (a later grant never shortens an earlier one).
  void ExtendTo(Clock::time_point until);
  // Ends the lease now (the servers refused a renewal).
  void Revoke();
  bool Valid() const { return Clock::now().time_since_epoch().count() < until_.load(); }
  Clock::time_point until() const;

 private:
  std::atomic<Clock::rep> until_{0};
};

}  // namespace vbs::nbd
