#include "agent/shared_device.h"

#include <gtest/gtest.h>

#include "nbd/mem_device_testing.h"

namespace vbs {
namespace {

struct Opener {
  int opens = 0;
  bool fail = false;
  nbd::DeviceFactory Factory() {
    return [this]() -> Result<std::shared_ptr<BlockDevice>> {
      if (fail) return Status(StatusKind::kUnavailable, "Test.OpenFailed", "cannot open");
      ++opens;
      return std::shared_ptr<BlockDevice>(std::make_shared<nbd::MemDevice>(1 << 20));
    };
  }
};

TEST(SharedDeviceTest, ConnectionsOpenAtOnceShareOneDevice) {
  Opener o;
  auto shared = std::make_shared<SharedDevice>(o.Factory());
  auto factory = shared->Factory();
  auto a = factory();
  auto b = factory();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(o.opens, 1);
}

TEST(SharedDeviceTest, ClosedWithTheLastConnectionAndOpenedAfreshAfter) {
  Opener o;
  auto shared = std::make_shared<SharedDevice>(o.Factory());
  std::weak_ptr<BlockDevice> first;
  {
    auto a = shared->Get();
    ASSERT_TRUE(a.ok());
    first = *a;
  }
  EXPECT_TRUE(first.expired()) << "the device outlived its last connection";
  auto b = shared->Get();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(o.opens, 2);
}

TEST(SharedDeviceTest, ForgetOpensAfreshAndLeavesHoldersTheirDevice) {
  Opener o;
  auto shared = std::make_shared<SharedDevice>(o.Factory());
  auto old_dev = shared->Get();
  ASSERT_TRUE(old_dev.ok());
  shared->Forget();
  auto new_dev = shared->Get();
  ASSERT_TRUE(new_dev.ok());
  EXPECT_NE(old_dev->get(), new_dev->get());
  EXPECT_EQ(o.opens, 2);
  EXPECT_EQ((*old_dev)->size(), uint64_t{1} << 20);  // still usable by its connection
}

TEST(SharedDeviceTest, AFailedOpenIsReportedAndRetriedByTheNextConnection) {
  Opener o;
  o.fail = true;
  auto shared = std::make_shared<SharedDevice>(o.Factory());
  auto a = shared->Get();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), "Test.OpenFailed");
  o.fail = false;
  auto b = shared->Get();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(o.opens, 1);
}

}  // namespace
}  // namespace vbs
