#include "cli/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli/errors.h"

namespace vbs::cli {
namespace {

namespace fs = std::filesystem;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vbs-cli-cred-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0);
    return st.st_mode & 0777;
  }
  std::string dir;
};

TEST_F(CredentialsTest, WritesThreeFilesWithTheKeyPrivate) {
  auto plan = PlanCredentialFiles(dir, "alice", false, "CA");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->cert, dir + "/alice.crt");
  EXPECT_EQ(plan->key, dir + "/alice.key");
  EXPECT_EQ(plan->ca, dir + "/ca.crt");
  ASSERT_TRUE(WriteCredentialFiles(*plan, "CERT", "KEY", "CA", false).ok());
  EXPECT_EQ(*ReadWholeFile(plan->key), "KEY");
  EXPECT_EQ(*ReadWholeFile(plan->cert), "CERT");
  EXPECT_EQ(*ReadWholeFile(plan->ca), "CA");
  EXPECT_EQ(Mode(plan->key), 0600u);
  EXPECT_EQ(Mode(plan->cert), 0644u);
  // No temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 3);
}

TEST_F(CredentialsTest, AwsCredentialsFileIsPrivateAndNeverOverwritten) {
  auto plan = PlanCredentialFiles(dir, "alice", false, "CA");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->aws, dir + "/alice.aws-credentials");
  ASSERT_TRUE(WriteAwsCredentialsFile(*plan, "AKIAEXAMPLE", "se/cr+et", false).ok());
  EXPECT_EQ(*ReadWholeFile(plan->aws),
            "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = se/cr+et\n");
  EXPECT_EQ(Mode(plan->aws), 0600u);
  EXPECT_FALSE(WriteAwsCredentialsFile(*plan, "AKIAOTHER", "x", false).ok());
  EXPECT_FALSE(PlanCredentialFiles(dir, "alice", false, "CA").ok());  // checked up front
}

TEST_F(CredentialsTest, RefusesToOverwriteWithoutForce) {
  std::ofstream(dir + "/alice.key") << "old";
  auto plan = PlanCredentialFiles(dir, "alice", false, "CA");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(ExitCodeFor(plan.status()), kExitUsage);
  EXPECT_NE(plan.status().message().find("--force"), std::string::npos);

  auto forced = PlanCredentialFiles(dir, "alice", true, "CA");
  ASSERT_TRUE(forced.ok());
  chmod((dir + "/alice.key").c_str(), 0644);
  ASSERT_TRUE(WriteCredentialFiles(*forced, "CERT", "NEWKEY", "CA", true).ok());
  EXPECT_EQ(*ReadWholeFile(dir + "/alice.key"), "NEWKEY");
  EXPECT_EQ(Mode(dir + "/alice.key"), 0600u);  // tightened, not inherited
}

TEST_F(CredentialsTest, SameCaIsNotAConflictAnotherIs) {
  std::ofstream(dir + "/ca.crt") << "CA";
  auto plan = PlanCredentialFiles(dir, "bob", false, "CA");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_TRUE(WriteCredentialFiles(*plan, "CERT", "KEY", "CA", false).ok());
  EXPECT_FALSE(PlanCredentialFiles(dir, "carol", false, "OTHER CA").ok());
}

TEST_F(CredentialsTest, RejectsBadNamesAndDirectories) {
  for (const char* bad : {"../evil", "a/b", "", ".hidden", "x y"}) {
    auto plan = PlanCredentialFiles(dir, bad, false, "CA");
    EXPECT_FALSE(plan.ok()) << bad;
    EXPECT_EQ(ExitCodeFor(plan.status()), kExitUsage) << bad;
  }
  std::ofstream(dir + "/file") << "x";
  EXPECT_FALSE(PlanCredentialFiles(dir + "/file", "alice", false, "CA").ok());
}

TEST_F(CredentialsTest, CreatesAMissingDirectoryPrivate) {
  auto plan = PlanCredentialFiles(dir + "/new/alice", "alice", false, "CA");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(fs::is_directory(dir + "/new/alice"));
  EXPECT_EQ(Mode(dir + "/new/alice"), 0700u);
}

TEST(ShellQuote, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(ShellQuote("/home/a/ca.crt"), "/home/a/ca.crt");
  EXPECT_EQ(ShellQuote("https://h:1,https://g:2"), "https://h:1,https://g:2");
  EXPECT_EQ(ShellQuote("/my dir/it's"), "'/my dir/it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

}  // namespace
}  // namespace vbs::cli
