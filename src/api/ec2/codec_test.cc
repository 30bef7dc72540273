// Unit tests of the EC2 face's pieces: parameters, filters, pagination tokens, XML.
#include <gtest/gtest.h>

#include "api/ec2/errors.h"
#include "api/ec2/filters.h"
#include "api/ec2/pagination.h"
#include "api/ec2/params.h"
#include "api/ec2/xml_writer.h"
#include "api/http_server.h"

namespace vbs::ec2 {
namespace {

Params FromForm(const std::string& body) {
  auto q = ParseQuery(body);
  EXPECT_TRUE(q.ok());
  return Params(*q);
}

TEST(Ec2Params, FormEncodingAsBotocoreSendsIt) {
  auto p = FromForm("Action=CreateSnapshot&Description=a+b%2Bc%2Fd%26e%3Df+%C3%BC~%2A");
  EXPECT_EQ(*p.Get("Description"), "a b+c/d&e=f \xc3\xbc~*");
  EXPECT_EQ(p.Required("VolumeId").status().code(), "MissingParameter");
}

TEST(Ec2Params, ListsInNumericOrderAndMalformedIndexes) {
  auto p = FromForm("VolumeId.10=c&VolumeId.2=b&VolumeId.1=a");
  EXPECT_EQ(*p.List("VolumeId"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(FromForm("VolumeId.x=a").List("VolumeId").status().code(), "InvalidParameterValue");
  EXPECT_EQ(FromForm("VolumeId.0=a").List("VolumeId").status().code(), "InvalidParameterValue");
  EXPECT_TRUE(FromForm("Other=1").List("VolumeId")->empty());
}

TEST(Ec2Params, ScalarsAreChecked) {
  auto p = FromForm("Size=10&Bad=1x&DryRun=true&Odd=yes");
  EXPECT_EQ(**p.Int("Size"), 10);
  EXPECT_FALSE(p.Int("Missing")->has_value());
  EXPECT_EQ(p.Int("Bad").status().code(), "InvalidParameterValue");
  EXPECT_TRUE(*p.Bool("DryRun"));
  EXPECT_FALSE(*p.Bool("Missing"));
  EXPECT_EQ(p.Bool("Odd").status().code(), "InvalidParameterValue");
}

TEST(Ec2Params, FiltersAndTags) {
  auto p = FromForm(
      "Filter.1.Name=status&Filter.1.Value.1=in-use&Filter.1.Value.2=available"
      "&Filter.2.Name=tag%3AName&Filter.2.Value.1=test"
      "&Tag.1.Key=a&Tag.2.Key=c&Tag.2.Value="
      "&TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=Name"
      "&TagSpecification.1.Tag.1.Value=db");
  auto f = p.Filters();
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ(f->at(0).values, (std::vector<std::string>{"in-use", "available"}));
  EXPECT_EQ(f->at(1).name, "tag:Name");
  auto tags = p.TagRefs("Tag");
  ASSERT_EQ(tags->size(), 2u);
  EXPECT_FALSE(tags->at(0).value.has_value());  // absent: any value
  EXPECT_EQ(tags->at(1).value, "");             // empty: only the empty value
  EXPECT_EQ(*p.SpecifiedTags("volume"), (Tags{{"Name", "db"}}));
  EXPECT_EQ(p.SpecifiedTags("snapshot").status().code(), "InvalidParameterValue");
  EXPECT_EQ(FromForm("Filter.1.Name=status").Filters().status().code(), "MissingParameter");
}

TEST(Ec2Filters, Wildcards) {
  EXPECT_TRUE(WildcardMatch("*", ""));
  EXPECT_TRUE(WildcardMatch("vol-*", "vol-0123"));
  EXPECT_TRUE(WildcardMatch("d?", "db"));
  EXPECT_FALSE(WildcardMatch("d?", "d"));
  EXPECT_TRUE(WildcardMatch("a*b*c", "axxbyyc"));
  EXPECT_FALSE(WildcardMatch("a*b*c", "axxbyy"));
  EXPECT_TRUE(WildcardMatch("\\*", "*"));
  EXPECT_FALSE(WildcardMatch("\\*", "x"));
  EXPECT_FALSE(WildcardMatch("DB", "db"));  // case-sensitive
}

TEST(Ec2Filters, AndAcrossNamesOrAcrossValues) {
  Tags tags = {{"Name", "db"}, {"env", "prod"}};
  auto fields = [](const std::string& n) -> std::vector<std::string> {
    if (n == "status") return {"available"};
    return {};
  };
  auto match = [&](std::vector<Filter> f) { return MatchesFilters(f, fields, tags); };
  EXPECT_TRUE(match({{"status", {"in-use", "available"}}}));
  EXPECT_FALSE(match({{"status", {"in-use"}}}));
  EXPECT_TRUE(match({{"status", {"available"}}, {"tag:Name", {"d*"}}}));
  EXPECT_FALSE(match({{"status", {"available"}}, {"tag:Name", {"web"}}}));
  EXPECT_TRUE(match({{"tag-key", {"env"}}}));
  EXPECT_FALSE(match({{"tag:missing", {"*"}}}));
  EXPECT_EQ(CheckFilterNames({{"statsu", {"x"}}}, {"status"}, true).code(),
            "InvalidParameterValue");
  EXPECT_TRUE(CheckFilterNames({{"tag:Name", {"x"}}, {"tag-key", {"x"}}}, {}, true).ok());
  EXPECT_FALSE(CheckFilterNames({{"tag:Name", {"x"}}}, {}, false).ok());
}

TEST(Ec2Pagination, PagesMoveForwardAndTokensAreSealed) {
  Paginator pages("server-key");
  std::vector<std::string> ids = {"a", "b", "c", "d", "e", "f", "g"};
  auto first = pages.Select(ids, 5, std::nullopt, "scope");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->begin, 0u);
  EXPECT_EQ(first->end, 5u);
  ASSERT_TRUE(first->next_token);
  auto second = pages.Select(ids, 5, first->next_token, "scope");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->begin, 5u);
  EXPECT_EQ(second->end, 7u);
  EXPECT_FALSE(second->next_token);
  EXPECT_EQ(pages.Select(ids, std::nullopt, std::nullopt, "scope")->end, 7u);

  std::string bad = *first->next_token;
  bad[0] = bad[0] == '6' ? '7' : '6';  // another id under the same seal
  EXPECT_EQ(pages.Select(ids, 5, bad, "scope").status().code(), "InvalidNextToken");
  EXPECT_EQ(pages.Select(ids, 5, first->next_token, "other scope").status().code(),
            "InvalidNextToken");
  EXPECT_EQ(Paginator("other key").Select(ids, 5, first->next_token, "scope").status().code(),
            "InvalidNextToken");
  EXPECT_EQ(pages.Select(ids, 5, std::string("garbage"), "scope").status().code(),
            "InvalidNextToken");
  EXPECT_EQ(pages.Select(ids, 4, std::nullopt, "scope").status().code(), "InvalidParameterValue");
}

TEST(Ec2Xml, EscapesAndErrorEnvelope) {
  XmlWriter x("DescribeVolumesResponse");
  x.Text("requestId", "r1").Open("volumeSet").Open("item").Text("d", "<a&b>").Empty("tagSet");
  EXPECT_EQ(x.Finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeVolumesResponse "
            "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r1</requestId>"
            "<volumeSet><item><d>&lt;a&amp;b&gt;</d><tagSet/></item></volumeSet>"
            "</DescribeVolumesResponse>\n");
  auto r = Ec2ErrorResponse(Status::NotFound("InvalidVolume.NotFound", "no 'x'"), "rid");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            "<Code>InvalidVolume.NotFound</Code><Message>no &apos;x&apos;</Message></Error>"
            "</Errors><RequestID>rid</RequestID></Response>\n");
  EXPECT_EQ(Ec2HttpStatus(DryRunAnswer(Status::Ok())), 412);
  EXPECT_EQ(DryRunAnswer(Status::NotFound("InvalidVolume.NotFound", "x")).code(),
            "UnauthorizedOperation");
  EXPECT_EQ(Ec2HttpStatus(Status::Unauthenticated("AuthFailure", "x")), 401);
  EXPECT_EQ(Ec2HttpStatus(Status::PermissionDenied("SignatureDoesNotMatch", "x")), 403);
  EXPECT_EQ(Ec2HttpStatus(Status::Conflict("IncorrectState", "x")), 400);
}

}  // namespace
}  // namespace vbs::ec2
