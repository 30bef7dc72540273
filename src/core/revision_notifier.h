// RevisionNotifier: wakes agents' long polls in this process when new work is committed.
// Other server processes' commits are seen by the pollers' periodic re-check of the store.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace vbs {

class RevisionNotifier {
 public:
  void Notify() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }
  // Waits until Notify() is called after `seen` was read, or the timeout passes.
  uint64_t generation() {
    std::lock_guard<std::mutex> l(mu_);
    return generation_;
  }
  void WaitFor(uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, timeout, [&] { return generation_ != seen || shut_down_; });
  }
  // Ends every wait now and later: the server is stopping.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> l(mu_);
      shut_down_ = true;
    }
    cv_.notify_all();
  }
  bool shut_down() {
    std::lock_guard<std::mutex> l(mu_);
    return shut_down_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  bool shut_down_ = false;
};

}  // namespace vbs
