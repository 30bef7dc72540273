#include "nbd/executor.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "backend/dir/file_device.h"
#include "nbd/mem_device_testing.h"
#include "nbd/request.h"

namespace vbs::nbd {
namespace {

class ExecutorTest : public ::testing::Test {
 protected:
  ExecutorTest() : dev_(1 << 20) {
    ctx_.dev = &dev_;
    ctx_.pool = &pool_;
    ctx_.params = {dev_.size(), false, true, true};
  }
  // Validates and runs like a connection would; returns the reply bytes.
  std::string Run(Request r, const std::string& payload = {}) {
    Reply reply;
    uint32_t err = ValidateRequest(r, ctx_.params);
    if (err != 0) {
      EncodeError(r, ctx_.params.structured, err, "x", &pool_, &reply);
    } else {
      EXPECT_EQ(Execute(r, reinterpret_cast<const uint8_t*>(payload.data()), ctx_, false, &reply),
                ExecResult::kDone);
    }
    return std::string(reinterpret_cast<char*>(reply.buf.data()), reply.len);
  }
  static uint32_t SimpleError(const std::string& s) {
    EXPECT_EQ(s.size(), kSimpleReplyHeaderSize);
    EXPECT_EQ(Load32(U(s)), kSimpleReplyMagic);
    return Load32(U(s) + 4);
  }
  static uint32_t ChunkError(const std::string& s) {
    EXPECT_EQ(Load32(U(s)), kStructuredReplyMagic);
    EXPECT_EQ(Load16(U(s) + 6), kReplyTypeError);
    return Load32(U(s) + kChunkHeaderSize);
  }
  static const uint8_t* U(const std::string& s) {
    return reinterpret_cast<const uint8_t*>(s.data());
  }

  MemDevice dev_;
  BufferPool pool_;
  ExecContext ctx_;
};

TEST_F(ExecutorTest, WriteThenStructuredReadReturnsDataChunk) {
  std::string data(4096, 'a');
  EXPECT_EQ(SimpleError(Run({0, kCmdWrite, 1, 8192, 4096}, data)), 0u);
  std::string r = Run({0, kCmdRead, 2, 8192, 4096});
  ASSERT_EQ(r.size(), kChunkHeaderSize + 8 + 4096);
  EXPECT_EQ(Load16(U(r) + 4), kReplyFlagDone);
  EXPECT_EQ(Load16(U(r) + 6), kReplyTypeOffsetData);
  EXPECT_EQ(Load64(U(r) + 8), 2u);
  EXPECT_EQ(Load64(U(r) + kChunkHeaderSize), 8192u);
  EXPECT_EQ(r.substr(kChunkHeaderSize + 8), data);
}

TEST_F(ExecutorTest, LargeSparseReadUsesHoleChunks) {
  std::string data(4096, 'b');
  Run({0, kCmdWrite, 1, 65536, 4096}, data);
  std::string r = Run({0, kCmdRead, 2, 0, 128 * 1024});
  // hole [0,64K), data [64K,68K), hole [68K,128K)
  const uint8_t* p = U(r);
  EXPECT_EQ(Load16(p + 6), kReplyTypeOffsetHole);
  EXPECT_EQ(Load32(p + kChunkHeaderSize + 8), 65536u);
  p += kChunkHeaderSize + 12;
  EXPECT_EQ(Load16(p + 6), kReplyTypeOffsetData);
  EXPECT_EQ(Load32(p + 16), 8u + 4096);
  p += kChunkHeaderSize + 8 + 4096;
  EXPECT_EQ(Load16(p + 6), kReplyTypeOffsetHole);
  EXPECT_EQ(Load16(p + 4), kReplyFlagDone);
  EXPECT_EQ(Load32(p + kChunkHeaderSize + 8), 60u * 1024);
  EXPECT_EQ(static_cast<size_t>(p + kChunkHeaderSize + 12 - U(r)), r.size());
  // With DF, one data chunk with zeroes in it.
  std::string df = Run({kCmdFlagDf, kCmdRead, 3, 0, 128 * 1024});
  EXPECT_EQ(df.size(), kChunkHeaderSize + 8 + 128 * 1024);
}

TEST_F(ExecutorTest, SimpleRepliesWithoutStructured) {
  ctx_.params.structured = false;
  ctx_.params.base_allocation = false;
  std::string r = Run({0, kCmdRead, 7, 0, 512});
  ASSERT_EQ(r.size(), kSimpleReplyHeaderSize + 512);
  EXPECT_EQ(Load32(U(r) + 4), 0u);
  EXPECT_EQ(SimpleError(Run({0, kCmdRead, 7, (1 << 20) - 1, 2})), kEINVAL);
  EXPECT_EQ(SimpleError(Run({0, kCmdBlockStatus, 7, 0, 512})), kEINVAL);    // no context
  EXPECT_EQ(SimpleError(Run({kCmdFlagDf, kCmdRead, 7, 0, 512})), kEINVAL);  // DF needs SR
}

TEST_F(ExecutorTest, BoundsAndFlagsErrors) {
  EXPECT_EQ(ChunkError(Run({0, kCmdWrite, 1, (1 << 20) - 10, 20}, std::string(20, 'x'))), kENOSPC);
  EXPECT_EQ(ChunkError(Run({0, kCmdRead, 1, UINT64_MAX - 5, 10})), kEINVAL);  // overflow
  EXPECT_EQ(ChunkError(Run({0, kCmdTrim, 1, 1 << 20, 1})), kENOSPC);
  EXPECT_EQ(ChunkError(Run({0, 99, 1, 0, 0})), kEINVAL);             // unknown cmd
  EXPECT_EQ(ChunkError(Run({0x100, kCmdFlush, 1, 0, 0})), kEINVAL);  // unknown flag
  EXPECT_EQ(ChunkError(Run({kCmdFlagNoHole, kCmdWrite, 1, 0, 1}, "x")), kEINVAL);
  EXPECT_EQ(ChunkError(Run({0, kCmdRead, 1, 0, kMaxPayload + 1})), kEINVAL);
}

TEST_F(ExecutorTest, ReadOnlyRefusesWritesTrimZero) {
  ctx_.params.read_only = true;
  EXPECT_EQ(ChunkError(Run({0, kCmdWrite, 1, 0, 1}, "x")), kEPERM);
  EXPECT_EQ(ChunkError(Run({0, kCmdTrim, 1, 0, 4096})), kEPERM);
  EXPECT_EQ(ChunkError(Run({0, kCmdWriteZeroes, 1, 0, 4096})), kEPERM);
  EXPECT_EQ(SimpleError(Run({0, kCmdFlush, 1, 0, 0})), 0u);
}

TEST_F(ExecutorTest, WriteZeroesFastZeroAndFua) {
  Run({0, kCmdWrite, 1, 0, 8192}, std::string(8192, 'z'));
  // MemDevice has no fast zero: ENOTSUP, data untouched.
  EXPECT_EQ(ChunkError(Run({kCmdFlagFastZero, kCmdWriteZeroes, 1, 0, 8192})), kENOTSUP);
  int before = dev_.flushes;
  EXPECT_EQ(SimpleError(Run({kCmdFlagFua | kCmdFlagNoHole, kCmdWriteZeroes, 1, 0, 4096})), 0u);
  EXPECT_EQ(dev_.flushes, before + 1);
  std::string r = Run({0, kCmdRead, 1, 0, 8192});
  EXPECT_EQ(r.substr(kChunkHeaderSize + 8, 4096), std::string(4096, '\0'));
  EXPECT_EQ(r.substr(kChunkHeaderSize + 8 + 4096), std::string(4096, 'z'));
}

TEST_F(ExecutorTest, BlockStatusReportsHolesAndHonorsReqOne) {
  Run({0, kCmdWrite, 1, 4096, 4096}, std::string(4096, 'q'));
  std::string r = Run({0, kCmdBlockStatus, 5, 0, 16384});
  const uint8_t* p = U(r);
  EXPECT_EQ(Load16(p + 6), kReplyTypeBlockStatus);
  ASSERT_EQ(Load32(p + 16), 4u + 3 * 8);
  EXPECT_EQ(Load32(p + 20), kBaseAllocationId);
  EXPECT_EQ(Load32(p + 24), 4096u);
  EXPECT_EQ(Load32(p + 28), kStateHole | kStateZero);
  EXPECT_EQ(Load32(p + 32), 4096u);
  EXPECT_EQ(Load32(p + 36), 0u);
  EXPECT_EQ(Load32(p + 40), 8192u);
  std::string one = Run({kCmdFlagReqOne, kCmdBlockStatus, 5, 0, 16384});
  EXPECT_EQ(Load32(U(one) + 16), 12u);
}

TEST_F(ExecutorTest, TrimMakesHoles) {
  Run({0, kCmdWrite, 1, 0, 65536}, std::string(65536, 'y'));
  EXPECT_EQ(SimpleError(Run({0, kCmdTrim, 1, 0, 65536})), 0u);
  auto ex = dev_.Extents(65536, 0);
  ASSERT_TRUE(ex.ok());
  ASSERT_EQ(ex->size(), 1u);
  EXPECT_TRUE((*ex)[0].hole);
}

// A page cache without RWF_NOWAIT (FUSE): reads run on the connection's thread only when
// every page is cached; writes and uncached reads go to a worker.
TEST(ExecutorInlineTest, ResidentModeRunsOnlyCachedReadsOnTheLoop) {
  DeviceCapabilities fuse_like;
  fuse_like.fd = 3;
  fuse_like.page_cache = true;
  EXPECT_EQ(ChooseInlineMode(fuse_like), InlineMode::kResident);
  fuse_like.nowait_reads = true;
  EXPECT_EQ(ChooseInlineMode(fuse_like), InlineMode::kNoWait);

  std::string path = "/var/tmp/vbs-executor-resident-XXXXXX";
  int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  std::string data(8192, 'r');
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 0), 8192);
  ASSERT_EQ(::fdatasync(fd), 0);
  auto dev = FileDevice::Open(path, false);
  ASSERT_TRUE(dev.ok());
  BufferPool pool;
  ExecContext c;
  c.dev = dev->get();
  c.caps = (*dev)->capabilities();
  c.pool = &pool;
  c.params = {8192, false, true, true};
  c.inline_mode = InlineMode::kResident;
  Reply reply;
  ASSERT_EQ(Execute({0, kCmdRead, 1, 0, 4096}, nullptr, c, /*on_loop=*/true, &reply),
            ExecResult::kDone);  // just written: cached
  EXPECT_EQ(std::string(reinterpret_cast<char*>(reply.buf.data()) + kChunkHeaderSize + 8, 4096),
            data.substr(0, 4096));
  Reply write_reply;
  EXPECT_EQ(Execute({0, kCmdWrite, 2, 0, 4096}, reinterpret_cast<const uint8_t*>(data.data()), c,
                    true, &write_reply),
            ExecResult::kWouldBlock);
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  ASSERT_FALSE((*dev)->Resident(4096, 4096));  // clean pages: dropped
  Reply cold;
  EXPECT_EQ(Execute({0, kCmdRead, 3, 4096, 4096}, nullptr, c, true, &cold),
            ExecResult::kWouldBlock);
  ::close(fd);
  ::unlink(path.c_str());
}

TEST(RequestTest, HeaderParsing) {
  uint8_t h[kRequestHeaderSize] = {};
  Store32(h, kRequestMagic);
  Store16(h + 6, kCmdWrite);
  Store32(h + 24, kMaxPayload + 1);
  Request r;
  EXPECT_EQ(ParseRequestHeader(h, &r), HeaderStatus::kPayloadTooLarge);
  Store32(h + 24, 5);
  EXPECT_EQ(ParseRequestHeader(h, &r), HeaderStatus::kOk);
  EXPECT_EQ(r.payload_length(), 5u);
  Store32(h, 0x12345678);
  EXPECT_EQ(ParseRequestHeader(h, &r), HeaderStatus::kBadMagic);
}

}  // namespace
}  // namespace vbs::nbd
