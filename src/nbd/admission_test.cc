#include "nbd/admission.h"

#include <gtest/gtest.h>

namespace vbs::nbd {
namespace {

Peer Local(uid_t uid) {
  Peer p;
  p.local = true;
  p.pid = 1;
  p.uid = uid;
  return p;
}

TEST(AdmissionTest, OneUidCannotTakeEverySlot) {
  Admission a(/*max_total=*/5, /*max_per_uid=*/2);
  EXPECT_TRUE(a.Enter(Local(1000)));
  EXPECT_TRUE(a.Enter(Local(1000)));
  EXPECT_FALSE(a.Enter(Local(1000)));  // its share is used up ...
  EXPECT_TRUE(a.Enter(Local(1001)));   // ... another tenant still gets in
  EXPECT_TRUE(a.Enter(Peer{}));        // remote peers count in the total only
  EXPECT_TRUE(a.Enter(Peer{}));
  EXPECT_FALSE(a.Enter(Local(1002)));  // the total
  EXPECT_EQ(a.in_handshake(), 5u);
  a.Leave(Local(1000));
  EXPECT_TRUE(a.Enter(Local(1000)));
  for (int i = 0; i < 2; ++i) a.Leave(Local(1000));
  a.Leave(Local(1001));
  a.Leave(Peer{});
  a.Leave(Peer{});
  EXPECT_EQ(a.in_handshake(), 0u);
}

}  // namespace
}  // namespace vbs::nbd
