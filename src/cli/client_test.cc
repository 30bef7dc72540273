#include "cli/client.h"

#include <gtest/gtest.h>

#include "cli/errors.h"
#include "cli/test_fakes.h"

namespace vbs::cli {
namespace {

using testing::ErrorResponse;
using testing::FakeHttpsClient;
using testing::FakeServer;
using testing::JsonResponse;

class ClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
  ApiClient api{std::make_unique<FakeHttpsClient>(server), std::chrono::seconds(30)};

  void Answer(int status, const Json& body) {
    server->handler = [=](const testing::RecordedRequest&) -> Result<HttpsResponse> {
      return JsonResponse(status, body);
    };
  }
  const testing::RecordedRequest& Last() { return server->requests.back(); }
};

TEST_F(ClientTest, CreateVolumeSendsTheSizeAsTyped) {
  Answer(202, {{"id", "vol-1"}, {"state", "creating"}});
  VolumeCreateRequest req;
  req.size = "10G";
  req.tags = {{"Name", "db"}};
  auto v = api.CreateVolume(req);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*v)["id"], "vol-1");
  EXPECT_EQ(Last().method, "POST");
  EXPECT_EQ(Last().target, "/v1/volumes");
  EXPECT_EQ(Last().content_type, "application/json");
  EXPECT_EQ(Json::parse(Last().body), Json::parse(R"({"size":"10G","tags":{"Name":"db"}})"));

  VolumeCreateRequest from_snap;
  from_snap.snapshot_id = "snap-1";
  from_snap.pool = "fast";
  ASSERT_TRUE(api.CreateVolume(from_snap).ok());
  EXPECT_EQ(Json::parse(Last().body), Json::parse(R"({"snapshot_id":"snap-1","pool":"fast"})"));
}

TEST_F(ClientTest, ListsBuildQueriesAndUnwrapArrays) {
  Answer(200, {{"volumes", Json::array({{{"id", "vol-1"}}})}});
  VolumeFilter f;
  f.state = "available";
  f.tag = "Name=my db";
  f.all = true;
  auto v = api.ListVolumes(f);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->is_array());
  EXPECT_EQ(Last().target, "/v1/volumes?state=available&tag=Name%3Dmy%20db&all=true");
  EXPECT_EQ(Last().body, "");

  Answer(200, {{"snapshots", Json::array()}});
  SnapshotFilter sf;
  sf.volume_id = "vol-1";
  ASSERT_TRUE(api.ListSnapshots(sf).ok());
  EXPECT_EQ(Last().target, "/v1/snapshots?volume_id=vol-1");

  Answer(200, {{"pools", "not an array"}});
  auto bad = api.ListPools();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), kCodeBadResponse);
}

TEST_F(ClientTest, IdsCannotEscapeTheirPath) {
  Answer(200, Json::object());
  ASSERT_TRUE(api.GetVolume("../users?x=1").ok());
  EXPECT_EQ(Last().target, "/v1/volumes/..%2Fusers%3Fx%3D1");
  ASSERT_TRUE(api.ForceVolumeState("vol-1", "error").ok());
  EXPECT_EQ(Last().target, "/v1/volumes/vol-1/force-state");
  EXPECT_EQ(Json::parse(Last().body), Json::parse(R"({"state":"error"})"));
  ASSERT_TRUE(api.DeleteSnapshot("snap-1").ok());
  EXPECT_EQ(Last().method, "DELETE");
  EXPECT_EQ(Last().target, "/v1/snapshots/snap-1");
}

TEST_F(ClientTest, ServerErrorsKeepTheirCodeAndMessage) {
  server->handler = [](const testing::RecordedRequest&) -> Result<HttpsResponse> {
    return ErrorResponse(404, "InvalidVolume.NotFound", "The volume 'vol-1' does not exist.");
  };
  auto r = api.GetVolume("vol-1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(FormatError(r.status()),
            "error: InvalidVolume.NotFound: The volume 'vol-1' does not exist.");
  EXPECT_EQ(ExitCodeFor(r.status()), kExitServerError);
}

TEST_F(ClientTest, TransportFailuresAreUnreachable) {
  server->handler = [](const testing::RecordedRequest&) -> Result<HttpsResponse> {
    return Status::Unavailable("https://a:1: connection refused");
  };
  auto r = api.WhoAmI();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ExitCodeFor(r.status()), kExitUnreachable);
  EXPECT_EQ(FormatError(r.status()), "error: https://a:1: connection refused");
}

TEST_F(ClientTest, NonJsonSuccessIsABadResponse) {
  server->handler = [](const testing::RecordedRequest&) -> Result<HttpsResponse> {
    HttpsResponse r;
    r.status = 200;
    r.body = "<html>";
    return r;
  };
  auto r = api.WhoAmI();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), kCodeBadResponse);
  EXPECT_EQ(ExitCodeFor(r.status()), kExitServerError);
}

TEST(PercentEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(PercentEncode("vol-0aF_.~"), "vol-0aF_.~");
  EXPECT_EQ(PercentEncode("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
  EXPECT_EQ(QueryString({}), "");
}

}  // namespace
}  // namespace vbs::cli
