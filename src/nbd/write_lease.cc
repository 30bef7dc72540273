#include "nbd/write_lease.h"

namespace vbs::nbd {

void WriteLease::ExtendTo(Clock::time_point until) {
  const Clock::rep want = until.time_since_epoch().count();
  Clock::rep cur = until_.load();
  while (cur < want && !until_.compare_exchange_weak(cur, want)) {
  }
}

void WriteLease::Revoke() {
  until_.store(0);
}

WriteLease::Clock::time_point WriteLease::until() const {
  return Clock::time_point(Clock::duration(until_.load()));
}

}  // namespace vbs::nbd
