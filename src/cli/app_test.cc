// Whole command lines against a fake server: parsing, requests sent, output, exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "cli/context.h"
#include "cli/errors.h"
#include "cli/test_fakes.h"

namespace vbs::cli {
namespace {

namespace fs = std::filesystem;
using testing::ErrorResponse;
using testing::Harness;
using testing::JsonResponse;
using testing::RecordedRequest;

const Json kVolume = {{"id", "vol-0123456789abcdef0"},
                      {"size", 10737418240ull},
                      {"pool", "default"},
                      {"state", "creating"},
                      {"tags", {{"Name", "db"}}},
                      {"created_at", "2026-11-24T10:00:00Z"}};

class AppTest : public testing::RoutedAppTest {};

TEST_F(AppTest, VolumeCreateSendsNameTagAndSizeAndPrintsDetails) {
  Route("POST /v1/volumes", {JsonResponse(202, kVolume)});
  EXPECT_EQ(h.Run({"volume", "create", "--size", "10G", "--name", "db", "--tag", "env=prod",
                   "--tag", "team=x"}),
            0)
      << h.err;
  ASSERT_EQ(h.server->requests.size(), 1u);
  Json sent = Json::parse(h.server->requests[0].body);
  // A fresh idempotency token on every create: a failover resend cannot make a second volume.
  ASSERT_TRUE(sent.contains("client_token") && sent["client_token"].is_string()) << sent;
  EXPECT_EQ(sent["client_token"].get<std::string>().size(), 32u);
  sent.erase("client_token");
  EXPECT_EQ(sent, Json::parse(R"({"size":"10G","tags":{"Name":"db","env":"prod","team":"x"}})"));
  EXPECT_NE(h.out.find("id:          vol-0123456789abcdef0\n"), std::string::npos) << h.out;
  EXPECT_EQ(h.err, "");
  EXPECT_EQ(h.server->created_with.endpoints, std::vector<std::string>{"https://127.0.0.1:8443"});
  EXPECT_EQ(h.server->created_with.key_file, dir + "/me.key");
}

TEST_F(AppTest, BadLocalInputNeverReachesTheServer) {
  EXPECT_EQ(h.Run({"volume", "create", "--size", "ten"}), kExitUsage);
  EXPECT_NE(h.err.find("error: invalid size 'ten'"), std::string::npos) << h.err;
  EXPECT_EQ(h.Run({"volume", "create", "--size", "1G", "--tag", "=x"}), kExitUsage);
  EXPECT_EQ(h.Run({"volume", "create"}), kExitUsage);
  EXPECT_NE(h.err.find("--size is required"), std::string::npos) << h.err;
  EXPECT_EQ(h.Run({"volume", "list", "--state", "bogus"}), kExitUsage);
  EXPECT_EQ(h.Run({"admin", "volume", "force-state", "vol-1", "creating"}), kExitUsage);
  EXPECT_TRUE(h.server->requests.empty());
  EXPECT_EQ(h.server->clients_created, 0);
}

TEST_F(AppTest, Cli11UsageErrorsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(h.Run({}), kExitUsage);
  EXPECT_EQ(h.Run({"volume"}), kExitUsage);
  EXPECT_EQ(h.Run({"volume", "show"}), kExitUsage);
  EXPECT_EQ(h.Run({"volume", "frobnicate"}), kExitUsage);
  EXPECT_EQ(h.Run({"--output", "yaml", "whoami"}), kExitUsage);
  EXPECT_EQ(h.Run({"--timeout", "-1", "whoami"}), kExitUsage);
  EXPECT_EQ(h.Run({"--help"}), 0);
  EXPECT_NE(h.out.find("volume"), std::string::npos);
  EXPECT_EQ(h.Run({"volume", "create", "--help"}), 0);
  EXPECT_NE(h.out.find("--snapshot"), std::string::npos);
}

TEST_F(AppTest, MissingEndpointOrCredentialsSaysWhatToSet) {
  h.env.erase("VBS_ENDPOINT");
  EXPECT_EQ(h.Run({"whoami"}), kExitUsage);
  EXPECT_NE(h.err.find("set VBS_ENDPOINT or pass --endpoint"), std::string::npos) << h.err;
  EXPECT_EQ(h.Run({"--endpoint", "https://h:1", "whoami"}), kExitServerError);  // got through
  h.env.erase("VBS_KEY");
  EXPECT_EQ(h.Run({"--endpoint", "https://h:1", "whoami"}), kExitUsage);
  EXPECT_NE(h.err.find("VBS_KEY"), std::string::npos) << h.err;
  h.env["VBS_KEY"] = dir + "/absent.key";
  EXPECT_EQ(h.Run({"--endpoint", "https://h:1", "whoami"}), kExitUsage);
  EXPECT_NE(h.err.find("absent.key"), std::string::npos) << h.err;
}

TEST_F(AppTest, GlobalOptionsWorkAfterTheSubcommandAndRepeat) {
  Route("GET /v1/whoami", {JsonResponse(200, {{"user", "alice"}, {"role", "user"}})});
  EXPECT_EQ(
      h.Run({"whoami", "--output", "json", "--endpoint", "https://a:1", "--endpoint", "b:2,c:3"}),
      0)
      << h.err;
  EXPECT_EQ(h.out, "{\n  \"role\": \"user\",\n  \"user\": \"alice\"\n}\n");
  EXPECT_EQ(h.server->created_with.endpoints,
            (std::vector<std::string>{"https://a:1", "https://b:2", "https://c:3"}));
  h.env["VBS_OUTPUT"] = "json";
  EXPECT_EQ(h.Run({"whoami", "-o", "table"}), 0);
  EXPECT_EQ(h.out, "user: alice\nrole: user\n");
}

TEST_F(AppTest, ServerErrorsPrintCodeAndMessage) {
  Route("GET /v1/volumes/vol-1",
        {ErrorResponse(404, "InvalidVolume.NotFound", "The volume 'vol-1' does not exist.")});
  EXPECT_EQ(h.Run({"volume", "show", "vol-1"}), kExitServerError);
  EXPECT_EQ(h.err, "error: InvalidVolume.NotFound: The volume 'vol-1' does not exist.\n");
  EXPECT_EQ(h.out, "");
}

TEST_F(AppTest, UnreachableServerExitsThree) {
  h.server->handler = [](const RecordedRequest&) -> Result<HttpsResponse> {
    return Status::Unavailable("no endpoint answered: https://127.0.0.1:8443: refused");
  };
  EXPECT_EQ(h.Run({"volume", "list"}), kExitUnreachable);
  EXPECT_EQ(h.err, "error: no endpoint answered: https://127.0.0.1:8443: refused\n");
}

TEST_F(AppTest, ListsAsTablesOrJsonArrays) {
  Json available = kVolume;
  available["state"] = "available";
  Route("GET /v1/volumes?state=available&tag=Name%3Ddb",
        {JsonResponse(200, {{"volumes", Json::array({available})}})});
  EXPECT_EQ(h.Run({"volume", "list", "--state", "available", "--tag", "Name=db"}), 0) << h.err;
  EXPECT_NE(h.out.find("ID                     NAME  SIZE  STATE"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("vol-0123456789abcdef0  db    10G   available"), std::string::npos);
  EXPECT_EQ(h.Run({"volume", "list", "--state", "available", "--tag", "Name=db", "-o", "json"}), 0);
  EXPECT_EQ(Json::parse(h.out), Json::array({available}));
}

TEST_F(AppTest, VolumeCreateWaitsUntilAvailable) {
  Json done = kVolume;
  done["state"] = "available";
  Route("POST /v1/volumes", {JsonResponse(202, kVolume)});
  Route("GET /v1/volumes/vol-0123456789abcdef0",
        {JsonResponse(200, kVolume), JsonResponse(200, done)});
  EXPECT_EQ(h.Run({"volume", "create", "--size", "10G", "--wait", "-o", "json"}), 0) << h.err;
  EXPECT_EQ(Json::parse(h.out)["state"], "available");
  EXPECT_EQ(h.err, "vol-0123456789abcdef0: creating\nvol-0123456789abcdef0: available\n");
}

TEST_F(AppTest, WaitEndingInErrorExitsFourWithTheMessage) {
  Json failed = kVolume;
  failed["state"] = "error";
  failed["error"] = "agent n1: No space left on device";
  Route("POST /v1/volumes", {JsonResponse(202, kVolume)});
  Route("GET /v1/volumes/vol-0123456789abcdef0", {JsonResponse(200, failed)});
  EXPECT_EQ(h.Run({"volume", "create", "--size", "10G", "--wait"}), kExitWaitFailed);
  EXPECT_NE(h.err.find("error: vol-0123456789abcdef0 ended in state error: agent n1: No space "
                       "left on device\n"),
            std::string::npos)
      << h.err;
  EXPECT_NE(h.out.find("state:       error"), std::string::npos) << h.out;
}

TEST_F(AppTest, WaitTimesOutAtTimeout) {
  Json snap = {{"id", "snap-1"}, {"volume_id", "vol-1"}, {"state", "pending"}, {"progress", 10}};
  Route("POST /v1/snapshots", {JsonResponse(202, snap)});
  Route("GET /v1/snapshots/snap-1", {JsonResponse(200, snap)});
  auto start = h.clock.now;
  EXPECT_EQ(h.Run({"snapshot", "create", "vol-1", "--wait", "--timeout", "7"}), kExitWaitFailed);
  EXPECT_EQ(h.clock.now - start, std::chrono::seconds(7));
  EXPECT_NE(h.err.find("gave up waiting after 7s: snap-1 is still pending"), std::string::npos)
      << h.err;
  EXPECT_EQ(Json::parse(h.server->requests[0].body), Json::parse(R"({"volume_id":"vol-1"})"));
}

TEST_F(AppTest, SnapshotWaitDrawsABarOnATerminal) {
  Json snap = {{"id", "snap-1"}, {"volume_id", "vol-1"}, {"state", "pending"}, {"progress", 0}};
  Json half = snap;
  half["progress"] = 50;
  Json done = snap;
  done["state"] = "completed";
  done["progress"] = 100;
  Route("POST /v1/snapshots", {JsonResponse(202, snap)});
  Route("GET /v1/snapshots/snap-1", {JsonResponse(200, half), JsonResponse(200, done)});
  h.terminal = true;
  EXPECT_EQ(h.Run({"snapshot", "create", "vol-1", "--description", "", "--wait"}), 0) << h.err;
  EXPECT_NE(h.err.find("\r[#####.....]  50%  snap-1 pending"), std::string::npos) << h.err;
  EXPECT_NE(h.err.find("\r[##########] 100%  snap-1 completed\033[K\n"), std::string::npos);
  EXPECT_EQ(Json::parse(h.server->requests[0].body),
            Json::parse(R"({"volume_id":"vol-1","description":""})"));
}

TEST_F(AppTest, DeleteWaitAcceptsAVanishedVolume) {
  Json deleting = kVolume;
  deleting["state"] = "deleting";
  Route("DELETE /v1/volumes/vol-0123456789abcdef0", {JsonResponse(202, deleting)});
  Route("GET /v1/volumes/vol-0123456789abcdef0",
        {ErrorResponse(404, "InvalidVolume.NotFound", "gone")});
  EXPECT_EQ(h.Run({"volume", "delete", "vol-0123456789abcdef0", "--wait"}), 0) << h.err;
  EXPECT_NE(h.out.find("state:       deleted"), std::string::npos) << h.out;
}

TEST_F(AppTest, AdminUserCreateWritesFilesAndPrintsEnvLines) {
  Route("POST /v1/users", {JsonResponse(201, {{"user", "bob"},
                                              {"role", "user"},
                                              {"cert_pem", "BOBCERT"},
                                              {"key_pem", "BOBKEY"},
                                              {"ca_pem", "CA"},
                                              {"access_key_id", "AKIABOB"},
                                              {"secret_access_key", "BOBSECRET"}})});
  std::string out_dir = dir + "/out";
  fs::create_directory(out_dir);
  EXPECT_EQ(h.Run({"admin", "user", "create", "bob", "--out-dir", out_dir}), 0) << h.err;
  EXPECT_EQ(Json::parse(h.server->requests[0].body),
            Json::parse(R"({"name":"bob","admin":false})"));
  struct stat st {};
  ASSERT_EQ(stat((out_dir + "/bob.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(h.out.find("export VBS_CERT=" + out_dir + "/bob.crt\n"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("export VBS_ENDPOINT=https://127.0.0.1:8443\n"), std::string::npos);
  EXPECT_EQ(h.out.find("BOBKEY"), std::string::npos);  // the key is never printed
  ASSERT_EQ(stat((out_dir + "/bob.aws-credentials").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(h.out.find("export AWS_SHARED_CREDENTIALS_FILE=" + out_dir + "/bob.aws-credentials\n"),
            std::string::npos)
      << h.out;
  EXPECT_NE(h.out.find("AKIABOB"), std::string::npos);    // the key id is named
  EXPECT_EQ(h.out.find("BOBSECRET"), std::string::npos);  // the secret never printed

  // Again: refused before asking the server.
  EXPECT_EQ(h.Run({"admin", "user", "create", "bob", "--out-dir", out_dir}), kExitUsage);
  EXPECT_EQ(h.server->requests.size(), 1u);
  EXPECT_NE(h.err.find("already exists"), std::string::npos) << h.err;
}

TEST_F(AppTest, AdminListsAndForceState) {
  Route("GET /v1/nodes",
        {JsonResponse(200, {{"nodes", Json::array({{{"name", "n1"}, {"state", "up"}}})}})});
  EXPECT_EQ(h.Run({"admin", "node", "list"}), 0) << h.err;
  EXPECT_EQ(h.out, "NAME  STATE  LAST HEARTBEAT\nn1    up     -\n");
  Route("GET /v1/users", {ErrorResponse(403, "UnauthorizedOperation", "admins only")});
  EXPECT_EQ(h.Run({"admin", "user", "list"}), kExitServerError);
  EXPECT_EQ(h.err, "error: UnauthorizedOperation: admins only\n");
  Json forced = kVolume;
  forced["state"] = "error";
  Route("POST /v1/volumes/vol-1/force-state", {JsonResponse(200, forced)});
  EXPECT_EQ(h.Run({"admin", "volume", "force-state", "vol-1", "error"}), 0) << h.err;
  EXPECT_EQ(Json::parse(h.server->requests.back().body), Json::parse(R"({"state":"error"})"));
}

}  // namespace
}  // namespace vbs::cli
