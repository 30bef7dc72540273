#include "core/admin_service.h"

#include "core/authenticator.h"
#include "core/core_test_util.h"

namespace vbs {
namespace {

class AdminServiceTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    admin_service_ = std::make_unique<AdminService>(*store_);
  }
  std::unique_ptr<AdminService> admin_service_;
};

TEST_F(AdminServiceTest, NewUsersGetAnAccessKeyThatStandsForThem) {
  auto created = admin_service_->CreateUser(admin_, "carol", false);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const AccessKeyRecord& key = created->access_key;
  EXPECT_EQ(key.user, "carol");
  EXPECT_EQ(key.state, "active");
  EXPECT_EQ(key.id.size(), 20u);
  EXPECT_EQ(key.id.rfind("AKIA", 0), 0u);
  EXPECT_EQ(key.secret.size(), 40u);
  auto owner = Authenticator(*store_).ForAccessKey(key.id);
  ASSERT_TRUE(owner.ok() && owner->has_value());
  EXPECT_EQ((*owner)->caller.user, "carol");
  EXPECT_FALSE((*owner)->caller.admin);
  EXPECT_EQ((*owner)->secret, key.secret);
  EXPECT_FALSE(Authenticator(*store_).ForAccessKey("AKIAUNKNOWNUNKNOWN00")->has_value());
  // Keys are not guessable from each other.
  auto other = admin_service_->CreateUser(admin_, "dave", true);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->access_key.id, key.id);
  EXPECT_NE(other->access_key.secret, key.secret);
  EXPECT_TRUE((*Authenticator(*store_).ForAccessKey(other->access_key.id))->caller.admin);
}

TEST_F(AdminServiceTest, OnlyAdminsEnrolAndIssueKeys) {
  EXPECT_EQ(admin_service_->CreateUser(alice_, "eve", false).status().code(),
            "UnauthorizedOperation");
  ASSERT_TRUE(admin_service_->CreateUser(admin_, "carol", false).ok());
  EXPECT_EQ(admin_service_->CreateUser(admin_, "carol", false).status().code(),
            "UserAlreadyExists");
  // A user issues keys for themselves only; another's name looks unknown to them.
  EXPECT_EQ(admin_service_->IssueAccessKey(alice_, "carol").status().code(),
            "InvalidUser.NotFound");
  EXPECT_EQ(admin_service_->IssueAccessKey(admin_, "nobody").status().code(),
            "InvalidUser.NotFound");
  auto second = admin_service_->IssueAccessKey(admin_, "carol");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*Authenticator(*store_).ForAccessKey(second->id))->caller.user, "carol");
}

}  // namespace
}  // namespace vbs
