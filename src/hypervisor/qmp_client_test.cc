// QmpClient against a fake QMP server speaking the protocol over a socketpair (greeting,
// replies by id, errors, interleaved events, partial writes, EOF), plus a real unix socket.
#include "hypervisor/qmp_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "hypervisor/fake_qmp_testing.h"

namespace vbs::hypervisor {
namespace {

using nlohmann::json;
using testing::ErrorReply;
using testing::Event;
using testing::FakeQmpServer;
using testing::Reply;
using namespace std::chrono_literals;

QmpClient::Options Fast() {
  QmpClient::Options o;
  o.connect_timeout = 2000ms;
  o.command_timeout = 2000ms;
  return o;
}

std::unique_ptr<QmpClient> MustConnect(FakeQmpServer& server, QmpClient::Options opts = Fast()) {
  auto c = QmpClient::FromFd(server.TakeClientFd(), opts);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(QmpClient, HandshakeAndExecute) {
  FakeQmpServer server([](const json& cmd) -> std::vector<std::string> {
    if (cmd["execute"] == "query-status") return {Reply(cmd, {{"status", "running"}})};
    if (cmd["execute"] == "echo") return {Reply(cmd, cmd["arguments"])};
    return {ErrorReply(cmd, "CommandNotFound", "The command nope has not been found")};
  });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  EXPECT_EQ(qmp->greeting()["version"]["qemu"]["major"], 7);
  auto r = qmp->Execute("query-status");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["status"], "running");
  auto e = qmp->Execute("echo", {{"a", 1}, {"b", {{"c", "d"}}}});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)["b"]["c"], "d");
  auto received = server.Received();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0]["execute"], "qmp_capabilities");
  EXPECT_FALSE(received[1].contains("arguments"));  // no arguments → none sent
  EXPECT_NE(received[1]["id"], received[2]["id"]);
}

TEST(QmpClient, ErrorsBecomeStatusWithClassAndDesc) {
  FakeQmpServer server([](const json& cmd) -> std::vector<std::string> {
    if (cmd["execute"] == "device_del") {
      return {ErrorReply(cmd, "DeviceNotFound", "Device 'x' not found")};
    }
    if (cmd["execute"] == "nope") return {ErrorReply(cmd, "CommandNotFound", "not found")};
    return {ErrorReply(cmd, "GenericError", "Duplicate nodes with node-name='n'")};
  });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  auto r = qmp->Execute("device_del", {{"id", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kNotFound);
  EXPECT_EQ(r.status().code(), "Qmp.DeviceNotFound");
  EXPECT_TRUE(IsQmpError(r.status(), "DeviceNotFound"));
  EXPECT_NE(r.status().message().find("Device 'x' not found"), std::string::npos);
  auto g = qmp->Execute("blockdev-add", {{"node-name", "n"}});
  EXPECT_EQ(g.status().code(), "Qmp.GenericError");
  EXPECT_EQ(g.status().kind(), StatusKind::kIoError);
  EXPECT_NE(g.status().message().find("blockdev-add: Duplicate nodes"), std::string::npos);
  EXPECT_EQ(qmp->Execute("nope").status().kind(), StatusKind::kInvalidArgument);
  EXPECT_TRUE(qmp->connected());  // a QMP error does not break the connection
}

TEST(QmpClient, EventsInterleavedWithRepliesAreQueued) {
  FakeQmpServer server([](const json& cmd) -> std::vector<std::string> {
    return {Event("DEVICE_DELETED", {{"path", "/machine/peripheral/a/virtio-backend"}}),
            Event("DEVICE_DELETED", {{"device", "a"}, {"path", "/machine/peripheral/a"}}),
            Event("RESUME", json::object()), Reply(cmd, json::object())};
  });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  ASSERT_TRUE(qmp->Execute("device_del", {{"id", "a"}}).ok());
  auto ev = qmp->WaitForEvent(
      "DEVICE_DELETED", [](const QmpEvent& e) { return e.data.value("device", "") == "a"; }, 100ms);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->data["path"], "/machine/peripheral/a");
  EXPECT_EQ(ev->timestamp["seconds"], 1);
  auto rest = qmp->TakeEvents();  // the non-matching ones stay queued, in order
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].name, "DEVICE_DELETED");
  EXPECT_FALSE(rest[0].data.contains("device"));
  EXPECT_EQ(rest[1].name, "RESUME");
  EXPECT_TRUE(qmp->TakeEvents().empty());
}

TEST(QmpClient, WaitForEventReadsLaterEventsAndTimesOut) {
  FakeQmpServer server([](const json&) -> std::vector<std::string> { return {}; });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  std::thread later([&] {
    std::this_thread::sleep_for(50ms);
    server.Send(Event("SHUTDOWN", {{"guest", true}}) + "\r\n");
  });
  auto ev = qmp->WaitForEvent("SHUTDOWN", nullptr, 5000ms);
  later.join();
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->data["guest"], true);
  auto none = qmp->WaitForEvent("SHUTDOWN", nullptr, 50ms);
  EXPECT_EQ(none.status().code(), "QmpTimeout");
  EXPECT_EQ(none.status().kind(), StatusKind::kUnavailable);
  EXPECT_TRUE(qmp->connected());  // a timeout is not fatal
}

TEST(QmpClient, LateReplyToTimedOutCommandIsNotTakenForTheNext) {
  std::atomic<int> calls{0};
  json first;
  FakeQmpServer server([&](const json& cmd) -> std::vector<std::string> {
    if (calls++ == 0) {
      first = cmd;  // answered late, below
      return {};
    }
    // The late answer to the first command arrives just before this one's.
    return {Reply(first, "stale"), Reply(cmd, "fresh")};
  });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  auto slow = qmp->Execute("slow", nullptr, 100ms);
  EXPECT_EQ(slow.status().code(), "QmpTimeout");
  auto next = qmp->Execute("next");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, "fresh");
}

TEST(QmpClient, PartialWritesAndLineEndings) {
  FakeQmpServer server([](const json&) -> std::vector<std::string> { return {}; }, "");
  std::thread writer([&] {
    std::string greeting = std::string(testing::kGreeting) + "\n";
    for (char c : greeting) server.Send(std::string(1, c));  // one byte at a time
  });
  // The handshake's capabilities reply is sent by the server thread itself.
  auto qmp = QmpClient::FromFd(server.TakeClientFd(), Fast());
  writer.join();
  ASSERT_TRUE(qmp.ok()) << qmp.status().ToString();
  EXPECT_EQ((*qmp)->greeting()["capabilities"][0], "oob");
}

TEST(QmpClient, EofDuringCommandFailsFastAndStaysFailed) {
  FakeQmpServer* self = nullptr;
  FakeQmpServer server([&](const json&) -> std::vector<std::string> {
    self->Close();  // QEMU exits while the command runs
    return {};
  });
  self = &server;
  auto opts = Fast();
  opts.command_timeout = 60000ms;  // EOF must end the wait, not the timeout
  auto qmp = MustConnect(server, opts);
  ASSERT_TRUE(qmp);
  auto start = std::chrono::steady_clock::now();
  auto r = qmp->Execute("quit");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(r.status().code(), "QmpDisconnected");
  EXPECT_EQ(r.status().kind(), StatusKind::kUnavailable);
  EXPECT_FALSE(qmp->connected());
  EXPECT_EQ(qmp->Execute("query-status").status().code(), "QmpDisconnected");
  EXPECT_EQ(qmp->WaitForEvent("X", nullptr, 60000ms).status().code(), "QmpDisconnected");
}

TEST(QmpClient, EventsQueuedBeforeEofCanStillBeTaken) {
  FakeQmpServer server([](const json&) -> std::vector<std::string> { return {}; });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  server.Send(Event("SHUTDOWN", json::object()) + "\r\n");
  server.Close();
  auto ev = qmp->WaitForEvent("SHUTDOWN", nullptr, 5000ms);
  EXPECT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(qmp->WaitForEvent("SHUTDOWN", nullptr, 5000ms).status().code(), "QmpDisconnected");
}

TEST(QmpClient, MalformedMessageIsAProtocolError) {
  FakeQmpServer server([](const json&) -> std::vector<std::string> { return {"{not json"}; });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  auto r = qmp->Execute("query-status");
  EXPECT_EQ(r.status().code(), "QmpProtocolError");
  EXPECT_FALSE(qmp->connected());
}

TEST(QmpClient, ReplyWithoutReturnOrErrorIsAProtocolError) {
  FakeQmpServer server([](const json& cmd) -> std::vector<std::string> {
    return {json{{"id", cmd["id"]}}.dump()};
  });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  EXPECT_EQ(qmp->Execute("x").status().code(), "QmpProtocolError");
}

TEST(QmpClient, BadGreetingOrSilenceFailsTheConnect) {
  {
    FakeQmpServer server([](const json&) -> std::vector<std::string> { return {}; },
                         R"({"hello": 1})");
    auto c = QmpClient::FromFd(server.TakeClientFd(), Fast());
    EXPECT_EQ(c.status().code(), "QmpProtocolError");
  }
  {
    // Another client holds the socket: QEMU says nothing to us.
    FakeQmpServer server([](const json&) -> std::vector<std::string> { return {}; }, "");
    auto opts = Fast();
    opts.connect_timeout = 100ms;
    auto c = QmpClient::FromFd(server.TakeClientFd(), opts);
    EXPECT_EQ(c.status().code(), "QmpTimeout");
    EXPECT_NE(c.status().message().find("one at a time"), std::string::npos);
  }
  {
    FakeQmpServer server(
        [](const json& cmd) -> std::vector<std::string> {
          return {ErrorReply(cmd, "GenericError", "Capabilities negotiation is already complete")};
        },
        testing::kGreeting, /*handle_capabilities=*/true);
    auto c = QmpClient::FromFd(server.TakeClientFd(), Fast());
    EXPECT_EQ(c.status().code(), "Qmp.GenericError");
  }
  {
    FakeQmpServer server([](const json&) -> std::vector<std::string> { return {}; }, "");
    server.Close();  // VM gone before the greeting
    auto c = QmpClient::FromFd(server.TakeClientFd(), Fast());
    EXPECT_EQ(c.status().code(), "QmpDisconnected");
  }
}

TEST(QmpClient, ArgumentsMustBeAnObject) {
  FakeQmpServer server([](const json& cmd) -> std::vector<std::string> { return {Reply(cmd, 1)}; });
  auto qmp = MustConnect(server);
  ASSERT_TRUE(qmp);
  EXPECT_EQ(qmp->Execute("x", json::array({1})).status().kind(), StatusKind::kInvalidArgument);
  EXPECT_TRUE(qmp->Execute("x", json::object()).ok());
}

// A real unix socket: Connect() by path, and a path nobody listens on.
TEST(QmpClient, ConnectByPath) {
  auto dir =
      std::filesystem::temp_directory_path() / ("vbs-qmp-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "i-1.qmp").string();
  int lfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(lfd, 1), 0);
  std::thread server([lfd] {
    int fd = ::accept(lfd, nullptr, nullptr);
    std::string g = std::string(testing::kGreeting) + "\r\n";
    (void)!::write(fd, g.data(), g.size());
    char buf[4096];
    std::string in;
    while (in.find('\n') == std::string::npos) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    auto cmd = json::parse(in.substr(0, in.find('\n')));
    std::string r = Reply(cmd, json::object()) + "\r\n";
    (void)!::write(fd, r.data(), r.size());
    ::close(fd);  // then EOF
  });
  auto qmp = QmpClient::Connect(path, Fast());
  server.join();
  ASSERT_TRUE(qmp.ok()) << qmp.status().ToString();
  EXPECT_EQ((*qmp)->Execute("query-status").status().code(), "QmpDisconnected");
  ::close(lfd);  // the socket file stays: a VM that is gone
  auto gone = QmpClient::Connect(path, Fast());
  EXPECT_EQ(gone.status().code(), "QmpConnectFailed");
  EXPECT_EQ(gone.status().kind(), StatusKind::kUnavailable);
  EXPECT_EQ(QmpClient::Connect((dir / "missing.qmp").string(), Fast()).status().code(),
            "QmpConnectFailed");
  EXPECT_EQ(QmpClient::Connect(std::string(200, 'x'), Fast()).status().kind(),
            StatusKind::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

// QEMU listens with a backlog of 1: with one client served and one waiting, a blocking
// connect would hang. Connect must give up within its timeout instead.
TEST(QmpClient, ConnectToAFullBacklogTimesOut) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("vbs-qmp-full-" + std::to_string(::getpid()) + ".qmp"))
                         .string();
  ::unlink(path.c_str());
  int lfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);  // never accepts
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {  // fill the queue, whatever the kernel's exact limit
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      break;
    }
    fillers.push_back(fd);
  }
  auto opts = Fast();
  opts.connect_timeout = 200ms;
  auto c = QmpClient::Connect(path, opts);
  EXPECT_EQ(c.status().code(), "QmpTimeout");
  EXPECT_NE(c.status().message().find("backlog"), std::string::npos) << c.status().message();
  for (int fd : fillers) ::close(fd);
  ::close(lfd);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace vbs::hypervisor
