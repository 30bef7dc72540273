// NbdServer end to end over unix sockets with a small blocking client.
#include "nbd/nbd_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "backend/dir/file_device.h"
#include "nbd/mem_device_testing.h"
#include "nbd/wire_testing.h"

namespace vbs::nbd {
namespace {

using namespace testing;  // NOLINT

class Client {
 public:
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Connect(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a = {};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  void Send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += n;
    }
  }
  // Exactly n bytes, or fewer at EOF.
  std::string Recv(size_t n) {
    std::string s(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd_, s.data() + got, n - got, 0);
      if (r <= 0) break;
      got += r;
    }
    s.resize(got);
    return s;
  }
  bool AtEof() { return Recv(1).empty(); }

  // Handshake up to transmission; returns false if the server refused.
  bool Go(const std::string& name, bool structured = true) {
    Recv(18);
    std::string in = ClientFlags();
    if (structured) {
      in += Option(kOptStructuredReply) +
            Option(kOptSetMetaContext, MetaData(name, {"base:allocation"}));
    }
    in += Option(kOptGo, GoData(name));
    Send(in);
    structured_ = structured;
    for (;;) {
      std::string h = Recv(20);
      if (h.size() < 20) return false;
      uint32_t type = Load32(U(h) + 12), len = Load32(U(h) + 16);
      std::string data = Recv(len);
      if (type == kRepInfo && Load16(U(data)) == kInfoExport) {
        size_ = Load64(U(data) + 2);
        flags_ = Load16(U(data) + 10);
      }
      if (Load32(U(h) + 8) == kOptGo) {
        if (type == kRepAck) return true;
        if (type != kRepInfo) return false;
      }
    }
  }

  struct Rep {
    uint64_t handle = 0;
    uint32_t error = 0;
    std::string data;  // read data reassembled (holes as zeroes)
    bool ok = false;
  };
  // One complete reply (all chunks of one handle; assumes no interleaving of chunks, which
  // our server never does since each reply is one buffer).
  // reads: handle -> (offset, length) of outstanding READs.
  using Reads = std::map<uint64_t, std::pair<uint64_t, uint32_t>>;
  Rep ReadReply(const Reads& reads) {
    Rep rep;
    std::string m = Recv(4);
    if (m.size() < 4) return rep;
    if (Load32(U(m)) == kSimpleReplyMagic) {
      std::string h = Recv(12);
      rep.error = Load32(U(h));
      rep.handle = Load64(U(h) + 4);
      auto it = reads.find(rep.handle);
      if (rep.error == 0 && it != reads.end()) rep.data = Recv(it->second.second);
      rep.ok = true;
      return rep;
    }
    for (;;) {
      std::string h = Recv(16);
      if (h.size() < 16) return rep;
      uint16_t flags = Load16(U(h)), type = Load16(U(h) + 2);
      rep.handle = Load64(U(h) + 4);
      std::string p = Recv(Load32(U(h) + 12));
      auto it = reads.find(rep.handle);
      if (it != reads.end() && rep.data.empty()) rep.data.assign(it->second.second, '\0');
      if (type == kReplyTypeOffsetData && it != reads.end()) {
        rep.data.replace(Load64(U(p)) - it->second.first, p.size() - 8, p.substr(8));
      } else if (type & 0x8000) {
        rep.error = Load32(U(p));
      }
      if (flags & kReplyFlagDone) break;
      if (Recv(4).size() < 4) return rep;  // next chunk's magic
    }
    rep.ok = true;
    return rep;
  }

  uint64_t size_ = 0;
  uint16_t flags_ = 0;

 private:
  static const uint8_t* U(const std::string& s) {
    return reinterpret_cast<const uint8_t*>(s.data());
  }
  int fd_ = -1;
  bool structured_ = true;
};

struct Param {
  const char* dir;  // where the backing file lives; nullptr: MemDevice
  bool allow_inline;
  bool direct_io = false;  // the file opened with O_DIRECT (a cache=none pool)
  bool async = false;      // MemDevice with async_io (as librbd)
};

class ServerTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    sock_ = "/tmp/vbs-nbd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) +
            ".sock";
    NbdServerOptions o;
    o.allow_inline = GetParam().allow_inline;
    o.handshake_timeout_ms = 500;
    o.worker_threads = 4;
    server_ = std::make_unique<NbdServer>(o);
    dev_ = MakeDevice(kSize);
    ASSERT_TRUE(server_->AddExport("disk", dev_, false, "test").ok());
    ASSERT_TRUE(server_->AddExport("ro", MakeDevice(kSize), true).ok());
    ASSERT_TRUE(server_->ListenUnix(sock_).ok());
  }
  void TearDown() override {
    server_->Stop();
    ::unlink(sock_.c_str());
    for (auto& f : files_) ::unlink(f.c_str());
  }
  std::shared_ptr<BlockDevice> MakeDevice(uint64_t size) {
    if (GetParam().dir == nullptr) {
      return std::make_shared<MemDevice>(size, /*read_only=*/false, GetParam().async);
    }
    std::string path = std::string(GetParam().dir) + "/vbs-nbd-test-XXXXXX";
    int fd = ::mkstemp(path.data());
    EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
    ::close(fd);
    files_.push_back(path);
    auto d = FileDevice::Open(path, false, FileDeviceOptions{.direct_io = GetParam().direct_io});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return std::shared_ptr<BlockDevice>(std::move(d).value());
  }
  std::unique_ptr<Client> Connect(const std::string& name = "disk", bool sr = true) {
    auto c = std::make_unique<Client>();
    EXPECT_TRUE(c->Connect(sock_));
    EXPECT_TRUE(c->Go(name, sr));
    return c;
  }

  static constexpr uint64_t kSize = 8 << 20;
  static inline int counter_ = 0;
  std::string sock_;
  std::unique_ptr<NbdServer> server_;
  std::shared_ptr<BlockDevice> dev_;
  std::vector<std::string> files_;
};

TEST_P(ServerTest, ManyPipelinedRequestsRoundTrip) {
  for (bool sr : {true, false}) {
    auto c = Connect("disk", sr);
    EXPECT_EQ(c->size_, kSize);
    std::mt19937 rng(sr ? 1 : 2);
    std::map<uint64_t, std::string> written;  // block index -> data
    std::string batch;
    for (int i = 0; i < 64; ++i) {
      uint64_t blk = i * 3 + (sr ? 0 : 1);
      std::string data(4096 * (1 + i % 5), static_cast<char>('A' + rng() % 26));
      written[blk] = data;
      batch += RequestBytes(kCmdWrite, 1000 + blk, blk * 32768, data.size(), 0, data);
    }
    c->Send(batch);
    for (int i = 0; i < 64; ++i) {
      auto r = c->ReadReply({});
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(r.error, 0u);
    }
    batch.clear();
    Client::Reads reads;
    for (auto& [blk, data] : written) {
      batch += RequestBytes(kCmdRead, blk, blk * 32768, data.size());
      reads[blk] = {blk * 32768, data.size()};
    }
    c->Send(batch);
    for (size_t i = 0; i < written.size(); ++i) {
      auto r = c->ReadReply(reads);
      ASSERT_TRUE(r.ok);
      ASSERT_EQ(r.error, 0u);
      ASSERT_TRUE(written.count(r.handle));
      EXPECT_EQ(r.data, written[r.handle]);
    }
    c->Send(RequestBytes(kCmdDisc, 0, 0, 0));
    EXPECT_TRUE(c->AtEof());
  }
}

TEST_P(ServerTest, ReadBackExactBytes) {
  auto c = Connect("disk", true);
  std::string data(65536 + 512, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  c->Send(RequestBytes(kCmdWrite, 1, 1 << 20, data.size(), kCmdFlagFua, data));
  ASSERT_EQ(c->ReadReply({}).error, 0u);
  c->Send(RequestBytes(kCmdRead, 2, 1 << 20, data.size()));
  auto r = c->ReadReply({{2, {1 << 20, data.size()}}});
  ASSERT_EQ(r.error, 0u);
  EXPECT_EQ(r.data, data);
  // A sparse region reads as zeroes (hole chunks) and reports a hole.
  c->Send(RequestBytes(kCmdRead, 3, 4 << 20, 1 << 20));
  r = c->ReadReply({{3, {4 << 20, 1 << 20}}});
  EXPECT_EQ(r.data, std::string(1 << 20, '\0'));
}

TEST_P(ServerTest, LargeWritesArriveInPiecesAndReadBack) {
  auto c = Connect("disk", true);
  // 3 MiB + 1 (larger than the receive buffer, odd length), sent in uneven pieces, followed
  // at once by a small write in the same stream.
  std::string data(3 * 1024 * 1024 + 1, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131) >> 3);
  std::string wire = RequestBytes(kCmdWrite, 1, 4096, data.size(), 0, data) +
                     RequestBytes(kCmdWrite, 2, 0, 3, kCmdFlagFua, "abc");
  for (size_t off = 0; off < wire.size();) {
    size_t n = std::min<size_t>(wire.size() - off, 1 + (off * 7919) % 300000);
    c->Send(wire.substr(off, n));
    off += n;
  }
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c->ReadReply({}).error, 0u);
  c->Send(RequestBytes(kCmdRead, 3, 4096, data.size()) + RequestBytes(kCmdRead, 4, 0, 3));
  for (int i = 0; i < 2; ++i) {
    auto r = c->ReadReply({{3, {4096, data.size()}}, {4, {0, 3}}});
    ASSERT_EQ(r.error, 0u);
    if (r.handle == 3) {
      EXPECT_TRUE(r.data == data);
    } else {
      EXPECT_EQ(r.data, "abc");
    }
  }
}

// Large reads of a memory-backed file go out without a copy (spliced over unix sockets):
// a client that lets replies pile up before reading, odd offsets and lengths, and small
// requests in between still get every byte in its place.
TEST_P(ServerTest, LargeReadsToASlowReaderArriveWhole) {
  auto c = Connect("disk", true);
  std::string data(kSize, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  c->Send(RequestBytes(kCmdWrite, 100, 0, data.size(), kCmdFlagFua, data));
  ASSERT_EQ(c->ReadReply({}).error, 0u);
  Client::Reads reads;
  std::string wire;
  for (uint64_t h = 1; h <= 12; ++h) {
    const uint64_t off = (h * 524287) % (kSize - (2 << 20));
    const uint32_t len = h % 3 == 0 ? 100 : static_cast<uint32_t>((1 << 20) + h * 4099);
    reads[h] = {off, len};
    wire += RequestBytes(kCmdRead, h, off, len);
  }
  c->Send(wire);
  // Replies fill the socket while nobody reads: the server must wait and resume.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (size_t i = 0; i < reads.size(); ++i) {
    auto r = c->ReadReply(reads);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ(r.error, 0u) << r.handle;
    const auto [off, len] = reads[r.handle];
    EXPECT_TRUE(r.data == data.substr(off, len)) << "handle " << r.handle;
  }
}

// Large payloads may be received straight into their place (memory-backed files): one that
// is out of bounds or aimed at a read-only export must still be refused and write nothing.
TEST_P(ServerTest, LargeInvalidWritesInPiecesAreRefusedAndChangeNothing) {
  const std::string data(1 << 20, 'z');
  for (const char* name : {"disk", "ro"}) {
    auto c = Connect(name);
    const bool ro = std::string(name) == "ro";
    // Crossing the end (disk) or any write (ro), then a read of the last MiB.
    const uint64_t off = ro ? 0 : kSize - data.size() / 2;
    std::string wire = RequestBytes(kCmdWrite, 1, off, data.size(), 0, data) +
                       RequestBytes(kCmdRead, 2, kSize - data.size(), data.size());
    for (size_t pos = 0; pos < wire.size();) {
      size_t n = std::min<size_t>(wire.size() - pos, 70000);
      c->Send(wire.substr(pos, n));
      pos += n;
    }
    std::map<uint64_t, Client::Rep> reps;
    for (int i = 0; i < 2; ++i) {
      auto r = c->ReadReply({{2, {kSize - data.size(), data.size()}}});
      ASSERT_TRUE(r.ok);
      reps[r.handle] = r;
    }
    EXPECT_EQ(reps[1].error, ro ? kEPERM : kENOSPC) << name;  // the spec: past the end is ENOSPC
    EXPECT_EQ(reps[2].error, 0u);
    EXPECT_EQ(reps[2].data, std::string(data.size(), '\0')) << name;
  }
}

TEST_P(ServerTest, ReadOnlyExportRefusesWrites) {
  auto c = Connect("ro");
  EXPECT_TRUE(c->flags_ & kFlagReadOnly);
  c->Send(RequestBytes(kCmdWrite, 1, 0, 4, 0, "abcd") + RequestBytes(kCmdTrim, 2, 0, 4096) +
          RequestBytes(kCmdWriteZeroes, 3, 0, 4096) + RequestBytes(kCmdFlush, 4, 0, 0));
  std::map<uint64_t, uint32_t> errs;
  for (int i = 0; i < 4; ++i) {
    auto r = c->ReadReply({});
    ASSERT_TRUE(r.ok);
    errs[r.handle] = r.error;
  }
  EXPECT_EQ(errs[1], kEPERM);
  EXPECT_EQ(errs[2], kEPERM);
  EXPECT_EQ(errs[3], kEPERM);
  EXPECT_EQ(errs[4], 0u);
}

TEST_P(ServerTest, RemoveExportFencesItsClientsOnly) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(Connect("disk"));
  auto other = Connect("ro");
  ASSERT_TRUE(server_->RemoveExport("disk").ok());
  for (auto& c : clients) EXPECT_TRUE(c->AtEof());
  EXPECT_EQ(server_->registry().connection_count("disk"), 0u);
  // The other export keeps working; the removed one is gone for new clients.
  other->Send(RequestBytes(kCmdFlush, 9, 0, 0));
  EXPECT_EQ(other->ReadReply({}).handle, 9u);
  Client late;
  ASSERT_TRUE(late.Connect(sock_));
  EXPECT_FALSE(late.Go("disk"));
}

// A snapshot pause (design.md §5): writes issued while the export is paused are held, not
// lost; reads go on; the device is stable (what a snapshot copies) until Resume, and the held
// writes then complete and land.
TEST_P(ServerTest, PausedExportHoldsWritesUntilResume) {
  auto c = Connect("disk", true);
  auto other = Connect("disk", false);  // a second connection of the same export
  const std::string before(4096, 'a'), during(4096, 'b');
  c->Send(RequestBytes(kCmdWrite, 1, 0, 4096, 0, before));
  ASSERT_EQ(c->ReadReply({}).error, 0u);
  ASSERT_TRUE(server_->registry().Pause("disk").ok());
  c->Send(RequestBytes(kCmdWrite, 2, 0, 4096, 0, during));
  other->Send(RequestBytes(kCmdWriteZeroes, 3, 8192, 4096) + RequestBytes(kCmdTrim, 4, 0, 4096));
  while (server_->registry().held_writes("disk") < 3) std::this_thread::yield();
  // The guest keeps reading while its writes wait.
  c->Send(RequestBytes(kCmdRead, 5, 0, 4096));
  auto r = c->ReadReply({{5, {0, 4096}}});
  EXPECT_EQ(r.handle, 5u);
  EXPECT_EQ(r.data, before);
  // What a snapshot taken now copies: the content before the pause.
  std::string snap(4096, '\0');
  ASSERT_TRUE(dev_->Read(snap.data(), snap.size(), 0).ok());
  EXPECT_EQ(snap, before);
  ASSERT_TRUE(server_->registry().Resume("disk").ok());
  EXPECT_EQ(c->ReadReply({}).handle, 2u);
  std::map<uint64_t, uint32_t> errs;
  for (int i = 0; i < 2; ++i) {
    auto rep = other->ReadReply({});
    errs[rep.handle] = rep.error;
  }
  EXPECT_EQ(errs, (std::map<uint64_t, uint32_t>{{3, 0u}, {4, 0u}}));
  EXPECT_EQ(server_->registry().held_writes("disk"), 0);
  c->Send(RequestBytes(kCmdWrite, 6, 4096, 4096, 0, during));  // writes flow again
  EXPECT_EQ(c->ReadReply({}).error, 0u);
  std::string now(8192, '\0');
  ASSERT_TRUE(dev_->Read(now.data(), now.size(), 0).ok());
  EXPECT_EQ(now.substr(4096), during);
  EXPECT_TRUE(now.substr(0, 4096) == during || now.substr(0, 4096) == std::string(4096, '\0'))
      << "the held write and trim of block 0 both landed, in either order";
}

// A large write arriving in pieces (received in place on tmpfs when not paused) is held too.
TEST_P(ServerTest, PausedExportHoldsLargeWritesArrivingInPieces) {
  auto c = Connect("disk", true);
  ASSERT_TRUE(server_->registry().Pause("disk").ok());
  std::string data(256 * 1024, 'z');
  std::string wire = RequestBytes(kCmdWrite, 1, 1 << 20, data.size(), 0, data);
  c->Send(wire.substr(0, 1000));
  c->Send(wire.substr(1000));
  while (server_->registry().held_writes("disk") < 1) std::this_thread::yield();
  std::string got(data.size(), '\0');
  ASSERT_TRUE(dev_->Read(got.data(), got.size(), 1 << 20).ok());
  EXPECT_EQ(got, std::string(data.size(), '\0'));  // nothing landed while paused
  ASSERT_TRUE(server_->registry().Resume("disk").ok());
  EXPECT_EQ(c->ReadReply({}).error, 0u);
  ASSERT_TRUE(dev_->Read(got.data(), got.size(), 1 << 20).ok());
  EXPECT_TRUE(got == data);
  // Not paused: the same kind of write (in place on tmpfs) still goes straight through.
  c->Send(RequestBytes(kCmdWrite, 2, 2 << 20, data.size(), 0, data));
  EXPECT_EQ(c->ReadReply({}).error, 0u);
  ASSERT_TRUE(server_->registry().Pause("disk").ok());  // and pausing still drains
  ASSERT_TRUE(dev_->Read(got.data(), got.size(), 2 << 20).ok());
  EXPECT_TRUE(got == data);
  ASSERT_TRUE(server_->registry().Resume("disk").ok());
}

TEST_P(ServerTest, RemovingAPausedExportRefusesItsHeldWrites) {
  auto c = Connect("disk", true);
  ASSERT_TRUE(server_->registry().Pause("disk").ok());
  c->Send(RequestBytes(kCmdWrite, 1, 0, 4, 0, "late"));
  while (server_->registry().held_writes("disk") < 1) std::this_thread::yield();
  ASSERT_TRUE(server_->RemoveExport("disk").ok());  // returns: nothing waits for a resume
  std::string head(4, '\0');
  ASSERT_TRUE(dev_->Read(head.data(), head.size(), 0).ok());
  EXPECT_EQ(head, std::string(4, '\0'));  // the fenced client's write never landed
  EXPECT_FALSE(server_->registry().Pause("disk").ok());
}

TEST_P(ServerTest, DroppedClientsReconnectToTheSameExport) {
  auto c = Connect("disk", true);
  ASSERT_TRUE(server_->registry().DropConnections("disk").ok());
  EXPECT_TRUE(c->AtEof());
  auto again = Connect("disk", true);
  EXPECT_EQ(again->size_, kSize);
  again->Send(RequestBytes(kCmdFlush, 7, 0, 0));
  auto r = again->ReadReply({});
  EXPECT_EQ(r.handle, 7u);
  EXPECT_EQ(r.error, 0u);
}

TEST_P(ServerTest, GarbageDisconnectsOnlyTheSender) {
  auto good = Connect();
  auto bad = Connect();
  bad->Send(std::string(28, '\x42'));  // bad magic
  EXPECT_TRUE(bad->AtEof());
  auto half = Connect();
  half->Send(RequestBytes(kCmdRead, 1, 0, 4096).substr(0, 10));
  half.reset();  // disconnect mid-header
  auto midwrite = Connect();
  midwrite->Send(RequestBytes(kCmdWrite, 1, 0, 1 << 20) + std::string(1000, 'x'));
  midwrite.reset();  // disconnect mid-payload
  auto huge = Connect();
  huge->Send(RequestBytes(kCmdWrite, 1, 0, kMaxPayload + 1));
  EXPECT_TRUE(huge->AtEof());
  good->Send(RequestBytes(kCmdRead, 5, 0, 4096) + RequestBytes(77, 6, 0, 0));
  std::map<uint64_t, uint32_t> errs;
  for (int i = 0; i < 2; ++i) {
    auto r = good->ReadReply({{5, {0, 4096}}});
    errs[r.handle] = r.error;
  }
  EXPECT_EQ(errs[5], 0u);
  EXPECT_EQ(errs[6], kEINVAL);
}

TEST_P(ServerTest, SilentClientTimesOutInHandshake) {
  Client c;
  ASSERT_TRUE(c.Connect(sock_));
  EXPECT_EQ(c.Recv(18).size(), 18u);
  EXPECT_TRUE(c.AtEof());  // handshake_timeout_ms = 500
}

TEST_P(ServerTest, ManyConnectionsAtOnce) {
  constexpr int kConns = 300;
  std::vector<std::unique_ptr<Client>> cs;
  for (int i = 0; i < kConns; ++i) cs.push_back(Connect());
  for (int i = 0; i < kConns; ++i) cs[i]->Send(RequestBytes(kCmdRead, i, i * 4096, 4096));
  for (int i = 0; i < kConns; ++i) {
    auto r = cs[i]->ReadReply({{static_cast<uint64_t>(i), {i * 4096ull, 4096u}}});
    EXPECT_EQ(r.handle, static_cast<uint64_t>(i));
  }
  EXPECT_GE(server_->connection_count(), static_cast<size_t>(kConns));
}

// Clients that send huge READs (and WRITE headers without their payload) and never read a
// reply are held by backpressure: the server's request memory stays within its budget (plus
// at most one request per connection), other clients are served meanwhile, the hogs'
// requests are delayed, never failed, and each hog finishes while the others still hold their
// share (a connection with nothing outstanding always gets one request).
TEST(ServerMemoryTest, ClientsThatNeverReadRepliesAreHeldToTheBudget) {
  const std::string sock = "/tmp/vbs-nbd-mem-" + std::to_string(::getpid()) + ".sock";
  NbdServerOptions o;
  o.max_request_memory = 40 << 20;
  o.worker_threads = 4;
  NbdServer server(o);
  constexpr uint32_t kLen = 8 << 20;
  ASSERT_TRUE(server.AddExport("disk", std::make_shared<MemDevice>(32 << 20), false).ok());
  ASSERT_TRUE(server.ListenUnix(sock).ok());
  auto connect = [&] {
    auto c = std::make_unique<Client>();
    EXPECT_TRUE(c->Connect(sock));
    EXPECT_TRUE(c->Go("disk"));
    return c;
  };
  constexpr int kReads = 60;
  std::vector<std::unique_ptr<Client>> hogs;
  for (int h = 0; h < 3; ++h) {
    hogs.push_back(connect());
    std::string burst;
    for (int i = 0; i < kReads; ++i) burst += RequestBytes(kCmdRead, i, (i % 4) * kLen, kLen);
    hogs.back()->Send(burst);  // 4 KiB of headers asking for 480 MiB of replies
  }
  auto half_write = connect();
  half_write->Send(RequestBytes(kCmdWrite, 1, 0, kLen));  // the payload never comes
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const size_t bound = (size_t{40} << 20) + 5 * size_t{kLen};  // budget + one per connection
  EXPECT_LE(server.request_memory(), bound);

  auto polite = connect();
  const auto t0 = std::chrono::steady_clock::now();
  polite->Send(RequestBytes(kCmdRead, 7, 4096, 4096));
  auto r = polite->ReadReply({{7, {4096, 4096u}}});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.error, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_LE(server.request_memory(), bound);

  for (auto& hog : hogs) {  // every request is answered once the hog reads
    Client::Reads reads;
    for (int i = 0; i < kReads; ++i) reads[i] = {(i % 4) * uint64_t{kLen}, kLen};
    int answered = 0;
    for (int i = 0; i < kReads; ++i) {
      auto rep = hog->ReadReply(reads);
      if (rep.ok && rep.error == 0 && rep.data.size() == kLen) ++answered;
    }
    EXPECT_EQ(answered, kReads);
  }
  half_write.reset();
  server.Stop();
  EXPECT_EQ(server.request_memory(), 0u);
  ::unlink(sock.c_str());
}

// A throttled export delays requests (never fails them): 400 pipelined 4 KiB reads at 1000
// IOPS cannot all be answered in less than ~0.35 s (the 50 ms burst aside); a limit raised
// while the client is connected applies to the same connection at once.
TEST(ServerThrottleTest, RequestsWaitForTheBucketAndLimitsChangeOnline) {
  const std::string sock = "/tmp/vbs-nbd-qos-" + std::to_string(::getpid()) + ".sock";
  NbdServer server;
  auto throttle = std::make_shared<Throttle>(QosLimits{1000, 0});
  NbdServer::ExportOptions eo;
  eo.throttle = throttle;
  DeviceFactory factory = []() -> Result<std::shared_ptr<BlockDevice>> {
    return std::shared_ptr<BlockDevice>(std::make_shared<MemDevice>(8 << 20));
  };
  ASSERT_TRUE(server.AddExport("disk", factory, false, eo).ok());
  ASSERT_TRUE(server.ListenUnix(sock).ok());
  Client c;
  ASSERT_TRUE(c.Connect(sock));
  ASSERT_TRUE(c.Go("disk"));
  auto run = [&](int n) {
    std::string burst;
    Client::Reads reads;
    for (int i = 0; i < n; ++i) {
      burst += RequestBytes(kCmdRead, i, i * 4096ull, 4096);
      reads[i] = {i * 4096ull, 4096u};
    }
    const auto t0 = std::chrono::steady_clock::now();
    c.Send(burst);
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      auto r = c.ReadReply(reads);
      if (r.ok && r.error == 0) ++ok;
    }
    EXPECT_EQ(ok, n);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const double slow = run(400);
  EXPECT_GE(slow, 0.3);
  throttle->SetLimits(QosLimits{});  // unlimited now, same connection
  const double fast = run(400);
  EXPECT_LT(fast, slow);
  server.Stop();
  ::unlink(sock.c_str());
}

// CAN_MULTI_CONN promises that the connections see each other's writes and that a flush on
// one covers writes completed on all: advertised when they share one device (one object, or
// a factory that shares it, as the agent's SharedDevice) or the device is coherent across
// opens; not for a device opened per connection (MemDevice is not coherent across opens).
TEST(ServerMultiConnTest, AdvertisedOnlyWhenConnectionsShareOrCoherent) {
  const std::string sock = "/tmp/vbs-nbd-mc-" + std::to_string(::getpid()) + ".sock";
  NbdServer server;
  DeviceFactory factory = []() -> Result<std::shared_ptr<BlockDevice>> {
    return std::shared_ptr<BlockDevice>(std::make_shared<MemDevice>(8 << 20));
  };
  ASSERT_TRUE(server.AddExport("per-open", factory, false).ok());
  NbdServer::ExportOptions shares;
  shares.factory_shares_device = true;
  ASSERT_TRUE(server.AddExport("shared", factory, false, shares).ok());
  ASSERT_TRUE(server.AddExport("one", std::make_shared<MemDevice>(8 << 20), false).ok());
  ASSERT_TRUE(server.ListenUnix(sock).ok());
  const std::pair<const char*, bool> cases[] = {
      {"per-open", false}, {"shared", true}, {"one", true}};
  for (auto [name, multi] : cases) {
    Client c;
    ASSERT_TRUE(c.Connect(sock));
    ASSERT_TRUE(c.Go(name)) << name;
    EXPECT_EQ((c.flags_ & kFlagCanMultiConn) != 0, multi) << name;
  }
  server.Stop();
  ::unlink(sock.c_str());
}

TEST(ServerStatsTest, ExportStatsCountWhatWasAnswered) {
  const std::string sock = "/tmp/vbs-nbd-stats-" + std::to_string(::getpid()) + ".sock";
  NbdServer server;
  auto stats = std::make_shared<ExportStats>();
  NbdServer::ExportOptions eo;
  eo.stats = stats;
  DeviceFactory factory = []() -> Result<std::shared_ptr<BlockDevice>> {
    return std::shared_ptr<BlockDevice>(std::make_shared<MemDevice>(8 << 20));
  };
  ASSERT_TRUE(server.AddExport("disk", factory, false, eo).ok());
  ASSERT_TRUE(server.ListenUnix(sock).ok());
  {
    Client c;
    ASSERT_TRUE(c.Connect(sock));
    ASSERT_TRUE(c.Go("disk"));
    const std::string data(65536, 'x');
    c.Send(RequestBytes(kCmdWrite, 1, 0, data.size(), 0, data));
    ASSERT_EQ(c.ReadReply({}).error, 0u);
    c.Send(RequestBytes(kCmdRead, 2, 0, 4096) + RequestBytes(kCmdRead, 3, 4096, 4096));
    Client::Reads reads{{2, {0, 4096u}}, {3, {4096, 4096u}}};
    EXPECT_EQ(c.ReadReply(reads).error, 0u);
    EXPECT_EQ(c.ReadReply(reads).error, 0u);
    c.Send(RequestBytes(kCmdRead, 4, 16 << 20, 4096));  // beyond the end: EINVAL
    EXPECT_NE(c.ReadReply({{4, {16 << 20, 4096u}}}).error, 0u);
    c.Send(RequestBytes(kCmdFlush, 5, 0, 0));
    EXPECT_EQ(c.ReadReply({}).error, 0u);
    EXPECT_EQ(stats->connections.value(), 1);
  }
  server.Stop();
  EXPECT_EQ(stats->write.requests.value(), 1u);
  EXPECT_EQ(stats->write.bytes.value(), 65536u);
  EXPECT_EQ(stats->read.requests.value(), 3u);
  EXPECT_EQ(stats->read.bytes.value(), 8192u) << "the refused read moved nothing";
  EXPECT_EQ(stats->read.errors.value(), 1u);
  EXPECT_EQ(stats->flush.requests.value(), 1u);
  EXPECT_EQ(stats->read.latency.Read().count, 3u);
  EXPECT_EQ(stats->in_flight.value(), 0);
  EXPECT_EQ(stats->connections.value(), 0);
  ::unlink(sock.c_str());
}

TEST_P(ServerTest, StopClosesConnectedClients) {
  auto c = Connect();
  server_->Stop();
  EXPECT_TRUE(c->AtEof());
}

// Handover to a successor (an agent re-executing itself): the connection goes on in the new
// server. Requests sent while nobody serves wait in the socket and are answered by the
// successor; the bytes written before and after read back; the listener goes on too.
TEST_P(ServerTest, AHandedOverConnectionGoesOnInTheSuccessor) {
  auto c = Connect();
  const std::string a(8192, 'a'), b(8192, 'b');
  c->Send(RequestBytes(kCmdWrite, 1, 0, a.size(), 0, a));
  ASSERT_EQ(c->ReadReply({}).error, 0u);
  auto h = server_->Handover(std::chrono::seconds(5));  // the server thread sits in recv
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->connections.size(), 1u);
  ASSERT_EQ(h->listeners.size(), 1u);
  EXPECT_EQ(h->connections[0].export_name, "disk");
  // Sent while no server reads the socket: a write, and half of a read in one segment. (The
  // read does not overlap the write: replies come in completion order, and an overlapping
  // read in flight with a write may see either content.)
  const std::string read = RequestBytes(kCmdRead, 3, 0, a.size());
  c->Send(RequestBytes(kCmdWrite, 2, a.size(), b.size(), 0, b) + read.substr(0, 10));
  NbdServerOptions o;
  o.allow_inline = GetParam().allow_inline;
  o.worker_threads = 2;
  NbdServer next(o);
  ASSERT_TRUE(next.AddExport("disk", dev_, false).ok());
  for (const auto& l : h->listeners) ASSERT_TRUE(next.AdoptListener(l).ok());
  for (auto& hc : h->connections) ASSERT_TRUE(next.AdoptConnection(std::move(hc)).ok());
  c->Send(read.substr(10));
  const Client::Reads reads = {{3, {0, a.size()}}};
  std::map<uint64_t, Client::Rep> got;
  for (int i = 0; i < 2; ++i) {
    auto r = c->ReadReply(reads);
    ASSERT_TRUE(r.ok);
    got[r.handle] = r;
  }
  EXPECT_EQ(got[2].error, 0u);
  EXPECT_EQ(got[3].error, 0u);
  EXPECT_EQ(got[3].data, a);
  c->Send(RequestBytes(kCmdRead, 4, 0, a.size() + b.size()));
  EXPECT_EQ(c->ReadReply({{4, {0, a.size() + b.size()}}}).data, a + b);
  auto fresh = Connect();  // the successor accepts on the adopted listener
  fresh->Send(RequestBytes(kCmdRead, 5, a.size(), b.size()));
  EXPECT_EQ(fresh->ReadReply({{5, {a.size(), b.size()}}}).data, b);
  next.Stop();
  EXPECT_TRUE(c->AtEof());
}

// A connection still in the handshake cannot be handed over: it is closed, the others move.
TEST_P(ServerTest, AHandshakingClientIsClosedAtHandover) {
  auto serving = Connect();
  Client haggling;
  ASSERT_TRUE(haggling.Connect(sock_));
  EXPECT_EQ(haggling.Recv(18).size(), 18u);  // the greeting; no options yet
  auto h = server_->Handover(std::chrono::seconds(5));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->connections.size(), 1u);
  EXPECT_TRUE(haggling.AtEof());
  for (auto& hc : h->connections) ::close(hc.fd);
  for (auto& l : h->listeners) ::close(l.fd);
}

INSTANTIATE_TEST_SUITE_P(Devices, ServerTest,
                         ::testing::Values(Param{nullptr, true}, Param{"/tmp", true},
                                           Param{"/dev/shm", true}, Param{"/tmp", false},
                                           Param{"/tmp", true, /*direct_io=*/true},
                                           Param{nullptr, true, false, /*async=*/true}));

}  // namespace
}  // namespace vbs::nbd
