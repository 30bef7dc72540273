#include "nbd/write_gate.h"

namespace vbs::nbd {

bool WriteGate::TryEnter() {
  std::lock_guard lock(mu_);
  if (pauses_ > 0) return false;
  ++in_flight_;
  return true;
}

void WriteGate::Park(Parked later) {
  bool entered = false;
  {
    std::lock_guard lock(mu_);
    if (pauses_ > 0 && !closed_) {
      parked_.push_back(std::move(later));
      return;
    }
    if (!closed_) {
      ++in_flight_;
      entered = true;
    }
  }
  later(entered);
}

void WriteGate::Leave() {
  std::lock_guard lock(mu_);
  if (--in_flight_ == 0) cv_.notify_all();
}

void WriteGate::Pause() {
  std::unique_lock lock(mu_);
  ++pauses_;
  cv_.wait(lock, [&] { return in_flight_ == 0; });
}

void WriteGate::Resume() {
  std::vector<Parked> release;
  {
    std::lock_guard lock(mu_);
    if (pauses_ == 0 || --pauses_ > 0) return;
    release.swap(parked_);
    in_flight_ += static_cast<int>(release.size());
  }
  for (auto& later : release) later(true);
}

void WriteGate::Close() {
  std::vector<Parked> refuse;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    refuse.swap(parked_);
  }
  for (auto& later : refuse) later(false);
}

int WriteGate::held() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(parked_.size());
}

}  // namespace vbs::nbd
