// vbs volume resize, and the latest resize in vbs volume show, against a fake server.
#include <gtest/gtest.h>

#include "cli/context.h"
#include "cli/errors.h"
#include "cli/test_fakes.h"

namespace vbs::cli {
namespace {

using testing::ErrorResponse;
using testing::JsonResponse;

const std::string kVol = "vol-0123456789abcdef0";
const std::string kVolPath = "/v1/volumes/vol-0123456789abcdef0";

Json Modification(const std::string& state, int progress, Json error = nullptr) {
  return {{"id", "mod-0123456789abcdef0"},
          {"volume_id", kVol},
          {"state", state},
          {"original_size", 1073741824ull},
          {"target_size", 2147483648ull},
          {"progress", progress},
          {"error", error},
          {"created_at", "2026-11-24T10:00:00Z"}};
}

Json VolumeWith(const Json& modification) {
  return {{"id", kVol},
          {"size", 2147483648ull},
          {"pool", "default"},
          {"state", "in-use"},
          {"tags", Json::object()},
          {"attachments", Json::array()},
          {"modification", modification}};
}

class ResizeTest : public testing::RoutedAppTest {};

TEST_F(ResizeTest, SendsTheSizeAsTypedAndPrintsTheModification) {
  Route("POST " + kVolPath + "/resize", {JsonResponse(202, Modification("modifying", 0))});
  EXPECT_EQ(h.Run({"volume", "resize", kVol, "2G"}), 0) << h.err;
  ASSERT_EQ(h.server->requests.size(), 1u);
  EXPECT_EQ(Json::parse(h.server->requests[0].body), Json::parse(R"({"size":"2G"})"));
  EXPECT_NE(h.out.find("state:    modifying\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("to:       2G\n"), std::string::npos) << h.out;
}

TEST_F(ResizeTest, ModifySendsTheLimitsAndShowsBothSides) {
  Json mod = Modification("optimizing", 50);
  mod["original_volume_type"] = "gp3";
  mod["target_volume_type"] = "gp3";
  mod["original_iops"] = 3000;
  mod["target_iops"] = 5000;
  mod["original_throughput"] = 125;
  mod["target_throughput"] = 125;
  Route("POST " + kVolPath + "/modify", {JsonResponse(202, mod)});
  EXPECT_EQ(h.Run({"volume", "modify", kVol, "--iops", "5000"}), 0) << h.err;
  ASSERT_EQ(h.server->requests.size(), 1u);
  EXPECT_EQ(Json::parse(h.server->requests[0].body), Json::parse(R"({"iops":5000})"));
  EXPECT_NE(h.out.find("from:     1G, gp3, 3000 IOPS, 125 MiB/s\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("to:       2G, gp3, 5000 IOPS, 125 MiB/s\n"), std::string::npos) << h.out;
  // Nothing to change is a usage error, before any request.
  EXPECT_EQ(h.Run({"volume", "modify", kVol}), kExitUsage);
  EXPECT_EQ(h.server->requests.size(), 1u);
}

TEST_F(ResizeTest, WaitFollowsTheModificationToCompleted) {
  Route("POST " + kVolPath + "/resize", {JsonResponse(202, Modification("modifying", 0))});
  Route("GET " + kVolPath, {JsonResponse(200, VolumeWith(Modification("optimizing", 50))),
                            JsonResponse(200, VolumeWith(Modification("completed", 100)))});
  EXPECT_EQ(h.Run({"volume", "resize", kVol, "2G", "--wait"}), 0) << h.err;
  EXPECT_NE(h.out.find("state:    completed\n"), std::string::npos) << h.out;
}

TEST_F(ResizeTest, WaitFailsWithTheModificationsError) {
  Route("POST " + kVolPath + "/resize", {JsonResponse(202, Modification("modifying", 0))});
  Route("GET " + kVolPath,
        {JsonResponse(200, VolumeWith(Modification("failed", 100, "resize failed: no space")))});
  EXPECT_EQ(h.Run({"volume", "resize", kVol, "2G", "--wait"}), kExitWaitFailed);
  EXPECT_NE(h.err.find("resize failed: no space"), std::string::npos) << h.err;
}

TEST_F(ResizeTest, BadInputIsAUsageErrorAndCallsNothing) {
  EXPECT_EQ(h.Run({"volume", "resize", kVol, "ten"}), kExitUsage);
  EXPECT_EQ(h.Run({"volume", "resize", kVol, "1000"}), kExitUsage);  // not a MiB multiple
  EXPECT_EQ(h.Run({"volume", "resize", kVol}), kExitUsage);
  EXPECT_TRUE(h.server->requests.empty());
}

TEST_F(ResizeTest, ServerRefusalIsShown) {
  Route("POST " + kVolPath + "/resize",
        {ErrorResponse(400, "InvalidParameterValue", "volumes only grow: 1G is not larger")});
  EXPECT_EQ(h.Run({"volume", "resize", kVol, "1G"}), kExitServerError);
  EXPECT_NE(h.err.find("InvalidParameterValue"), std::string::npos) << h.err;
  EXPECT_NE(h.err.find("volumes only grow"), std::string::npos) << h.err;
}

TEST_F(ResizeTest, ShowIncludesTheLatestResize) {
  Route("GET " + kVolPath,
        {JsonResponse(200, VolumeWith(Modification("failed", 100, "resize failed: boom")))});
  EXPECT_EQ(h.Run({"volume", "show", kVol}), 0) << h.err;
  EXPECT_NE(h.out.find("resize:       mod-0123456789abcdef0 failed 1G → 2G\n"), std::string::npos)
      << h.out;
  EXPECT_NE(h.out.find("resize error: resize failed: boom\n"), std::string::npos) << h.out;
}

}  // namespace
}  // namespace vbs::cli
