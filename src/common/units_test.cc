#include "common/units.h"

#include <gtest/gtest.h>

#include "common/ids.h"

namespace vbs {

TEST(ParseSize, AcceptsUnits) {
  EXPECT_EQ(*ParseSize("1048576"), 1048576u);
  EXPECT_EQ(*ParseSize("512M"), 512 * kMiB);
  EXPECT_EQ(*ParseSize("10G"), 10 * kGiB);
  EXPECT_EQ(*ParseSize("10g"), 10 * kGiB);
  EXPECT_EQ(*ParseSize("1T"), kTiB);
  EXPECT_EQ(*ParseSize("4KiB"), 4 * kKiB);
  EXPECT_EQ(*ParseSize("2GB"), 2 * kGiB);
  EXPECT_EQ(*ParseSize("0"), 0u);
}

TEST(ParseSize, RejectsMalformed) {
  for (const char* s : {"", "-1", "+5", "1.5G", "abc", "10X", "G", "10 G", "1Gx", "99999999999999999999",
                        "20000000P"}) {
    auto r = ParseSize(s);
    EXPECT_FALSE(r.ok()) << s;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), "InvalidParameterValue") << s;
    }
  }
}

TEST(FormatSize, Readable) {
  EXPECT_EQ(FormatSize(512), "512B");
  EXPECT_EQ(FormatSize(kMiB), "1M");
  EXPECT_EQ(FormatSize(3 * kGiB / 2), "1.5G");
  EXPECT_EQ(FormatSize(kTiB), "1T");
}

TEST(Ids, ShapeAndValidation) {
  std::string id = NewId("vol");
  EXPECT_TRUE(IsValidId(id, "vol")) << id;
  EXPECT_EQ(id.size(), 21u);
  EXPECT_NE(NewId("vol"), id);
  EXPECT_FALSE(IsValidId(id, "snap"));
  EXPECT_FALSE(IsValidId("vol-0123456789abcdef", "vol"));     // 16 digits
  EXPECT_FALSE(IsValidId("vol-0123456789ABCDEF0", "vol"));    // upper case
  EXPECT_FALSE(IsValidId("vol-0123456789abcdeg0", "vol"));    // not hex
  EXPECT_TRUE(IsValidId("snap-0123456789abcdef0", "snap"));
}

TEST(Names, Validation) {
  EXPECT_TRUE(IsValidName("alice"));
  EXPECT_TRUE(IsValidName("node-1.example_x"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("-x"));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName(std::string(64, 'a')));
}

}  // namespace vbs
