// MemoryBudget: the bytes that NBD requests of all connections of a server may hold at once
// beyond each connection's small allowance (design.md §6, "No client can exhaust a node").
//
// A request is charged before it is parsed: a READ its length (the reply it will produce), a
// WRITE its payload; the charge is given back when its reply has been sent. A connection
// over its own limit, or one that needs the shared budget when none is left, stops reading
// its socket (backpressure: the client's requests wait in the kernel, nothing is refused).
// A connection with nothing outstanding always gets its next request, even past the budget,
// so hogs holding the budget cannot starve a well-behaved client. Node memory for requests is
// then at most the budget plus, per connection, its allowance or one request (32 MiB).
// Thread-safe.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace vbs::nbd {

class MemoryBudget {
 public:
  explicit MemoryBudget(size_t limit) : limit_(limit) {}

  // Takes `bytes` if they fit under the limit.
  bool TryTake(size_t bytes) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used + bytes > limit_) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  // Gives bytes back and wakes the connections waiting for some.
  // Takes `bytes` even past the limit (a connection's one request of progress).
  void Take(size_t bytes) { used_.fetch_add(bytes, std::memory_order_relaxed); }
  void Give(size_t bytes) {
    used_.fetch_sub(bytes, std::memory_order_relaxed);
    std::vector<int> waiting;
    {
      std::lock_guard lock(mu_);
      waiting.swap(waiting_);
    }
    const uint64_t one = 1;
    for (int fd : waiting) (void)!::write(fd, &one, sizeof one);
  }
  // Writes to eventfd `wake_fd` at the next Give (once). The fd must stay open until then or
  // until Forget(wake_fd).
  void NotifyOnGive(int wake_fd) {
    std::lock_guard lock(mu_);
    for (int fd : waiting_) {
      if (fd == wake_fd) return;
    }
    waiting_.push_back(wake_fd);
  }
  void Forget(int wake_fd) {
    std::lock_guard lock(mu_);
    std::erase(waiting_, wake_fd);
  }
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t limit() const { return limit_; }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
  std::mutex mu_;
  std::vector<int> waiting_;
};

}  // namespace vbs::nbd
