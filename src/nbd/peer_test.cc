// Consumers (peer.h) as the registry and the handshake apply them: only the named consumer
// opens an export, others get exactly what a wrong name gets, and nothing is opened for them.
#include "nbd/peer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "nbd/export_registry.h"
#include "nbd/handshake.h"
#include "nbd/mem_device_testing.h"
#include "nbd/wire_testing.h"

namespace vbs::nbd {
namespace {

using namespace testing;  // NOLINT

Peer LocalPeer(pid_t pid, uid_t uid) {
  Peer p;
  p.local = true;
  p.pid = pid;
  p.uid = uid;
  return p;
}

TEST(PeerTest, UnixSocketsTellWhoConnectedTcpDoesNot) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Peer p = UnixPeerOf(sv[0]);
  EXPECT_TRUE(p.local);
  EXPECT_EQ(p.pid, ::getpid());
  EXPECT_EQ(p.uid, ::getuid());
  ::close(sv[0]);
  ::close(sv[1]);
  int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(tcp, 0);
  EXPECT_FALSE(UnixPeerOf(tcp).local);
  ::close(tcp);
}

TEST(PeerTest, ConsumerByUidAdmitsThatUidOnTheLocalSocketOnly) {
  Consumer c = Consumer::Uid(1000);
  EXPECT_TRUE(c.Admits(LocalPeer(1234, 1000)));
  EXPECT_FALSE(c.Admits(LocalPeer(1234, 1001)));
  EXPECT_FALSE(c.Admits(LocalPeer(1234, 0)));  // root is not every uid's consumer
  Peer remote;                                 // TCP: no kernel-given credentials
  remote.uid = 1000;
  EXPECT_FALSE(c.Admits(remote));
  EXPECT_TRUE(Consumer::Anyone().Admits(remote));
}

TEST(PeerTest, ConsumerByProcessNeedsThePidAndItsStartTime) {
  auto me = Consumer::Process(::getpid());
  ASSERT_TRUE(me.ok());
  EXPECT_TRUE(me->Admits(LocalPeer(::getpid(), ::getuid())));
  EXPECT_FALSE(me->Admits(LocalPeer(::getppid(), ::getuid())));
  // The same pid with another start time: a recycled pid is not the consumer.
  Consumer stale = Consumer::Process(::getpid(), me->start_time() + 1);
  EXPECT_FALSE(stale.Admits(LocalPeer(::getpid(), ::getuid())));
  EXPECT_FALSE(Consumer::Process(::getpid(), 0).Admits(LocalPeer(::getpid(), ::getuid())));
  EXPECT_EQ(Consumer::Process(999999999).status().code(), "InstanceGone");
}

class ConsumerRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ExportRegistry::Spec spec;
    spec.name = "vbs-alice";
    spec.description = "vol-alice";
    spec.factory = [this]() -> Result<std::shared_ptr<BlockDevice>> {
      opens_++;
      return std::shared_ptr<BlockDevice>(std::make_shared<MemDevice>(1 << 20));
    };
    spec.consumer = Consumer::Uid(1000);
    ASSERT_TRUE(registry_.Add(spec).ok());
  }
  ExportRegistry registry_;
  std::atomic<int> opens_{0};
};

TEST_F(ConsumerRegistryTest, OnlyTheConsumerOpensAndOthersCostNoDeviceOpen) {
  auto other = registry_.Open("vbs-alice", LocalPeer(1, 1001));
  EXPECT_EQ(other.status().code(), "ExportNotFound");
  auto unknown = registry_.Open("vbs-nobody", LocalPeer(1, 1001));
  EXPECT_EQ(other.status().ToString(), unknown.status().ToString());  // no existence oracle
  EXPECT_EQ(opens_.load(), 0);
  EXPECT_FALSE(registry_.Admits("vbs-alice", LocalPeer(1, 0)));
  EXPECT_TRUE(registry_.List(LocalPeer(1, 1001)).empty());
  ASSERT_EQ(registry_.List(LocalPeer(1, 1000)).size(), 1u);
  auto mine = registry_.Open("vbs-alice", LocalPeer(1, 1000));
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  EXPECT_EQ(opens_.load(), 1);
}

Handshake::Step FeedAll(Handshake& hs, const std::string& in, std::string* out) {
  size_t used = 0;
  return hs.Feed(reinterpret_cast<const uint8_t*>(in.data()), in.size(), &used, out);
}

TEST_F(ConsumerRegistryTest, HandshakeRefusesListingAndNonConsumers) {
  HandshakeOptions opts;
  opts.allow_list = false;
  std::string out;
  Handshake hs(&registry_, opts, LocalPeer(1, 1000));
  EXPECT_EQ(FeedAll(hs, ClientFlags() + Option(kOptList), &out), Handshake::Step::kNeedMore);
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out, &r));
  EXPECT_EQ(r.type, kRepErrPolicy);
  EXPECT_EQ(r.data.find("vbs-alice"), std::string::npos);

  // Another uid: INFO, GO and the meta context answer "unknown", as for a wrong name.
  out.clear();
  Handshake intruder(&registry_, opts, LocalPeer(1, 1001));
  std::string in = ClientFlags() + Option(kOptInfo, GoData("vbs-alice", {kInfoDescription})) +
                   Option(kOptStructuredReply) +
                   Option(kOptSetMetaContext, MetaData("vbs-alice", {"base:allocation"})) +
                   Option(kOptGo, GoData("vbs-alice"));
  EXPECT_EQ(FeedAll(intruder, in, &out), Handshake::Step::kNeedMore);
  std::vector<uint32_t> types;
  while (TakeOptReply(&out, &r)) {
    types.push_back(r.type);
    EXPECT_EQ(r.data.find("vol-alice"), std::string::npos);
  }
  EXPECT_EQ(types,
            (std::vector<uint32_t>{kRepErrUnknown, kRepAck, kRepErrUnknown, kRepErrUnknown}));
  // EXPORT_NAME cannot answer an error: the connection is dropped.
  out.clear();
  Handshake old_style(&registry_, opts, LocalPeer(1, 1001));
  EXPECT_EQ(FeedAll(old_style, ClientFlags() + Option(kOptExportName, "vbs-alice"), &out),
            Handshake::Step::kClose);
  EXPECT_EQ(opens_.load(), 0);

  // The consumer itself gets in.
  out.clear();
  Handshake owner(&registry_, opts, LocalPeer(1, 1000));
  EXPECT_EQ(FeedAll(owner, ClientFlags() + Option(kOptGo, GoData("vbs-alice")), &out),
            Handshake::Step::kTransmission);
}

}  // namespace
}  // namespace vbs::nbd
