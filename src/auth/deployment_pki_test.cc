// DeploymentPki with the CA key kept offline: the files an operator put there are used, a
// missing one is a clear error, and nothing is ever issued from a new CA behind their back.
#include "auth/deployment_pki.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace vbs {
namespace {

class DeploymentPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/deployment_pki_test.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DeploymentPkiTest, WithoutTheCaKeyExistingFilesServeAndMissingOnesAreAnError) {
  DeploymentPki pki(dir_ + "/pki");
  auto server = pki.EnsureServer({"127.0.0.1"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto ca_pem = ReadFile(server->ca_cert);
  auto server_pem = ReadFile(server->cert);
  ASSERT_TRUE(ca_pem.ok() && server_pem.ok());
  ASSERT_EQ(::unlink(server->ca_key.c_str()), 0);  // the CA key moves offline

  auto held = pki.LoadCa();
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_FALSE(held->has_value());
  EXPECT_EQ(pki.EnsureCa().status().code(), "CertificateAuthorityOffline");
  // Other names than the certificate was made for: without the CA it is used as it is.
  auto again = pki.EnsureServer({"127.0.0.1", "vbs.example"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*ReadFile(again->cert), *server_pem);
  auto admin = pki.EnsureAdmin();
  ASSERT_FALSE(admin.ok());
  EXPECT_EQ(admin.status().code(), "CertificateAuthorityOffline");
  EXPECT_NE(admin.status().message().find("vbsd pki issue --role admin --name admin"),
            std::string::npos)
      << admin.status().message();
  // The CA certificate was not replaced by a new CA.
  EXPECT_EQ(*ReadFile(dir_ + "/pki/ca.crt"), *ca_pem);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pki/ca.key"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/pki/admin.crt"));
}

TEST_F(DeploymentPkiTest, AKeyWithoutItsCertificateIsRefused) {
  DeploymentPki pki(dir_ + "/pki");
  ASSERT_TRUE(pki.EnsureCa().ok());
  ASSERT_EQ(::unlink((dir_ + "/pki/ca.crt").c_str()), 0);
  auto ca = pki.LoadCa();
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.status().code(), "InvalidConfiguration");
}

}  // namespace
}  // namespace vbs
