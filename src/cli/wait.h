// The --wait loop: poll an object until it reaches a final state, or give up at a deadline.
//
// It always ends: by success (a `done` state), by failure (a `failed` state, e.g. `error`),
// by a poll error that retrying cannot fix, or at the deadline. Transient failures (server
// unreachable, 503) are retried until the deadline, because a wait is often what a user runs
// across a server restart. Polls start fast (reflink snapshots finish in milliseconds) and
// back off to once a second. The poll, the clock and the sleep are injected so that the loop
// is tested without a server or real time.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace vbs::cli {

using Json = nlohmann::json;

struct WaitSpec {
  std::vector<std::string> done_states;    // e.g. {"available"}
  std::vector<std::string> failed_states;  // e.g. {"error"}
  bool not_found_is_done = false;          // deletes: an object that is gone is deleted
  std::chrono::milliseconds timeout{600'000};
};

struct WaitClock {
  std::function<std::chrono::steady_clock::time_point()> now;
  std::function<void(std::chrono::milliseconds)> sleep;
  static WaitClock Real();
};

enum class WaitResult { kDone, kFailed, kTimedOut, kPollError };

struct WaitOutcome {
  WaitResult result = WaitResult::kPollError;
  Json last;      // the last object seen (for kDone with a 404: the previous one, state set)
  Status status;  // the poll error (kPollError)
};

using PollFn = std::function<Result<Json>()>;
using UpdateFn = std::function<void(const Json&)>;

// `initial` is the object as the create/delete call returned it; it is reported and checked
// first, so an object that is already final needs no poll.
WaitOutcome WaitFor(const Json& initial, const PollFn& poll, const WaitSpec& spec,
                    const WaitClock& clock, const UpdateFn& on_update);

// Turns an outcome into the command's Status: OK when done; vbs.EndedInError with the
// object's error message; vbs.WaitTimedOut naming the object, its last state and how to
// look again (`show_hint`, e.g. "vbs volume show vol-…"); or the poll error.
Status WaitStatus(const WaitOutcome& outcome, const WaitSpec& spec, const std::string& show_hint);

}  // namespace vbs::cli
