// vbs attach | detach | instance list, whole command lines against a fake server.
#include <gtest/gtest.h>

#include "cli/context.h"
#include "cli/errors.h"
#include "cli/test_fakes.h"

namespace vbs::cli {
namespace {

using testing::ErrorResponse;
using testing::Harness;
using testing::JsonResponse;

const std::string kVol = "vol-0123456789abcdef0";
const std::string kVolPath = "/v1/volumes/vol-0123456789abcdef0";

Json Attachment(const std::string& state) {
  Json a = {{"id", "att-0123456789abcdef0"},
            {"volume_id", kVol},
            {"instance_id", "host-local"},
            {"node", "local"},
            {"mode", "rw"},
            {"device", "vbs-0123456789abcdef0"},
            {"state", state},
            {"export_name", nullptr},
            {"nbd_uri", nullptr},
            {"error", nullptr},
            {"created_at", "2026-11-24T10:00:00Z"}};
  if (state == "attached" || state == "detaching") {
    a["export_name"] = "e1";
    a["nbd_uri"] = "nbd+unix:///e1?socket=/data/nbd.sock";
  }
  return a;
}

Json VolumeWith(const std::vector<Json>& attachments) {
  return {{"id", kVol},
          {"size", 1073741824ull},
          {"pool", "default"},
          {"state", attachments.empty() ? "available" : "in-use"},
          {"tags", Json::object()},
          {"attachments", attachments}};
}

class AttachTest : public testing::RoutedAppTest {
 protected:
  Json Body(size_t i) { return Json::parse(h.server->requests.at(i).body); }
};

TEST_F(AttachTest, AttachSendsModeAndDeviceAndPrintsTheAttachment) {
  Route("POST " + kVolPath + "/attach", {JsonResponse(202, Attachment("attaching"))});
  EXPECT_EQ(h.Run({"attach", kVol, "host-local", "--mode", "ro", "--device", "data"}), 0) << h.err;
  ASSERT_EQ(h.server->requests.size(), 1u);
  EXPECT_EQ(Body(0), Json::parse(R"({"instance_id":"host-local","mode":"ro","device":"data"})"));
  EXPECT_NE(h.out.find("state:    attaching\n"), std::string::npos) << h.out;
  // Without options only the instance is sent: the server's default mode (rw) applies.
  EXPECT_EQ(h.Run({"attach", kVol, "host-local"}), 0) << h.err;
  EXPECT_EQ(Body(1), Json::parse(R"({"instance_id":"host-local"})"));
}

TEST_F(AttachTest, AttachWaitFollowsTheAttachmentAndPrintsTheNbdUri) {
  Route("POST " + kVolPath + "/attach", {JsonResponse(202, Attachment("attaching"))});
  Route("GET " + kVolPath, {JsonResponse(200, VolumeWith({Attachment("attaching")})),
                            JsonResponse(200, VolumeWith({Attachment("attached")}))});
  EXPECT_EQ(h.Run({"attach", kVol, "host-local", "--wait"}), 0) << h.err;
  EXPECT_NE(h.out.find("state:    attached\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("nbd uri:  nbd+unix:///e1?socket=/data/nbd.sock\n"), std::string::npos)
      << h.out;
  EXPECT_EQ(h.err, "att-0123456789abcdef0: attaching\natt-0123456789abcdef0: attached\n");
  EXPECT_EQ(h.Run({"-o", "json", "attach", kVol, "host-local", "--wait"}), 0) << h.err;
  EXPECT_EQ(Json::parse(h.out)["nbd_uri"], "nbd+unix:///e1?socket=/data/nbd.sock");
}

TEST_F(AttachTest, AttachWaitFailsWhenTheAttachmentDisappears) {
  Route("POST " + kVolPath + "/attach", {JsonResponse(202, Attachment("attaching"))});
  Route("GET " + kVolPath, {JsonResponse(200, VolumeWith({}))});
  EXPECT_EQ(h.Run({"attach", kVol, "host-local", "--wait"}), kExitWaitFailed);
  EXPECT_NE(h.err.find("error: att-0123456789abcdef0 ended in state detached: the attach failed"),
            std::string::npos)
      << h.err;
  EXPECT_NE(h.out.find("state:    detached\n"), std::string::npos) << h.out;
}

TEST_F(AttachTest, AttachWaitTimesOutNamingTheVolume) {
  Route("POST " + kVolPath + "/attach", {JsonResponse(202, Attachment("attaching"))});
  Route("GET " + kVolPath, {JsonResponse(200, VolumeWith({Attachment("attaching")}))});
  EXPECT_EQ(h.Run({"--timeout", "5", "attach", kVol, "host-local", "--wait"}), kExitWaitFailed);
  EXPECT_NE(h.err.find("still attaching (wanted attached)"), std::string::npos) << h.err;
  EXPECT_NE(h.err.find("vbs volume show " + kVol), std::string::npos) << h.err;
}

TEST_F(AttachTest, AttachErrors) {
  EXPECT_EQ(h.Run({"attach", kVol, "host-local", "--mode", "rx"}), kExitUsage);
  EXPECT_NE(h.err.find("--mode"), std::string::npos) << h.err;
  EXPECT_EQ(h.Run({"attach", kVol}), kExitUsage);  // INSTANCE is required
  EXPECT_TRUE(h.server->requests.empty());
  Route("POST " + kVolPath + "/attach",
        {ErrorResponse(409, "VolumeInUse", "a read-write attachment excludes every other")});
  EXPECT_EQ(h.Run({"attach", kVol, "host-local"}), kExitServerError);
  EXPECT_EQ(h.err, "error: VolumeInUse: a read-write attachment excludes every other\n");
}

TEST_F(AttachTest, AttachWaitReportsTheReasonOfAFailedAttach) {
  Json failed = Attachment("detached");
  failed["error"] = "attach failed: the VM 'i-0123456789abcdef0' is not running";
  Json volume = VolumeWith({});
  volume["failed_attachment"] = failed;
  Route("POST " + kVolPath + "/attach", {JsonResponse(202, Attachment("attaching"))});
  Route("GET " + kVolPath, {JsonResponse(200, volume)});
  EXPECT_EQ(h.Run({"attach", kVol, "host-local", "--wait"}), kExitWaitFailed);
  EXPECT_NE(h.err.find("ended in state detached: attach failed: the VM 'i-0123456789abcdef0' is "
                       "not running"),
            std::string::npos)
      << h.err;
  // volume show keeps showing it (until the next attach).
  EXPECT_EQ(h.Run({"volume", "show", kVol}), 0) << h.err;
  EXPECT_NE(h.out.find("last attach: host-local (rw) failed: attach failed: the VM"),
            std::string::npos)
      << h.out;
}

TEST_F(AttachTest, DetachSendsInstanceAndForce) {
  Route("POST " + kVolPath + "/detach", {JsonResponse(202, Attachment("detaching"))});
  EXPECT_EQ(h.Run({"detach", kVol}), 0) << h.err;
  EXPECT_EQ(Body(0), Json::object());
  EXPECT_EQ(h.Run({"detach", kVol, "host-local", "--force"}), 0) << h.err;
  EXPECT_EQ(Body(1), Json::parse(R"({"instance_id":"host-local","force":true})"));
  EXPECT_NE(h.out.find("state:    detaching\n"), std::string::npos) << h.out;
}

TEST_F(AttachTest, DetachWaitEndsWhenTheAttachmentIsGone) {
  Route("POST " + kVolPath + "/detach", {JsonResponse(202, Attachment("detaching"))});
  Route("GET " + kVolPath, {JsonResponse(200, VolumeWith({Attachment("detaching")})),
                            JsonResponse(200, VolumeWith({}))});
  EXPECT_EQ(h.Run({"detach", kVol, "--wait"}), 0) << h.err;
  EXPECT_NE(h.out.find("state:    detached\n"), std::string::npos) << h.out;
  EXPECT_EQ(h.err, "att-0123456789abcdef0: detaching\natt-0123456789abcdef0: detached\n");
}

TEST_F(AttachTest, DetachWaitFailsWhenTheNodeKeepsItAttached) {
  Json back = Attachment("attached");
  back["error"] = "detach failed: device busy";
  Route("POST " + kVolPath + "/detach", {JsonResponse(202, Attachment("detaching"))});
  Route("GET " + kVolPath, {JsonResponse(200, VolumeWith({back}))});
  EXPECT_EQ(h.Run({"detach", kVol, "--wait"}), kExitWaitFailed);
  EXPECT_NE(h.err.find("ended in state attached: detach failed: device busy"), std::string::npos)
      << h.err;
  Route("POST " + kVolPath + "/detach",
        {ErrorResponse(400, "InvalidParameterCombination", "name the one to detach from")});
  EXPECT_EQ(h.Run({"detach", kVol}), kExitServerError);
  EXPECT_NE(h.err.find("InvalidParameterCombination"), std::string::npos) << h.err;
}

TEST_F(AttachTest, InstanceListTableAndJsonArray) {
  Json list = {{"instances",
                {{{"id", "host-local"},
                  {"node", "local"},
                  {"kind", "host"},
                  {"state", "running"},
                  {"last_seen", "2026-11-24T10:00:00.5Z"}}}}};
  Route("GET /v1/instances", {JsonResponse(200, list)});
  EXPECT_EQ(h.Run({"instance", "list"}), 0) << h.err;
  EXPECT_EQ(h.out,
            "ID          NODE   KIND  OWNER  STATE    LAST SEEN\n"
            "host-local  local  host  -      running  2026-11-24T10:00:00Z\n");
  EXPECT_EQ(h.Run({"instance", "list", "-o", "json"}), 0) << h.err;
  EXPECT_EQ(Json::parse(h.out), list["instances"]);
  EXPECT_EQ(h.Run({"instance"}), kExitUsage);
}

TEST_F(AttachTest, VolumeShowAndListShowAttachments) {
  Route("GET " + kVolPath, {JsonResponse(200, VolumeWith({Attachment("attached")}))});
  EXPECT_EQ(h.Run({"volume", "show", kVol}), 0) << h.err;
  EXPECT_NE(h.out.find("host-local  rw    vbs-0123456789abcdef0  attached  "
                       "nbd+unix:///e1?socket=/data/nbd.sock\n"),
            std::string::npos)
      << h.out;
  Route("GET /v1/volumes",
        {JsonResponse(200, {{"volumes", {VolumeWith({Attachment("attached")})}}})});
  EXPECT_EQ(h.Run({"volume", "list"}), 0) << h.err;
  EXPECT_NE(h.out.find("in-use  host-local  default"), std::string::npos) << h.out;
}

}  // namespace
}  // namespace vbs::cli
