#include "nbd/write_lease.h"

#include <gtest/gtest.h>

#include <thread>

namespace vbs::nbd {
namespace {

using namespace std::chrono_literals;

TEST(WriteLeaseTest, StartsExpired) {
  WriteLease lease;
  EXPECT_FALSE(lease.Valid());
}

TEST(WriteLeaseTest, ValidUntilItRunsOut) {
  WriteLease lease;
  lease.ExtendTo(WriteLease::Clock::now() + 50ms);
  EXPECT_TRUE(lease.Valid());
  std::this_thread::sleep_for(80ms);
  EXPECT_FALSE(lease.Valid());
}

TEST(WriteLeaseTest, AnOlderGrantNeverShortensIt) {
  WriteLease lease;
  const auto far = WriteLease::Clock::now() + 1h;
  lease.ExtendTo(far);
  lease.ExtendTo(WriteLease::Clock::now() + 1ms);  // a late answer to an earlier renewal
  EXPECT_EQ(lease.until(), far);
  EXPECT_TRUE(lease.Valid());
}

TEST(WriteLeaseTest, RevokeEndsItAtOnce) {
  WriteLease lease;
  lease.ExtendTo(WriteLease::Clock::now() + 1h);
  lease.Revoke();
  EXPECT_FALSE(lease.Valid());
  lease.ExtendTo(WriteLease::Clock::now() + 1h);  // a new grant after a new hello
  EXPECT_TRUE(lease.Valid());
}

}  // namespace
}  // namespace vbs::nbd
