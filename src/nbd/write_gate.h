// WriteGate: holds an export's new writes while a snapshot is taken (design.md §5).
//
// Every write-type request (WRITE, WRITE_ZEROES, TRIM) of every connection of the export
// passes the gate: TryEnter before it runs, Leave when it has run. Pause closes the gate and
// returns once no write is in flight; writes arriving meanwhile are parked (never run, never
// answered) and Resume runs them. Reads and flushes are not held, so the guest keeps reading.
// Close (the export is removed) answers parked writes with an error instead of running them:
// a fenced client's held write never reaches the device. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

namespace vbs::nbd {

class WriteGate {
 public:
  // Called once for a parked write: entered=true when the gate reopened (the write has
  // entered and must Leave when done), false when the gate was closed for good.
  using Parked = std::function<void(bool entered)>;

  // True when the write may run now (it has entered); false while paused.
  bool TryEnter();
  // After a failed TryEnter: parks `later` (or calls it at once if the gate reopened or was
  // closed meanwhile).
  void Park(Parked later);
  void Leave();

  // Holds new writes and waits until none is in flight. Pauses nest.
  void Pause();
  void Resume();
  void Close();

  int held() const;  // parked writes (for tests)

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  int pauses_ = 0;
  bool closed_ = false;
  std::vector<Parked> parked_;
};

}  // namespace vbs::nbd
