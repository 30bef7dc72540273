#include "common/log_context.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace vbs {
namespace {

class LogContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    logger_ = std::make_shared<spdlog::logger>("t", sink);
    spdlog::register_logger(logger_);
  }
  void TearDown() override {
    spdlog::drop("t");
    ConfigureLogging(LogFormat::kText);
  }
  std::string Take() {
    logger_->flush();
    std::string s = out_.str();
    out_.str("");
    return s;
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> logger_;
};

TEST_F(LogContextTest, ScopesNestAndEnd) {
  EXPECT_TRUE(CurrentLogFields().empty());
  {
    LogScope outer({{"request_id", "r1"}, {"user", "alice"}, {"empty", ""}});
    EXPECT_EQ(CurrentLogField("request_id"), "r1");
    EXPECT_EQ(CurrentLogField("empty"), "");  // empty values are not kept
    {
      LogScope inner({{"volume", "vol-1"}, {"user", "bob"}});
      EXPECT_EQ(CurrentLogField("user"), "bob");
      EXPECT_EQ(CurrentLogField("volume"), "vol-1");
    }
    EXPECT_EQ(CurrentLogField("user"), "alice");
    EXPECT_EQ(CurrentLogField("volume"), "");
  }
  EXPECT_TRUE(CurrentLogFields().empty());
}

TEST_F(LogContextTest, TextLinesCarryTheContext) {
  ConfigureLogging(LogFormat::kText);
  logger_->info("no context");
  std::string line = Take();
  EXPECT_NE(line.find("[t] [info] no context\n"), std::string::npos) << line;
  LogScope scope({{"request_id", "r1"}, {"volume", "vol-1"}});
  logger_->warn("created");
  line = Take();
  EXPECT_NE(line.find("[warning] created {request_id=r1 volume=vol-1}\n"), std::string::npos)
      << line;
}

TEST_F(LogContextTest, JsonLinesAreObjectsWithTheContext) {
  ConfigureLogging(LogFormat::kJson);
  LogScope scope({{"request_id", "r1"}, {"message", "not a field to overwrite"}});
  logger_->error("quote \" newline \n and bad utf-8 \xff end");
  const std::string line = Take();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per record";
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["logger"], "t");
  EXPECT_EQ(j["request_id"], "r1");
  EXPECT_EQ(j["message"].get<std::string>().substr(0, 23), "quote \" newline \n and b");
  EXPECT_TRUE(j["thread"].is_number());
  EXPECT_EQ(j["time"].get<std::string>().size(), 24u);  // 2026-12-07T01:02:03.456Z
}

TEST(LogFormatTest, ParsesTheTwoNames) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  auto bad = ParseLogFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'xml'"), std::string::npos);
}

}  // namespace
}  // namespace vbs
