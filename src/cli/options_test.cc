#include "cli/options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "cli/errors.h"

namespace vbs::cli {
namespace {

using std::chrono::milliseconds;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::map<std::string, std::string> kFullEnv = {{"VBS_ENDPOINT", "https://a:8443"},
                                                     {"VBS_CA", "/env/ca.crt"},
                                                     {"VBS_CERT", "/env/u.crt"},
                                                     {"VBS_KEY", "/env/u.key"}};

TEST(ResolveSettings, ComesFromTheEnvironment) {
  auto s = ResolveSettings({}, Env(kFullEnv));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->endpoints, std::vector<std::string>{"https://a:8443"});
  EXPECT_EQ(s->ca_file, "/env/ca.crt");
  EXPECT_EQ(s->cert_file, "/env/u.crt");
  EXPECT_EQ(s->key_file, "/env/u.key");
  EXPECT_EQ(s->output, OutputFormat::kTable);
  EXPECT_FALSE(s->timeout.has_value());
  EXPECT_EQ(s->RequestTimeout(), milliseconds(30'000));
  EXPECT_EQ(s->WaitTimeout(), milliseconds(600'000));
}

TEST(ResolveSettings, FlagsWinOverTheEnvironment) {
  GlobalFlags f;
  f.endpoints = {"https://b:1", "c:2"};
  f.ca_file = "/flag/ca";
  f.key_file = "/flag/key";
  f.output = "json";
  f.timeout_seconds = 5;
  auto env = kFullEnv;
  env["VBS_OUTPUT"] = "table";
  auto s = ResolveSettings(f, Env(env));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->endpoints, (std::vector<std::string>{"https://b:1", "https://c:2"}));
  EXPECT_EQ(s->ca_file, "/flag/ca");
  EXPECT_EQ(s->cert_file, "/env/u.crt");  // not given as a flag: from the environment
  EXPECT_EQ(s->key_file, "/flag/key");
  EXPECT_EQ(s->output, OutputFormat::kJson);
  EXPECT_EQ(s->RequestTimeout(), milliseconds(5000));
  EXPECT_EQ(s->WaitTimeout(), milliseconds(5000));
}

TEST(ResolveSettings, LongTimeoutOnlyStretchesWaits) {
  GlobalFlags f;
  f.timeout_seconds = 3600;
  auto s = ResolveSettings(f, Env(kFullEnv));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->RequestTimeout(), milliseconds(30'000));
  EXPECT_EQ(s->WaitTimeout(), milliseconds(3'600'000));
}

TEST(ResolveSettings, MissingValuesSayWhatToSet) {
  struct Case {
    const char* drop;
    const char* expect_var;
    const char* expect_option;
  } cases[] = {{"VBS_ENDPOINT", "VBS_ENDPOINT", "--endpoint"},
               {"VBS_CA", "VBS_CA", "--ca"},
               {"VBS_CERT", "VBS_CERT", "--cert"},
               {"VBS_KEY", "VBS_KEY", "--key"}};
  for (const auto& c : cases) {
    auto env = kFullEnv;
    env.erase(c.drop);
    auto s = ResolveSettings({}, Env(env));
    ASSERT_FALSE(s.ok()) << c.drop;
    EXPECT_EQ(ExitCodeFor(s.status()), kExitUsage);
    EXPECT_NE(s.status().message().find(c.expect_var), std::string::npos) << s.status().message();
    EXPECT_NE(s.status().message().find(c.expect_option), std::string::npos)
        << s.status().message();
  }
}

TEST(ResolveOutput, ValidatesTheEnvironmentToo) {
  EXPECT_EQ(*ResolveOutput({}, Env({})), OutputFormat::kTable);
  EXPECT_EQ(*ResolveOutput({}, Env({{"VBS_OUTPUT", "json"}})), OutputFormat::kJson);
  auto bad = ResolveOutput({}, Env({{"VBS_OUTPUT", "yaml"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("VBS_OUTPUT"), std::string::npos);
}

TEST(NormalizeEndpoints, SplitsTrimsAndAddsTheScheme) {
  auto e = NormalizeEndpoints({"https://a:1/, b:2 ,,", "https://[::1]:3"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(*e, (std::vector<std::string>{"https://a:1", "https://b:2", "https://[::1]:3"}));
  EXPECT_TRUE(NormalizeEndpoints({" , "})->empty());
}

TEST(NormalizeEndpoints, RejectsPlainHttpOtherSchemesAndPaths) {
  for (const char* bad : {"http://a:1", "ftp://a", "https://a:1/v1", "https://", "https://a?x"}) {
    auto e = NormalizeEndpoints({bad});
    EXPECT_FALSE(e.ok()) << bad;
    EXPECT_EQ(ExitCodeFor(e.status()), kExitUsage) << bad;
  }
  EXPECT_NE(NormalizeEndpoints({"http://a"}).status().message().find("HTTPS only"),
            std::string::npos);
}

TEST(CheckCredentialFiles, NamesTheOptionOfAMissingFile) {
  char dir[] = "/tmp/vbs-cli-opt-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string ca = std::string(dir) + "/ca.crt";
  std::ofstream(ca) << "x";
  Settings s;
  s.ca_file = ca;
  s.cert_file = ca;
  s.key_file = std::string(dir) + "/missing.key";
  Status st = CheckCredentialFiles(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(ExitCodeFor(st), kExitUsage);
  EXPECT_NE(st.message().find("--key/VBS_KEY"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("missing.key"), std::string::npos);
  s.key_file = dir;  // a directory is not a key
  EXPECT_FALSE(CheckCredentialFiles(s).ok());
  s.key_file = ca;
  EXPECT_TRUE(CheckCredentialFiles(s).ok());
  std::remove(ca.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace vbs::cli
