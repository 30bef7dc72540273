#include "cli/wait.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <thread>

#include "cli/errors.h"

namespace vbs::cli {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kFirstInterval{100};
constexpr milliseconds kMaxInterval{1000};

std::string StringField(const Json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string StateOf(const Json& object) {
  return StringField(object, "state");
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Errors worth another try before the deadline: the server may be restarting.
bool IsTransient(const Status& s) {
  return s.code() == kCodeUnreachable || s.kind() == StatusKind::kUnavailable;
}

}  // namespace

WaitClock WaitClock::Real() {
  return {[] { return std::chrono::steady_clock::now(); },
          [](milliseconds d) { std::this_thread::sleep_for(d); }};
}

WaitOutcome WaitFor(const Json& initial, const PollFn& poll, const WaitSpec& spec,
                    const WaitClock& clock, const UpdateFn& on_update) {
  const auto deadline = clock.now() + spec.timeout;
  WaitOutcome out;
  out.last = initial;
  milliseconds interval = kFirstInterval;
  bool have_object = true;  // whether out.last is fresh (false after a transient error)
  while (true) {
    if (have_object) {
      if (on_update) on_update(out.last);
      std::string state = StateOf(out.last);
      if (Contains(spec.done_states, state)) {
        out.result = WaitResult::kDone;
        return out;
      }
      if (Contains(spec.failed_states, state)) {
        out.result = WaitResult::kFailed;
        return out;
      }
    }
    auto now = clock.now();
    if (now >= deadline) {
      out.result = WaitResult::kTimedOut;
      return out;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    clock.sleep(std::min(interval, left));
    interval = std::min(interval * 2, kMaxInterval);

    Result<Json> polled = poll();
    if (polled.ok()) {
      out.last = std::move(polled).value();
      out.status = Status::Ok();  // an earlier transient failure is no longer news
      have_object = true;
      continue;
    }
    if (spec.not_found_is_done && polled.status().kind() == StatusKind::kNotFound) {
      if (out.last.is_object())
        out.last["state"] =
            spec.done_states.empty() ? std::string("deleted") : spec.done_states.front();
      if (on_update) on_update(out.last);
      out.result = WaitResult::kDone;
      return out;
    }
    if (!IsTransient(polled.status())) {
      out.result = WaitResult::kPollError;
      out.status = polled.status();
      return out;
    }
    have_object = false;  // keep the last object seen; try again until the deadline
    out.status = polled.status();
  }
}

Status WaitStatus(const WaitOutcome& outcome, const WaitSpec& spec, const std::string& show_hint) {
  std::string id = StringField(outcome.last, "id");
  if (id.empty()) id = "the object";
  switch (outcome.result) {
    case WaitResult::kDone:
      return Status::Ok();
    case WaitResult::kFailed: {
      std::string why = StringField(outcome.last, "error");
      return EndedInError(fmt::format("{} ended in state {}: {}", id, StateOf(outcome.last),
                                      why.empty() ? "(the server gave no reason)" : why));
    }
    case WaitResult::kTimedOut: {
      auto secs = std::chrono::duration<double>(spec.timeout).count();
      std::string last = StateOf(outcome.last);
      std::string extra;
      if (!outcome.status.ok())
        extra = fmt::format("; last poll failed: {}", outcome.status.message());
      return WaitTimedOutError(fmt::format(
          "gave up waiting after {:g}s: {} is still {} (wanted {}){}; it may still finish — "
          "check with `{}` (or raise --timeout)",
          secs, id, last.empty() ? "in an unknown state" : last,
          fmt::join(spec.done_states, " or "), extra, show_hint));
    }
    case WaitResult::kPollError:
      return outcome.status;
  }
  return outcome.status;
}

}  // namespace vbs::cli
