#include "nbd/executor.h"

#include <fcntl.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace vbs::nbd {
namespace {

constexpr size_t kMaxDescriptors = 1024;  // bounds a BLOCK_STATUS reply
constexpr auto kSlowProbe = std::chrono::microseconds(500);

void SimpleHeader(uint8_t* p, uint64_t handle, uint32_t err) {
  Store32(p, kSimpleReplyMagic);
  Store32(p + 4, err);
  Store64(p + 8, handle);
}

void ChunkHeader(uint8_t* p, uint16_t flags, uint16_t type, uint64_t handle, uint32_t len) {
  Store32(p, kStructuredReplyMagic);
  Store16(p + 4, flags);
  Store16(p + 6, type);
  Store64(p + 8, handle);
  Store32(p + 16, len);
}

// Size of the header before a read's data sent as one piece: a simple reply, or an
// OFFSET_DATA chunk with its offset.
size_t DataHeaderSize(bool structured) {
  return structured ? kChunkHeaderSize + 8 : kSimpleReplyHeaderSize;
}

// Writes that header (DataHeaderSize bytes) at p.
void DataHeader(uint8_t* p, const Request& r, bool structured) {
  if (structured) {
    ChunkHeader(p, kReplyFlagDone, kReplyTypeOffsetData, r.handle,
                static_cast<uint32_t>(8 + r.length));
    Store64(p + kChunkHeaderSize, r.offset);
  } else {
    SimpleHeader(p, r.handle, 0);
  }
}

// Whether the read's data goes into an aligned buffer of its own that direct I/O can fill.
bool DirectAligned(const Request& r, const DeviceCapabilities& caps) {
  const uint32_t align = caps.direct_align;
  return r.length > 0 && align != 0 && r.length % align == 0 && r.offset % align == 0;
}

void EncodeOk(const Request& r, BufferPool* pool, Reply* out) {
  out->buf = pool->Get(kSimpleReplyHeaderSize);
  SimpleHeader(out->buf.data(), r.handle, 0);
  out->len = kSimpleReplyHeaderSize;
}

// The reply to a request without data: done, or the device's error.
void EncodeResult(const Request& r, bool structured, const Status& st, BufferPool* pool,
                  Reply* out) {
  if (st.ok()) {
    EncodeOk(r, pool, out);
  } else {
    EncodeError(r, structured, NbdErrorFor(st), st.message(), pool, out);
  }
}

// Checked last thing before the device: a write that waited anywhere (a queue, a socket, a
// stopped process) is refused once the node may have lost the volume to another node. True
// (with the EIO reply in `out`) when the lease has run out.
bool LeaseRanOut(const Request& r, const ExecContext& c, Reply* out) {
  if (c.lease == nullptr || c.lease->Valid()) return false;
  EncodeError(r, c.params.structured, kEIO,
              "writes are fenced: this node's lease on the volume ran out", c.pool, out);
  return true;
}

// Reads [off, off+len) into dst. Returns 0, an NBD error, or -EAGAIN when on the loop and the
// data is not at hand without waiting.
int ReadInto(const ExecContext& c, bool on_loop, uint8_t* dst, uint64_t len, uint64_t off) {
  if (on_loop && c.inline_mode == InlineMode::kNoWait) {
    struct iovec iov = {dst, len};
    ssize_t n = ::preadv2(c.caps.fd, &iov, 1, static_cast<off_t>(off), RWF_NOWAIT);
    if (n == static_cast<ssize_t>(len)) return 0;
    return -EAGAIN;  // short, would block, or unsupported: let a worker do it
  }
  // kResident: DoRead checked that the pages are cached.
  if (on_loop && c.inline_mode == InlineMode::kNever) return -EAGAIN;
  Status st = c.dev->Read(dst, len, off);
  return st.ok() ? 0 : static_cast<int>(NbdErrorFor(st));
}

ExecResult DoRead(const Request& r, const ExecContext& c, bool on_loop, Reply* out) {
  if (on_loop && c.inline_mode == InlineMode::kNever) return ExecResult::kWouldBlock;
  const bool resident_only = on_loop && c.inline_mode == InlineMode::kResident;
  if (resident_only && !c.dev->Resident(r.length, r.offset)) return ExecResult::kWouldBlock;
  const bool sr = c.params.structured;
  // Sparse layout only for large structured reads without DF: small reads are the hot path,
  // and asking the device for extents would cost more than sending a few zeroes.
  std::vector<Extent> extents;
  // Not on the loop of a kResident device: asking its file system for holes may wait on it
  // (FUSE sends lseek to its daemon); cached pages are sent as data.
  if (sr && !(r.flags & kCmdFlagDf) && r.length >= kHoleProbeMin && !resident_only &&
      c.probe_holes.load(std::memory_order_relaxed)) {
    const auto start = std::chrono::steady_clock::now();
    auto ex = c.dev->Extents(r.length, r.offset);
    if (ex.ok()) extents = std::move(ex).value();
    if (std::chrono::steady_clock::now() - start > kSlowProbe) {
      c.probe_holes.store(false, std::memory_order_relaxed);
    }
  }
  const uint64_t end = r.offset + r.length;
  // Normalize to consecutive pieces covering the request exactly; unknown tail is data.
  struct Piece {
    uint64_t off, len;
    bool hole;
  };
  std::vector<Piece> pieces;
  uint64_t pos = r.offset;
  for (const Extent& e : extents) {
    if (e.offset + e.length <= pos || e.offset > pos) break;  // not consecutive: stop trusting
    uint64_t stop = std::min(end, e.offset + e.length);
    if (!pieces.empty() && pieces.back().hole == e.hole) {
      pieces.back().len += stop - pos;
    } else {
      pieces.push_back({pos, stop - pos, e.hole});
    }
    pos = stop;
    if (pos >= end) break;
  }
  if (pos < end) {
    if (!pieces.empty() && !pieces.back().hole) {
      pieces.back().len += end - pos;
    } else {
      pieces.push_back({pos, end - pos, false});
    }
  }
  if (r.length == 0) pieces.clear();

  const bool one_piece = !sr || (pieces.size() == 1 && !pieces[0].hole);
  // Where the bytes go: left in the file (mapped, or resident in the page cache) and sent from
  // there, or into a buffer of their own that direct I/O can use, or after the header.
  // (resident_only: already found resident above, not asked twice.)
  const bool from_file =
      on_loop && one_piece && r.length >= kMapMin &&
      (c.map != nullptr ||
       (c.splice_resident && (resident_only || c.dev->Resident(r.length, r.offset))));
  const bool own_buffer = !from_file && one_piece && DirectAligned(r, c.caps);
  if (from_file || own_buffer) {
    if (own_buffer) {
      out->data = c.pool->Get(r.length);
      int err = ReadInto(c, on_loop, out->data.data(), r.length, r.offset);
      if (err == -EAGAIN) return ExecResult::kWouldBlock;
      if (err != 0) {
        EncodeError(r, sr, static_cast<uint32_t>(err), "read failed", c.pool, out);
        return ExecResult::kDone;
      }
      out->ext = out->data.data();
    } else {
      out->ext = c.map != nullptr ? c.map + r.offset : nullptr;
      out->ext_off = r.offset;
      out->from_file = true;
    }
    const size_t hdr = DataHeaderSize(sr);
    out->buf = c.pool->Get(hdr);
    DataHeader(out->buf.data(), r, sr);
    out->len = hdr;
    out->ext_len = r.length;
    return ExecResult::kDone;
  }
  if (!sr) {
    out->buf = c.pool->Get(kSimpleReplyHeaderSize + r.length);
    int err = ReadInto(c, on_loop, out->buf.data() + kSimpleReplyHeaderSize, r.length, r.offset);
    if (err == -EAGAIN) return ExecResult::kWouldBlock;
    if (err != 0) {
      EncodeError(r, false, static_cast<uint32_t>(err), {}, c.pool, out);
      return ExecResult::kDone;
    }
    SimpleHeader(out->buf.data(), r.handle, 0);
    out->len = kSimpleReplyHeaderSize + r.length;
    return ExecResult::kDone;
  }

  if (pieces.empty()) {  // zero-length read: just "done"
    out->buf = c.pool->Get(kChunkHeaderSize);
    ChunkHeader(out->buf.data(), kReplyFlagDone, kReplyTypeNone, r.handle, 0);
    out->len = kChunkHeaderSize;
    return ExecResult::kDone;
  }
  size_t total = 0;
  for (const Piece& p : pieces) total += kChunkHeaderSize + (p.hole ? 12 : 8 + p.len);
  out->buf = c.pool->Get(total);
  uint8_t* w = out->buf.data();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Piece& p = pieces[i];
    // Every byte is read before anything is sent, so the last content chunk may carry DONE.
    const uint16_t flags = i + 1 == pieces.size() ? kReplyFlagDone : 0;
    if (p.hole) {
      ChunkHeader(w, flags, kReplyTypeOffsetHole, r.handle, 12);
      Store64(w + kChunkHeaderSize, p.off);
      Store32(w + kChunkHeaderSize + 8, static_cast<uint32_t>(p.len));
      w += kChunkHeaderSize + 12;
      continue;
    }
    int err = ReadInto(c, on_loop, w + kChunkHeaderSize + 8, p.len, p.off);
    if (err == -EAGAIN) return ExecResult::kWouldBlock;
    if (err != 0) {
      EncodeError(r, true, static_cast<uint32_t>(err), "read failed", c.pool, out);
      return ExecResult::kDone;
    }
    ChunkHeader(w, flags, kReplyTypeOffsetData, r.handle, static_cast<uint32_t>(8 + p.len));
    Store64(w + kChunkHeaderSize, p.off);
    w += kChunkHeaderSize + 8 + p.len;
  }
  out->len = total;
  return ExecResult::kDone;
}

void DoBlockStatus(const Request& r, const ExecContext& c, Reply* out) {
  auto ex = c.dev->Extents(r.length, r.offset);
  if (!ex.ok()) {
    EncodeError(r, true, NbdErrorFor(ex.status()), "extent map failed", c.pool, out);
    return;
  }
  const uint64_t end = r.offset + r.length;
  const size_t max = (r.flags & kCmdFlagReqOne) ? 1 : kMaxDescriptors;
  std::vector<std::pair<uint32_t, uint32_t>> desc;  // (length, flags)
  uint64_t pos = r.offset;
  for (const Extent& e : *ex) {
    if (desc.size() >= max || pos >= end) break;
    if (e.offset + e.length <= pos || e.offset > pos) break;
    uint64_t stop = std::min(end, e.offset + e.length);
    uint32_t flags = e.hole ? (kStateHole | kStateZero) : 0;
    if (!desc.empty() && desc.back().second == flags) {
      desc.back().first += static_cast<uint32_t>(stop - pos);
    } else {
      desc.emplace_back(static_cast<uint32_t>(stop - pos), flags);
    }
    pos = stop;
  }
  if (desc.empty()) desc.emplace_back(r.length, 0);  // "allocated/unknown" is always true
  const uint32_t len = static_cast<uint32_t>(4 + 8 * desc.size());
  out->buf = c.pool->Get(kChunkHeaderSize + len);
  uint8_t* w = out->buf.data();
  ChunkHeader(w, kReplyFlagDone, kReplyTypeBlockStatus, r.handle, len);
  Store32(w + kChunkHeaderSize, kBaseAllocationId);
  for (size_t i = 0; i < desc.size(); ++i) {
    Store32(w + kChunkHeaderSize + 4 + 8 * i, desc[i].first);
    Store32(w + kChunkHeaderSize + 8 + 8 * i, desc[i].second);
  }
  out->len = kChunkHeaderSize + len;
}

}  // namespace

InlineMode ChooseInlineMode(const DeviceCapabilities& caps) {
  if (caps.fd < 0) return InlineMode::kNever;
  if (caps.memory_backed) return InlineMode::kAlways;
  if (caps.nowait_reads) return InlineMode::kNoWait;
  return caps.page_cache ? InlineMode::kResident : InlineMode::kNever;
}

uint32_t NbdErrorFor(const Status& s) {
  if (s.code() == kFastZeroUnsupported) return kENOTSUP;
  switch (s.kind()) {
    case StatusKind::kPermissionDenied:
      return kEPERM;
    case StatusKind::kInsufficientCapacity:
      return kENOSPC;
    case StatusKind::kInvalidArgument:
      return kEINVAL;
    default:
      return kEIO;
  }
}

void EncodeError(const Request& r, bool structured, uint32_t err, std::string_view message,
                 BufferPool* pool, Reply* out) {
  out->error = err;
  if (!structured) {
    out->buf = pool->Get(kSimpleReplyHeaderSize);
    SimpleHeader(out->buf.data(), r.handle, err);
    out->len = kSimpleReplyHeaderSize;
    return;
  }
  message = message.substr(0, 256);
  const uint32_t len = static_cast<uint32_t>(6 + message.size());
  out->buf = pool->Get(kChunkHeaderSize + len);
  uint8_t* w = out->buf.data();
  ChunkHeader(w, kReplyFlagDone, kReplyTypeError, r.handle, len);
  Store32(w + kChunkHeaderSize, err);
  Store16(w + kChunkHeaderSize + 4, static_cast<uint16_t>(message.size()));
  std::copy(message.begin(), message.end(), w + kChunkHeaderSize + 6);
  out->len = kChunkHeaderSize + len;
}

bool RunsAsync(const Request& r, const uint8_t* payload, const ExecContext& c) {
  if (r.length == 0) return false;
  if (r.type == kCmdRead) return c.caps.async_reads;
  return r.type == kCmdWrite && payload != nullptr && c.caps.async_writes;
}

void StartAsync(const Request& r, const uint8_t* payload, const ExecContext& c,
                std::function<void(Reply)> done) {
  BufferPool* pool = c.pool;
  const bool sr = c.params.structured;
  if (r.type == kCmdWrite) {
    Reply refused;
    if (LeaseRanOut(r, c, &refused)) return done(std::move(refused));
    c.dev->WriteAsync(payload, r.length, r.offset, r.flags & kCmdFlagFua,
                      [r, sr, pool, done = std::move(done)](Status st) {
                        Reply out;
                        EncodeResult(r, sr, st, pool, &out);
                        done(std::move(out));
                      });
    return;
  }
  // A read: one data chunk (no hole probe: asking an asynchronous backend for extents would
  // wait on it here). The data goes straight behind its header, or, for direct I/O, into an
  // aligned buffer of its own that the disk can fill.
  const size_t hdr = DataHeaderSize(sr);
  const bool own_buffer = DirectAligned(r, c.caps);
  auto out = std::make_shared<Reply>();
  uint8_t* data;
  if (own_buffer) {
    out->data = pool->Get(r.length);
    out->buf = pool->Get(hdr);
    out->len = hdr;
    data = out->data.data();
    out->ext = data;
    out->ext_len = r.length;
  } else {
    out->buf = pool->Get(hdr + r.length);
    out->len = hdr + r.length;
    data = out->buf.data() + hdr;
  }
  c.dev->ReadAsync(data, r.length, r.offset, [r, sr, pool, out, done = std::move(done)](Status st) {
    if (!st.ok()) {
      pool->Put(std::move(out->buf));
      pool->Put(std::move(out->data));
      out->ext = nullptr;
      out->ext_len = 0;
      EncodeError(r, sr, NbdErrorFor(st), "read failed", pool, out.get());
    } else {
      DataHeader(out->buf.data(), r, sr);
    }
    done(std::move(*out));
  });
}

ExecResult Execute(const Request& r, const uint8_t* payload, const ExecContext& c, bool on_loop,
                   Reply* out) {
  BlockDevice& dev = *c.dev;
  const bool fua = r.flags & kCmdFlagFua;
  if (r.type == kCmdRead) return DoRead(r, c, on_loop, out);
  if (on_loop) {
    // Off the read path only plain writes may run here, and only when they cannot stall
    // behind a disk flush; everything else is a worker's job.
    const bool plain_write = r.type == kCmdWrite && !fua;
    if (c.inline_mode == InlineMode::kNever || c.inline_mode == InlineMode::kResident) {
      return ExecResult::kWouldBlock;
    }
    if (c.inline_mode == InlineMode::kNoWait && !plain_write) return ExecResult::kWouldBlock;
  }
  const bool writes = r.type == kCmdWrite || r.type == kCmdTrim || r.type == kCmdWriteZeroes;
  if (writes && LeaseRanOut(r, c, out)) return ExecResult::kDone;
  Status st;
  switch (r.type) {
    case kCmdWrite:
      if (payload == nullptr) {  // already written as it arrived (received in place)
        st = fua ? dev.Flush() : Status::Ok();
      } else {
        st = dev.Write(payload, r.length, r.offset, fua);
      }
      break;
    case kCmdFlush:
      st = dev.Flush();
      break;
    case kCmdTrim:
      st = r.length ? dev.Trim(r.length, r.offset) : Status::Ok();
      if (st.ok() && fua) st = dev.Flush();
      break;
    case kCmdWriteZeroes: {
      const bool may_punch = !(r.flags & kCmdFlagNoHole);
      if (r.length == 0) {
        st = Status::Ok();
      } else if (r.flags & kCmdFlagFastZero) {
        st = dev.WriteZeroesFast(r.length, r.offset, may_punch);
      } else {
        st = dev.WriteZeroes(r.length, r.offset, may_punch);
      }
      if (st.ok() && fua) st = dev.Flush();
      break;
    }
    case kCmdCache:
      if (c.caps.fd >= 0 && c.caps.page_cache && r.length > 0) {
        ::posix_fadvise(c.caps.fd, static_cast<off_t>(r.offset), r.length, POSIX_FADV_WILLNEED);
      }
      break;
    case kCmdBlockStatus:
      DoBlockStatus(r, c, out);
      return ExecResult::kDone;
    default:
      EncodeError(r, c.params.structured, kEINVAL, "unknown command", c.pool, out);
      return ExecResult::kDone;
  }
  EncodeResult(r, c.params.structured, st, c.pool, out);
  return ExecResult::kDone;
}

}  // namespace vbs::nbd
