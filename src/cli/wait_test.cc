#include "cli/wait.h"

#include <gtest/gtest.h>

#include <deque>

#include "cli/errors.h"
#include "cli/test_fakes.h"

namespace vbs::cli {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

Json Obj(const std::string& state, int progress = 0) {
  return {{"id", "snap-1"}, {"state", state}, {"progress", progress}};
}

// Replays a script of poll answers, then repeats the last one forever.
struct Script {
  std::deque<Result<Json>> answers;
  int polls = 0;
  PollFn Fn() {
    return [this]() -> Result<Json> {
      ++polls;
      Result<Json> r = answers.front();
      if (answers.size() > 1) answers.pop_front();
      return r;
    };
  }
};

WaitSpec SnapshotSpec(milliseconds timeout = milliseconds(600'000)) {
  return {.done_states = {"completed"}, .failed_states = {"error"}, .timeout = timeout};
}

TEST(WaitFor, AlreadyFinalNeedsNoPoll) {
  FakeClock clock;
  Script script{{Obj("pending")}};
  std::vector<Json> seen;
  auto out = WaitFor(Obj("completed", 100), script.Fn(), SnapshotSpec(), clock.Clock(),
                     [&](const Json& o) { seen.push_back(o); });
  EXPECT_EQ(out.result, WaitResult::kDone);
  EXPECT_EQ(script.polls, 0);
  EXPECT_EQ(seen.size(), 1u);
  EXPECT_TRUE(WaitStatus(out, SnapshotSpec(), "x").ok());
}

TEST(WaitFor, PollsUntilDoneReportingEachObject) {
  FakeClock clock;
  Script script{{Obj("pending", 30), Obj("pending", 80), Obj("completed", 100)}};
  std::vector<int> progress;
  auto out = WaitFor(Obj("pending", 0), script.Fn(), SnapshotSpec(), clock.Clock(),
                     [&](const Json& o) { progress.push_back(o["progress"].get<int>()); });
  EXPECT_EQ(out.result, WaitResult::kDone);
  EXPECT_EQ(script.polls, 3);
  EXPECT_EQ(progress, (std::vector<int>{0, 30, 80, 100}));
  // Backs off from 100 ms, doubling.
  EXPECT_EQ(clock.sleeps,
            (std::vector<milliseconds>{milliseconds(100), milliseconds(200), milliseconds(400)}));
}

TEST(WaitFor, EndsInErrorWithTheServersMessage) {
  FakeClock clock;
  Json failed = Obj("error");
  failed["error"] = "copy failed: No space left on device";
  Script script{{failed}};
  auto out = WaitFor(Obj("pending"), script.Fn(), SnapshotSpec(), clock.Clock(), nullptr);
  EXPECT_EQ(out.result, WaitResult::kFailed);
  Status s = WaitStatus(out, SnapshotSpec(), "vbs snapshot show snap-1");
  EXPECT_EQ(ExitCodeFor(s), kExitWaitFailed);
  EXPECT_EQ(s.message(), "snap-1 ended in state error: copy failed: No space left on device");
}

TEST(WaitFor, GivesUpAtTheDeadlineAndSaysSo) {
  FakeClock clock;
  Script script{{Obj("pending", 10)}};
  auto spec = SnapshotSpec(milliseconds(5000));
  auto start = clock.now;
  auto out = WaitFor(Obj("pending"), script.Fn(), spec, clock.Clock(), nullptr);
  EXPECT_EQ(out.result, WaitResult::kTimedOut);
  EXPECT_EQ(clock.now - start, milliseconds(5000));  // never sleeps past the deadline
  EXPECT_LE(script.polls, 12);                       // backed off to 1 s
  Status s = WaitStatus(out, spec, "vbs snapshot show snap-1");
  EXPECT_EQ(ExitCodeFor(s), kExitWaitFailed);
  EXPECT_NE(s.message().find("gave up waiting after 5s"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("still pending"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("vbs snapshot show snap-1"), std::string::npos) << s.message();
}

TEST(WaitFor, RetriesTransientFailuresUntilTheDeadline) {
  FakeClock clock;
  Script script{{UnreachableError("connection refused"), Status::Unavailable("restarting"),
                 Obj("completed", 100)}};
  auto out = WaitFor(Obj("pending"), script.Fn(), SnapshotSpec(), clock.Clock(), nullptr);
  EXPECT_EQ(out.result, WaitResult::kDone);
  EXPECT_EQ(script.polls, 3);

  FakeClock clock2;
  Script down{{UnreachableError("connection refused")}};
  auto spec = SnapshotSpec(milliseconds(3000));
  auto gave_up = WaitFor(Obj("pending"), down.Fn(), spec, clock2.Clock(), nullptr);
  EXPECT_EQ(gave_up.result, WaitResult::kTimedOut);
  EXPECT_NE(WaitStatus(gave_up, spec, "x").message().find("connection refused"), std::string::npos);
}

TEST(WaitFor, ATimeoutAfterRecoveryDoesNotBlameAnOldFailure) {
  FakeClock clock;
  Script script{{UnreachableError("connection refused"), Obj("pending", 50)}};
  auto spec = SnapshotSpec(milliseconds(2000));
  auto out = WaitFor(Obj("pending"), script.Fn(), spec, clock.Clock(), nullptr);
  EXPECT_EQ(out.result, WaitResult::kTimedOut);
  EXPECT_EQ(WaitStatus(out, spec, "x").message().find("refused"), std::string::npos);
}

TEST(WaitFor, StopsAtOnceOnAnErrorThatRetriesCannotFix) {
  FakeClock clock;
  Script script{{Status::PermissionDenied("UnauthorizedOperation", "no")}};
  auto out = WaitFor(Obj("pending"), script.Fn(), SnapshotSpec(), clock.Clock(), nullptr);
  EXPECT_EQ(out.result, WaitResult::kPollError);
  EXPECT_EQ(script.polls, 1);
  EXPECT_EQ(WaitStatus(out, SnapshotSpec(), "x").code(), "UnauthorizedOperation");
}

TEST(WaitFor, DeleteTreatsNotFoundAsDeleted) {
  FakeClock clock;
  Script script{{Obj("deleting"), Status::NotFound("InvalidVolume.NotFound", "gone")}};
  WaitSpec spec{.done_states = {"deleted"}, .failed_states = {"error"}, .not_found_is_done = true};
  std::vector<std::string> states;
  auto out = WaitFor(Obj("deleting"), script.Fn(), spec, clock.Clock(),
                     [&](const Json& o) { states.push_back(o["state"]); });
  EXPECT_EQ(out.result, WaitResult::kDone);
  EXPECT_EQ(out.last["state"], "deleted");
  EXPECT_EQ(states.back(), "deleted");

  // Without the flag a 404 is an error (a create that vanished is not a success).
  Script gone{{Status::NotFound("InvalidSnapshot.NotFound", "gone")}};
  EXPECT_EQ(WaitFor(Obj("pending"), gone.Fn(), SnapshotSpec(), clock.Clock(), nullptr).result,
            WaitResult::kPollError);
}

TEST(WaitFor, ZeroTimeoutChecksOnce) {
  FakeClock clock;
  Script script{{Obj("pending")}};
  auto out =
      WaitFor(Obj("pending"), script.Fn(), SnapshotSpec(milliseconds(0)), clock.Clock(), nullptr);
  EXPECT_EQ(out.result, WaitResult::kTimedOut);
  EXPECT_EQ(script.polls, 0);
}

}  // namespace
}  // namespace vbs::cli
