#include "cli/args.h"

#include <gtest/gtest.h>

#include "cli/errors.h"

namespace vbs::cli {
namespace {

TEST(ParseTag, SplitsAtTheFirstEquals) {
  auto t = ParseTag("Name=db");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->first, "Name");
  EXPECT_EQ(t->second, "db");
  auto eq = ParseTag("expr=a=b");
  ASSERT_TRUE(eq.ok());
  EXPECT_EQ(eq->first, "expr");
  EXPECT_EQ(eq->second, "a=b");
  auto empty_value = ParseTag("k=");
  ASSERT_TRUE(empty_value.ok());
  EXPECT_EQ(empty_value->second, "");
}

TEST(ParseTag, RejectsMissingEqualsAndEmptyKey) {
  auto no_eq = ParseTag("Name");
  ASSERT_FALSE(no_eq.ok());
  EXPECT_EQ(ExitCodeFor(no_eq.status()), kExitUsage);
  EXPECT_NE(no_eq.status().message().find("KEY=VALUE"), std::string::npos);
  auto no_key = ParseTag("=db");
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.status().message().find("empty key"), std::string::npos);
  EXPECT_FALSE(ParseTag("").ok());
}

TEST(ParseTags, MergesNameAndRejectsDuplicates) {
  auto tags = ParseTags({"env=prod", "team=db"}, "db1");
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->size(), 3u);
  EXPECT_EQ(tags->at("Name"), "db1");
  EXPECT_FALSE(ParseTags({"a=1", "a=2"}).ok());
  EXPECT_FALSE(ParseTags({"Name=x"}, "y").ok());
  auto none = ParseTags({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(CheckVolumeSize, AcceptsMiBMultiplesOnly) {
  EXPECT_EQ(*CheckVolumeSize("10G"), 10ull << 30);
  EXPECT_EQ(*CheckVolumeSize("512M"), 512ull << 20);
  EXPECT_EQ(*CheckVolumeSize("1048576"), 1ull << 20);
  for (const char* bad : {"", "ten", "-1G", "1.5G", "10X", "0", "1000", "1K", "99999999999999T"}) {
    auto r = CheckVolumeSize(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(ExitCodeFor(r.status()), kExitUsage) << bad;
  }
  EXPECT_NE(CheckVolumeSize("1000").status().message().find("1 MiB"), std::string::npos);
}

TEST(CheckOneOf, ListsTheChoices) {
  EXPECT_TRUE(CheckOneOf("--state", "available", {"available", "error"}).ok());
  Status s = CheckOneOf("--state", "bogus", {"available", "error"});
  EXPECT_EQ(s.message(), "invalid --state 'bogus': expected one of available, error");
}

}  // namespace
}  // namespace vbs::cli
