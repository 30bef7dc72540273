// Disabling, enabling, deleting and re-roling users, access keys, and what the
// Authenticator makes of each change on the very next request.
#include <gtest/gtest.h>

#include <map>

#include "common/clock.h"
#include "core/admin_service.h"
#include "core/authenticator.h"
#include "core/core_test_util.h"

namespace vbs {
namespace {

class AdminUsersTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    admin_service_ = std::make_unique<AdminService>(*store_);
    auth_ = std::make_unique<Authenticator>(*store_);
    ASSERT_TRUE(admin_service_->RecordUser("root", true).ok());
    auto carol = admin_service_->CreateUser(admin_, "carol", false);
    ASSERT_TRUE(carol.ok()) << carol.status().ToString();
    carol_key_ = carol->access_key;
  }
  // A certificate of `name` as presented (by default one serial per name, issued long ago).
  static CertificateRecord Cert(const std::string& name, const std::string& serial = "",
                                int64_t issued_at = 1000) {
    return CertificateRecord{
        serial.empty() ? "5e" + name : serial, name, issued_at, issued_at + 86400, "valid", 0};
  }
  std::string CertCode(const std::string& name, bool admin_cert = false) {
    return CodeOf(Cert(name), admin_cert);
  }
  std::string CodeOf(const CertificateRecord& cert, bool admin_cert = false) {
    auto c = auth_->ForCertificate(cert, admin_cert);
    return c.ok() ? (c->admin ? "admin" : "user") : c.status().code();
  }
  std::string KeyCode(const std::string& id) {
    auto o = auth_->ForAccessKey(id);
    if (!o.ok()) return o.status().code();
    if (!o->has_value()) return "none";
    return (*o)->standing.ok() ? (*o)->caller.user : (*o)->standing.code();
  }
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<Authenticator> auth_;
  AccessKeyRecord carol_key_;
  Caller carol_{"carol", false};
};

TEST_F(AdminUsersTest, DisableHoldsFromTheNextLookupAndEnableUndoesIt) {
  EXPECT_EQ(CertCode("carol"), "user");
  EXPECT_EQ(KeyCode(carol_key_.id), "carol");
  auto off = admin_service_->SetUserState(admin_, "carol", "disabled");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->state, "disabled");
  EXPECT_EQ(CertCode("carol"), "UserDisabled");
  EXPECT_EQ(auth_->ForCertificate(Cert("carol"), false).status().kind(),
            StatusKind::kPermissionDenied);
  EXPECT_EQ(KeyCode(carol_key_.id), "UserDisabled");
  ASSERT_TRUE(admin_service_->SetUserState(admin_, "carol", "active").ok());
  EXPECT_EQ(CertCode("carol"), "user");
  EXPECT_EQ(KeyCode(carol_key_.id), "carol");
}

TEST_F(AdminUsersTest, TheRoleIsTheDatabasesNotTheCertificates) {
  // An admin certificate of a plain user is a plain user; promotion needs no new certificate.
  EXPECT_EQ(CertCode("carol", /*admin_cert=*/true), "user");
  ASSERT_TRUE(admin_service_->SetUserRole(admin_, "carol", "admin").ok());
  EXPECT_EQ(CertCode("carol"), "admin");
  EXPECT_EQ(KeyCode(carol_key_.id), "carol");
  EXPECT_TRUE((*auth_->ForAccessKey(carol_key_.id))->caller.admin);
  ASSERT_TRUE(admin_service_->SetUserRole(admin_, "carol", "user").ok());
  EXPECT_EQ(CertCode("carol", true), "user");
  EXPECT_EQ(admin_service_->SetUserRole(admin_, "carol", "root").status().code(),
            "InvalidParameterValue");
}

TEST_F(AdminUsersTest, OnlyAdminsManageUsers) {
  EXPECT_EQ(admin_service_->SetUserState(carol_, "carol", "disabled").status().code(),
            "UnauthorizedOperation");
  EXPECT_EQ(admin_service_->SetUserRole(carol_, "carol", "admin").status().code(),
            "UnauthorizedOperation");
  EXPECT_EQ(admin_service_->DeleteUser(carol_, "root").status().code(), "UnauthorizedOperation");
  EXPECT_EQ(CertCode("carol"), "user");
  EXPECT_EQ(admin_service_->SetUserState(admin_, "nobody", "disabled").status().code(),
            "InvalidUser.NotFound");
  EXPECT_EQ(admin_service_->SetUserState(admin_, "carol", "gone").status().code(),
            "InvalidParameterValue");
}

TEST_F(AdminUsersTest, TheLastActiveAdminStays) {
  EXPECT_EQ(admin_service_->SetUserState(admin_, "root", "disabled").status().code(), "LastAdmin");
  EXPECT_EQ(admin_service_->SetUserRole(admin_, "root", "user").status().code(), "LastAdmin");
  EXPECT_EQ(admin_service_->DeleteUser(admin_, "root").status().code(), "LastAdmin");
  EXPECT_EQ(CertCode("root"), "admin");
  ASSERT_TRUE(admin_service_->SetUserRole(admin_, "carol", "admin").ok());
  EXPECT_TRUE(admin_service_->SetUserState(admin_, "root", "disabled").ok());
  EXPECT_EQ(CertCode("root", true), "UserDisabled");
}

TEST_F(AdminUsersTest, DeletedUsersStayRefusedAndTheirNameIsNeverReissued) {
  MustCreate(Caller{"carol", false}, 1 << 20);
  EXPECT_EQ(admin_service_->DeleteUser(admin_, "carol").status().code(), "DeleteConflict");
  EXPECT_EQ(CertCode("carol"), "user");
  auto vols = admin_service_->ShowUser(admin_, "carol");
  ASSERT_TRUE(vols.ok());

  ASSERT_TRUE(admin_service_->CreateUser(admin_, "dave", false).ok());
  auto gone = admin_service_->DeleteUser(admin_, "dave");
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(gone->state, "deleted");
  EXPECT_EQ(CertCode("dave"), "UserDeleted");
  EXPECT_EQ(auth_->ForCertificate(Cert("dave"), false).status().kind(),
            StatusKind::kUnauthenticated);
  EXPECT_EQ(admin_service_->CreateUser(admin_, "dave", false).status().code(), "UserAlreadyExists");
  EXPECT_EQ(admin_service_->DeleteUser(admin_, "dave").status().code(), "InvalidUser.NotFound");
  EXPECT_EQ(admin_service_->SetUserState(admin_, "dave", "active").status().code(),
            "InvalidUser.NotFound");
  auto keys = admin_service_->ShowUser(admin_, "dave");
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->access_keys.empty()) << "a deleted user's keys are deleted with them";
}

TEST_F(AdminUsersTest, UsersRotateTheirOwnKeysOnly) {
  auto fresh = admin_service_->IssueAccessKey(carol_, "carol");
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(KeyCode(fresh->id), "carol");
  auto listed = admin_service_->ListAccessKeys(carol_, "carol");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  for (const auto& k : *listed) EXPECT_TRUE(k.secret.empty()) << "lists never carry secrets";
  ASSERT_TRUE(admin_service_->DeleteAccessKey(carol_, "carol", carol_key_.id).ok());
  EXPECT_EQ(KeyCode(carol_key_.id), "none");
  EXPECT_EQ(KeyCode(fresh->id), "carol");
  // Another user's keys: as if the user did not exist, and nothing changes.
  EXPECT_EQ(admin_service_->ListAccessKeys(alice_, "carol").status().code(),
            "InvalidUser.NotFound");
  EXPECT_EQ(admin_service_->DeleteAccessKey(alice_, "carol", fresh->id).code(),
            "InvalidUser.NotFound");
  EXPECT_EQ(admin_service_->DeleteAccessKey(admin_, "root", fresh->id).code(),
            "InvalidAccessKeyId.NotFound");
  EXPECT_EQ(KeyCode(fresh->id), "carol");
  for (int i = 1; i < kMaxAccessKeysPerUser; ++i) {
    ASSERT_TRUE(admin_service_->IssueAccessKey(carol_, "carol").ok());
  }
  EXPECT_EQ(admin_service_->IssueAccessKey(carol_, "carol").status().code(), "LimitExceeded");
}

TEST_F(AdminUsersTest, ACertificateOfAnUnknownNameEnrolsItOnce) {
  EXPECT_EQ(CertCode("boss", /*admin_cert=*/true), "admin");  // vbsd pki issue --role admin
  auto boss = admin_service_->ShowUser(admin_, "boss");
  ASSERT_TRUE(boss.ok());
  EXPECT_EQ(boss->user.role, "admin");
  // From then on the record rules, whatever the certificate says.
  ASSERT_TRUE(admin_service_->SetUserRole(admin_, "boss", "user").ok());
  EXPECT_EQ(CertCode("boss", true), "user");
}

}  // namespace
}  // namespace vbs

namespace vbs {
namespace {

TEST_F(AdminUsersTest, ReissueRevokesEveryOlderCertificateAndRecordsTheNewOne) {
  const int64_t now_s = NowMillis() / 1000;
  // Seen once: recorded at first sight (an offline-issued certificate).
  EXPECT_EQ(CodeOf(Cert("carol", "aa01")), "user");
  Caller root{"root", true};
  auto shown = admin_service_->ShowUser(root, "carol");
  ASSERT_TRUE(shown.ok());
  ASSERT_EQ(shown->certificates.size(), 1u);
  EXPECT_EQ(shown->certificates[0].serial, "aa01");

  // A user may not revoke; nothing changes.
  EXPECT_EQ(
      admin_service_->ReplaceCertificates(carol_, "carol", Cert("carol", "bb02", now_s)).code(),
      "UnauthorizedOperation");
  EXPECT_EQ(CodeOf(Cert("carol", "aa01")), "user");

  ASSERT_TRUE(
      admin_service_->ReplaceCertificates(root, "carol", Cert("carol", "bb02", now_s)).ok());
  EXPECT_EQ(CodeOf(Cert("carol", "aa01")), "CertificateRevoked");  // recorded, revoked
  EXPECT_EQ(auth_->ForCertificate(Cert("carol", "aa01"), false).status().kind(),
            StatusKind::kUnauthenticated);
  EXPECT_EQ(CodeOf(Cert("carol", "cc03", now_s - 60)), "CertificateRevoked");  // never seen
  EXPECT_EQ(CodeOf(Cert("carol", "bb02", now_s)), "user");                     // the new one
  // Issued offline after the revocation: admitted and recorded.
  EXPECT_EQ(CodeOf(Cert("carol", "dd04", now_s + 5)), "user");
  shown = admin_service_->ShowUser(root, "carol");
  ASSERT_TRUE(shown.ok());
  std::map<std::string, std::string> states;
  for (const auto& c : shown->certificates) states[c.serial] = c.state;
  EXPECT_EQ(states, (std::map<std::string, std::string>{
                        {"aa01", "revoked"}, {"bb02", "valid"}, {"dd04", "valid"}}));
  // A serial recorded for carol is no one else's.
  EXPECT_EQ(CodeOf(Cert("dave", "bb02", now_s)), "CertificateRevoked");
}

TEST_F(AdminUsersTest, RevokeWithoutReplacementRefusesAllOfTheUsersCertificates) {
  Caller root{"root", true};
  EXPECT_EQ(CodeOf(Cert("carol", "aa01")), "user");
  EXPECT_EQ(CodeOf(Cert("carol", "aa02")), "user");
  auto revoked = admin_service_->RevokeCertificates(root, "carol");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 2);
  EXPECT_EQ(CodeOf(Cert("carol", "aa01")), "CertificateRevoked");
  EXPECT_EQ(CodeOf(Cert("carol", "aa02")), "CertificateRevoked");
  EXPECT_EQ(CertCode("root", true), "admin");  // others untouched
  EXPECT_EQ(admin_service_->RevokeCertificates(root, "nobody").status().code(),
            "InvalidUser.NotFound");
  // Certificates do not stand in for the access keys: those are deleted separately.
  EXPECT_EQ(KeyCode(carol_key_.id), "carol");
}

}  // namespace
}  // namespace vbs
