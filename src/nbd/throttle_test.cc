#include "nbd/throttle.h"

#include <gtest/gtest.h>

namespace vbs::nbd {
namespace {

Request Req(uint16_t type, uint32_t length) {
  Request r;
  r.type = type;
  r.length = length;
  return r;
}

// Runs `req` back to back for `seconds` of simulated time, each as soon as the throttle lets
// it; returns how many ran.
int RunFor(Throttle& t, const Request& req, double seconds) {
  auto now = Throttle::Clock::now();
  const auto end = now + std::chrono::duration_cast<Throttle::Clock::duration>(
                             std::chrono::duration<double>(seconds));
  int ran = 0;
  while (now < end) {
    auto d = t.Delay(req, now);
    if (d > Throttle::Clock::duration::zero()) {
      now += d;
      continue;
    }
    t.Take(req, now);
    ++ran;
  }
  return ran;
}

TEST(ThrottleTest, CountsByTheEbsRule) {
  EXPECT_EQ(Throttle::OpsOf(Req(kCmdRead, 4096)), 1u);
  EXPECT_EQ(Throttle::OpsOf(Req(kCmdWrite, 256 * 1024)), 1u);
  EXPECT_EQ(Throttle::OpsOf(Req(kCmdWrite, 256 * 1024 + 1)), 2u);
  EXPECT_EQ(Throttle::OpsOf(Req(kCmdRead, 1 << 20)), 4u);
  EXPECT_EQ(Throttle::OpsOf(Req(kCmdTrim, 1 << 30)), 1u);
  EXPECT_EQ(Throttle::BytesOf(Req(kCmdTrim, 1 << 30)), 0u);
  EXPECT_EQ(Throttle::OpsOf(Req(kCmdFlush, 0)), 0u);
}

TEST(ThrottleTest, HoldsTheIopsLimit) {
  Throttle t(QosLimits{1000, 0});
  const int ran = RunFor(t, Req(kCmdRead, 4096), 10);
  EXPECT_GE(ran, 10000);
  EXPECT_LE(ran, 10000 + 60);  // the 50 ms burst at most
  // 1 MiB requests count 4 operations each.
  Throttle big(QosLimits{1000, 0});
  const int ran_big = RunFor(big, Req(kCmdWrite, 1 << 20), 10);
  EXPECT_NEAR(ran_big, 2500, 20);
}

TEST(ThrottleTest, HoldsTheThroughputLimitAndChangesOnline) {
  Throttle t(QosLimits{0, 50 << 20});
  EXPECT_NEAR(RunFor(t, Req(kCmdWrite, 1 << 20), 10), 500, 5);
  t.SetLimits(QosLimits{3000, 0});
  EXPECT_NEAR(RunFor(t, Req(kCmdRead, 4096), 5), 15000, 200);
  t.SetLimits(QosLimits{});
  EXPECT_TRUE(t.limits().unlimited());
  EXPECT_EQ(t.Delay(Req(kCmdRead, 4096), Throttle::Clock::now()),
            Throttle::Clock::duration::zero());
}

}  // namespace
}  // namespace vbs::nbd
