#include "nbd/handshake.h"

#include <gtest/gtest.h>

#include "nbd/export_registry.h"
#include "nbd/mem_device_testing.h"
#include "nbd/wire_testing.h"

namespace vbs::nbd {
namespace {

using namespace testing;  // NOLINT

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ExportRegistry::Spec spec;
    spec.name = "disk";
    spec.description = "a test disk";
    spec.device = std::make_shared<MemDevice>(1 << 20);
    ASSERT_TRUE(registry_.Add(spec).ok());
    spec.name = "ro";
    spec.read_only = true;
    ASSERT_TRUE(registry_.Add(spec).ok());
  }

  // Feeds all of `in` (byte by byte when `trickle`) and returns the last step.
  Handshake::Step Feed(Handshake& hs, const std::string& in, bool trickle = false) {
    Handshake::Step step = Handshake::Step::kNeedMore;
    size_t pos = 0, window = 1;  // trickle: offer one more byte each time nothing is used
    while (pos < in.size()) {
      size_t n = trickle ? std::min(window, in.size() - pos) : in.size() - pos, used = 0;
      step = hs.Feed(reinterpret_cast<const uint8_t*>(in.data()) + pos, n, &used, &out_);
      pos += used;
      if (step != Handshake::Step::kNeedMore) break;
      if (used > 0) {
        window = 1;
      } else if (!trickle || n == in.size() - pos) {
        break;
      } else {
        ++window;
      }
    }
    leftover_ = in.size() - pos;
    return step;
  }

  ExportRegistry registry_;
  std::string out_;
  size_t leftover_ = 0;
};

TEST_F(HandshakeTest, GreetingIsFixedNewstyle) {
  Handshake hs(&registry_, {});
  hs.Start(&out_);
  ASSERT_EQ(out_.size(), 18u);
  const auto* p = reinterpret_cast<const uint8_t*>(out_.data());
  EXPECT_EQ(Load64(p), kNbdMagic);
  EXPECT_EQ(Load64(p + 8), kIHaveOpt);
  EXPECT_EQ(Load16(p + 16), kFlagFixedNewstyle | kFlagNoZeroes);
}

TEST_F(HandshakeTest, UnknownOptionIsUnsupAndHagglingGoesOn) {
  Handshake hs(&registry_, {});
  std::string in = ClientFlags() + Option(77, "xyz") + Option(kOptList);
  EXPECT_EQ(Feed(hs, in), Handshake::Step::kNeedMore);
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.opt, 77u);
  EXPECT_EQ(r.type, kRepErrUnsup);
  int servers = 0;
  while (TakeOptReply(&out_, &r) && r.type == kRepServer) ++servers;
  EXPECT_EQ(servers, 2);
  EXPECT_EQ(r.type, kRepAck);
}

TEST_F(HandshakeTest, GoWithInfosEntersTransmission) {
  for (bool trickle : {false, true}) {
    Handshake hs(&registry_, {});
    out_.clear();
    std::string in = ClientFlags() + Option(kOptStructuredReply) +
                     Option(kOptSetMetaContext, MetaData("disk", {"base:allocation"})) +
                     Option(kOptGo, GoData("disk", {kInfoName, kInfoDescription, kInfoBlockSize})) +
                     "extra";
    ASSERT_EQ(Feed(hs, in, trickle), Handshake::Step::kTransmission);
    EXPECT_EQ(leftover_, 5u);  // bytes after GO belong to transmission
    OptReply r;
    ASSERT_TRUE(TakeOptReply(&out_, &r));
    EXPECT_EQ(r.type, kRepAck);  // structured
    ASSERT_TRUE(TakeOptReply(&out_, &r));
    EXPECT_EQ(r.type, kRepMetaContext);
    EXPECT_EQ(r.data.substr(4), "base:allocation");
    ASSERT_TRUE(TakeOptReply(&out_, &r));
    EXPECT_EQ(r.type, kRepAck);
    bool saw_export = false, saw_name = false, saw_desc = false, saw_bs = false;
    while (TakeOptReply(&out_, &r) && r.type == kRepInfo) {
      const auto* p = reinterpret_cast<const uint8_t*>(r.data.data());
      switch (Load16(p)) {
        case kInfoExport:
          saw_export = true;
          EXPECT_EQ(Load64(p + 2), 1u << 20);
          EXPECT_TRUE(Load16(p + 10) & kFlagSendDf);
          EXPECT_TRUE(Load16(p + 10) & kFlagCanMultiConn);
          break;
        case kInfoName:
          saw_name = r.data.substr(2) == "disk";
          break;
        case kInfoDescription:
          saw_desc = r.data.substr(2) == "a test disk";
          break;
        case kInfoBlockSize:
          saw_bs = Load32(p + 10) == kMaxPayload;
          break;
      }
    }
    EXPECT_EQ(r.type, kRepAck);
    EXPECT_TRUE(saw_export && saw_name && saw_desc && saw_bs);
    EXPECT_TRUE(hs.negotiated().structured);
    EXPECT_TRUE(hs.negotiated().base_allocation);
    EXPECT_EQ(hs.negotiated().exp.name, "disk");
  }
}

TEST_F(HandshakeTest, UnknownExportInGoIsErrUnknown) {
  Handshake hs(&registry_, {});
  EXPECT_EQ(Feed(hs, ClientFlags() + Option(kOptGo, GoData("nope"))), Handshake::Step::kNeedMore);
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepErrUnknown);
}

TEST_F(HandshakeTest, RefusedClientGetsThePolicyErrorWithTheReasonForEveryOption) {
  Handshake hs(&registry_, {});
  hs.Refuse("CertificateRevoked: the client certificate ab was revoked");
  EXPECT_EQ(Feed(hs, ClientFlags() + Option(kOptGo, GoData("disk")) + Option(kOptList)),
            Handshake::Step::kNeedMore);
  for (uint32_t opt : {kOptGo, kOptList}) {
    OptReply r;
    ASSERT_TRUE(TakeOptReply(&out_, &r));
    EXPECT_EQ(r.opt, opt);
    EXPECT_EQ(r.type, kRepErrPolicy);
    EXPECT_EQ(r.data, "CertificateRevoked: the client certificate ab was revoked");
  }
  EXPECT_EQ(Feed(hs, Option(kOptExportName, "disk")), Handshake::Step::kClose);
  EXPECT_EQ(hs.reason(), "CertificateRevoked: the client certificate ab was revoked");
}

TEST_F(HandshakeTest, MalformedGoIsErrInvalid) {
  Handshake hs(&registry_, {});
  std::string bad = GoData("disk", {kInfoName});
  bad.push_back('x');  // trailing byte
  EXPECT_EQ(Feed(hs, ClientFlags() + Option(kOptGo, bad)), Handshake::Step::kNeedMore);
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepErrInvalid);
}

TEST_F(HandshakeTest, MetaContextNeedsStructuredReplies) {
  Handshake hs(&registry_, {});
  Feed(hs, ClientFlags() + Option(kOptSetMetaContext, MetaData("disk", {"base:allocation"})));
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepErrInvalid);
}

TEST_F(HandshakeTest, ListMetaContextListsBaseAllocation) {
  Handshake hs(&registry_, {});
  Feed(hs, ClientFlags() + Option(kOptStructuredReply) +
               Option(kOptListMetaContext, MetaData("disk", {})));
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepMetaContext);
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepAck);
}

TEST_F(HandshakeTest, ExportNameEntersTransmissionOrCloses) {
  Handshake ok(&registry_, {});
  EXPECT_EQ(Feed(ok, ClientFlags(kClientFixedNewstyle) + Option(kOptExportName, "ro")),
            Handshake::Step::kTransmission);
  ASSERT_EQ(out_.size(), 8u + 2 + 124);  // zeroes: client did not ask for NO_ZEROES
  EXPECT_TRUE(Load16(reinterpret_cast<const uint8_t*>(out_.data()) + 8) & kFlagReadOnly);
  Handshake bad(&registry_, {});
  EXPECT_EQ(Feed(bad, ClientFlags() + Option(kOptExportName, "nope")), Handshake::Step::kClose);
}

TEST_F(HandshakeTest, BadMagicAndUnknownClientFlagsClose) {
  Handshake a(&registry_, {});
  std::string in = ClientFlags() + Option(kOptList);
  in[4] ^= 1;
  EXPECT_EQ(Feed(a, in), Handshake::Step::kClose);
  Handshake b(&registry_, {});
  EXPECT_EQ(Feed(b, ClientFlags(0x80)), Handshake::Step::kClose);
}

TEST_F(HandshakeTest, ForcedTlsRefusesOptionsUntilStartTls) {
  HandshakeOptions o;
  o.tls_available = o.tls_required = true;
  Handshake hs(&registry_, o);
  EXPECT_EQ(Feed(hs, ClientFlags() + Option(kOptList) + Option(kOptStartTls)),
            Handshake::Step::kStartTls);
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepErrTlsReqd);
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepAck);
  hs.OnTlsStarted();
  EXPECT_EQ(Feed(hs, Option(kOptStartTls) + Option(kOptGo, GoData("disk"))),
            Handshake::Step::kTransmission);
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepErrInvalid);  // TLS already active
  // EXPORT_NAME before TLS cannot be answered with an error: close.
  Handshake hs2(&registry_, o);
  EXPECT_EQ(Feed(hs2, ClientFlags() + Option(kOptExportName, "disk")), Handshake::Step::kClose);
}

TEST_F(HandshakeTest, StartTlsWithoutTlsIsPolicy) {
  Handshake hs(&registry_, {});
  Feed(hs, ClientFlags() + Option(kOptStartTls));
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepErrPolicy);
}

TEST_F(HandshakeTest, HugeOptionIsSkippedWithTooBig) {
  Handshake hs(&registry_, {});
  std::string big(200 * 1024, 'x');
  EXPECT_EQ(Feed(hs, ClientFlags() + Option(kOptInfo, big) + Option(kOptAbort)),
            Handshake::Step::kClose);
  OptReply r;
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepErrTooBig);
  ASSERT_TRUE(TakeOptReply(&out_, &r));
  EXPECT_EQ(r.type, kRepAck);  // ABORT
}

}  // namespace
}  // namespace vbs::nbd
