// The transmission phase of a Connection (see connection.h for the design).
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "nbd/connection.h"

namespace vbs::nbd {
namespace {

constexpr size_t kMaxQueuedBytes = 64 << 20;  // replies not yet sent: stop reading beyond
constexpr int kMaxInflight = 256;             // requests at workers: stop reading beyond
// Request charges (memory_budget.h): what one connection may hold at most, and the part of
// it that does not need the server's shared budget.
constexpr size_t kMaxConnectionCharge = 64 << 20;
constexpr size_t kChargeAllowance = 2 << 20;
constexpr int kMaxIov = 64;
constexpr size_t kFlushEvery = 4;  // replies per sendmsg while a batch is still running
// Smaller file data goes in the same sendmsg as its header: two splice calls would cost more
// than the copy they save.
constexpr size_t kSpliceMin = 64 * 1024;

}  // namespace

// A request handed to a worker. Holds the connection alive until its reply is queued.
class TransmissionJob final : public Job {
 public:
  TransmissionJob(std::shared_ptr<Connection> c, const Request& r, Buffer payload, bool gated)
      : c_(std::move(c)), r_(r), payload_(std::move(payload)), gated_(gated) {}
  void Run() override {
    Reply reply;
    Execute(r_, payload_.data(), c_->ctx_, /*on_loop=*/false, &reply);
    if (gated_) c_->gate_->Leave();
    c_->pool_.Put(std::move(payload_));
    c_->Complete(r_, std::move(reply));
  }

 private:
  std::shared_ptr<Connection> c_;
  Request r_;
  Buffer payload_;
  bool gated_;
};

namespace {

Charge ChargeOf(const Request& req) {
  return Charge{req.charge, req.shared_charge};
}

bool IsWriteType(uint16_t type) {
  return type == kCmdWrite || type == kCmdWriteZeroes || type == kCmdTrim;
}

}  // namespace

bool Connection::Backpressured() const {
  return out_bytes_ > kMaxQueuedBytes || inflight_.load(std::memory_order_relaxed) > kMaxInflight;
}

bool Connection::TakeCharge(Request* req) {
  const size_t cost = req->type == kCmdRead || req->type == kCmdWrite ? req->length : 0;
  if (charged_ > 0 && charged_ + cost > kMaxConnectionCharge) return false;
  bool shared = false;
  if (charged_ + cost > kChargeAllowance && env_.memory != nullptr) {
    // A connection with nothing outstanding always gets its next request, over the budget if
    // need be: otherwise clients that never read their replies could hold the whole budget
    // and starve a well-behaved client's large requests for good. (So the shared budget can
    // be exceeded by at most one request per connection.)
    if (charged_ == 0) {
      env_.memory->Take(cost);
    } else if (!env_.memory->TryTake(cost)) {
      env_.memory->NotifyOnGive(wake_fd_);  // (the poll's timeout covers a Give just before)
      budget_wait_ = true;
      return false;
    }
    shared = true;
  }
  budget_wait_ = false;
  charged_ += cost;
  req->charge = static_cast<uint32_t>(cost);
  req->shared_charge = shared;
  return true;
}

void Connection::ReleaseCharge(const Charge& c) {
  charged_ -= c.bytes;
  if (c.shared) env_.memory->Give(c.bytes);
}

void Connection::Queue(const Request& req, Reply reply) {
  if (stats_ != nullptr) stats_->Answered(req, reply.error, std::chrono::steady_clock::now());
  reply.charge = ChargeOf(req);
  out_bytes_ += reply.total();
  outq_.push_back(std::move(reply));
}

void Connection::Complete(const Request& req, Reply r) {
  if (stats_ != nullptr) stats_->Answered(req, r.error, std::chrono::steady_clock::now());
  r.charge = ChargeOf(req);
  bool wake;
  {
    std::lock_guard lock(cmu_);
    wake = completed_.empty();
    completed_.push_back(std::move(r));
    // Decremented under the lock, after the push: the loop never sees inflight_ == 0 while a
    // reply is still on its way to completed_.
    inflight_.fetch_sub(1);
  }
  if (wake) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
}

void Connection::DrainCompleted() {
  std::vector<Reply> done;
  {
    std::lock_guard lock(cmu_);
    if (completed_.empty()) return;
    done.swap(completed_);
  }
  for (Reply& r : done) {
    out_bytes_ += r.total();
    outq_.push_back(std::move(r));
  }
}

void Connection::Handle(const Request& req, const uint8_t* payload, Buffer* owned, bool entered) {
  if (req.type == kCmdDisc) {
    disc_ = true;  // finish what is in flight, then close (no reply to DISC)
    return;
  }
  if (stats_ != nullptr) stats_->in_flight.Add(1);
  uint32_t err = ValidateRequest(req, ctx_.params);
  if (err != 0) {
    Reply reply;
    EncodeError(req, ctx_.params.structured, err, "invalid request", &pool_, &reply);
    if (entered) gate_->Leave();
    if (owned != nullptr) pool_.Put(std::move(*owned));
    Queue(req, std::move(reply));
    return;
  }
  const bool gated = gate_ != nullptr && IsWriteType(req.type);
  if (gated && !entered && !gate_->TryEnter()) {
    Park(req, payload, owned);
    return;
  }
  Dispatch(req, payload, owned, gated);
}

// A request leaving the loop takes its payload along: the buffer it was received into, or a
// copy of the bytes still in the receive buffer.
Buffer Connection::KeepPayload(const Request& req, const uint8_t* payload, Buffer* owned) {
  if (req.payload_length() == 0 || payload == nullptr) return Buffer();  // none, or in place
  if (owned != nullptr) return std::move(*owned);
  Buffer pb = pool_.Get(req.payload_length());
  std::memcpy(pb.data(), payload, req.payload_length());
  return pb;
}

void Connection::Dispatch(const Request& req, const uint8_t* payload, Buffer* owned, bool gated) {
  if (RunsAsync(req, payload, ctx_)) {
    StartAsyncRequest(req, payload, owned, gated);
    return;
  }
  Reply reply;
  if (Execute(req, payload, ctx_, /*on_loop=*/true, &reply) == ExecResult::kWouldBlock) {
    pool_.Put(std::move(reply.buf));
    pool_.Put(std::move(reply.data));
    Buffer pb = KeepPayload(req, payload, owned);
    inflight_.fetch_add(1);
    env_.workers->Submit(
        std::make_unique<TransmissionJob>(shared_from_this(), req, std::move(pb), gated));
    return;
  }
  if (gated) gate_->Leave();
  if (owned != nullptr) pool_.Put(std::move(*owned));
  Queue(req, std::move(reply));
}

// An asynchronous device's read or write: started here, answered from its completion.
void Connection::StartAsyncRequest(const Request& req, const uint8_t* payload, Buffer* owned,
                                   bool gated) {
  auto held = std::make_shared<Buffer>(KeepPayload(req, payload, owned));
  inflight_.fetch_add(1);  // before the start: the completion may come first
  auto self = shared_from_this();
  StartAsync(req, held->data(), ctx_, [self, req, held, gated](Reply reply) {
    if (gated) self->gate_->Leave();
    self->pool_.Put(std::move(*held));
    self->Complete(req, std::move(reply));
  });
}

void Connection::Park(const Request& req, const uint8_t* payload, Buffer* owned) {
  Buffer pb = KeepPayload(req, payload, owned);
  // Counted as in flight: the connection does not close before it is answered.
  inflight_.fetch_add(1);
  auto self = shared_from_this();
  auto held = std::make_shared<Buffer>(std::move(pb));
  gate_->Park([self, req, held](bool entered) {
    if (entered) {
      // On a worker: this runs on whichever thread resumed the export.
      self->env_.workers->Submit(
          std::make_unique<TransmissionJob>(self, req, std::move(*held), /*gated=*/true));
      return;
    }
    Reply reply;
    EncodeError(req, self->ctx_.params.structured, kESHUTDOWN, "the export was removed",
                &self->pool_, &reply);
    self->pool_.Put(std::move(*held));
    self->Complete(req, std::move(reply));
  });
}

// Parses every complete request in rbuf_. False on a fatal protocol error.
bool Connection::ProcessInput() {
  while (!disc_ && !in_payload_ && !stop_.load(std::memory_order_relaxed) &&
         !handover_.load(std::memory_order_relaxed)) {
    const size_t avail = rend_ - rstart_;
    if (avail < kRequestHeaderSize) break;
    Request req;
    if (ParseRequestHeader(rbuf_.data() + rstart_, &req) != HeaderStatus::kOk) return false;
    // Not parsed before it can be charged: the header stays in rbuf_, and with rbuf_ not
    // read further the client's next requests wait in its socket (backpressure).
    // QoS: a request over the volume's limits waits, unparsed, until the bucket refills.
    const auto now = std::chrono::steady_clock::now();
    if (throttle_ != nullptr) {
      const auto delay = throttle_->Delay(req, now);
      if (delay > std::chrono::steady_clock::duration::zero()) {
        stalled_ = true;
        throttled_until_ = now + delay;
        if (throttled_since_ == std::chrono::steady_clock::time_point{}) throttled_since_ = now;
        break;
      }
    }
    if (throttled_since_ != std::chrono::steady_clock::time_point{}) {
      if (stats_ != nullptr) {
        stats_->throttled_ns.Add(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - throttled_since_).count()));
      }
      throttled_since_ = {};
    }
    if (!TakeCharge(&req)) {
      stalled_ = true;
      break;
    }
    stalled_ = false;
    throttled_until_ = {};
    if (throttle_ != nullptr) throttle_->Take(req, now);
    req.received = now;
    const size_t pl = req.payload_length();
    if (avail - kRequestHeaderSize >= pl) {
      const uint8_t* payload = rbuf_.data() + rstart_ + kRequestHeaderSize;
      rstart_ += kRequestHeaderSize + pl;
      Handle(req, payload, nullptr);
      // Send every few replies instead of once per batch: the client can then work on
      // the first replies (and send new requests) while we run the rest of the batch.
      if (outq_.size() >= kFlushEvery) {
        bool blocked;
        if (!FlushOut(&blocked)) return false;
      }
      continue;
    }
    // The payload is still on its way: collect it in its own buffer, or write it right
    // where it belongs on the device as it arrives.
    rstart_ += kRequestHeaderSize;
    preq_ = req;
    pfill_ = rend_ - rstart_;
    pin_place_ = ReceivesInPlace(req);
    // Bytes received in place are on the device at once: only past the write gate.
    if (pin_place_ && gate_ != nullptr && !gate_->TryEnter()) pin_place_ = false;
    pentered_ = pin_place_ && gate_ != nullptr;
    perr_ = 0;
    pmapped_ = pin_place_ ? MappedTarget(req) : nullptr;
    if (pmapped_ != nullptr) {
      std::memcpy(pmapped_, rbuf_.data() + rstart_, pfill_);
    } else if (pin_place_) {
      WriteInPlace(rbuf_.data() + rstart_, pfill_, 0);
    } else {
      pbuf_ = pool_.Get(pl);
      std::memcpy(pbuf_.data(), rbuf_.data() + rstart_, pfill_);
    }
    rstart_ = rend_;
    in_payload_ = true;
  }
  if (rstart_ == rend_) {
    rstart_ = rend_ = 0;
  } else if (rstart_ > rbuf_.size() / 2) {
    std::memmove(rbuf_.data(), rbuf_.data() + rstart_, rend_ - rstart_);
    rend_ -= rstart_;
    rstart_ = 0;
  }
  return true;
}

// Where a large WRITE's payload may be received in place: a memory-backed device (no write
// can wait for a disk) and a request that is valid (in bounds, export writable). A write
// that is cut off halfway leaves part of its data behind, which the protocol allows for a
// write that was never acknowledged. False: into a buffer.
bool Connection::ReceivesInPlace(const Request& req) const {
  if (!ctx_.caps.memory_backed || ctx_.caps.fd < 0) return false;
  // Bytes received in place reach the device as they arrive, past any check: a leased
  // export's writes each pass the lease check right before the device instead.
  if (ctx_.lease != nullptr) return false;
  if (req.type != kCmdWrite || req.length < kMapMin) return false;
  return ValidateRequest(req, ctx_.params) == 0;
}

// The payload's place in the mapping, if its pages can be made present first. Populating
// them by read faults maps 16 pages per fault (fault-around; tmpfs pages map writable), so
// a fresh connection's first pass costs ~0.1 s per 2 GiB instead of the ~0.7 s that one
// write fault per page took. A page that cannot be had (a hole on a full tmpfs) makes
// madvise fail instead of raising SIGBUS at the copy: the payload is then read and written
// with pwrite, and the write gets ENOSPC. (A TRIM from another connection racing this very
// write on a full tmpfs could still unmap a page in between; tmpfs volumes are scratch and
// benchmark space.)
uint8_t* Connection::MappedTarget(const Request& req) const {
  if (ctx_.map == nullptr || ctx_.params.read_only) return nullptr;
  const uintptr_t page = 4096;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(ctx_.map + req.offset) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(ctx_.map + req.offset + req.length);
  if (::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ) != 0) {
    return nullptr;
  }
  return ctx_.map + req.offset;
}

void Connection::WriteInPlace(const uint8_t* data, size_t len, size_t at) {
  if (len == 0 || perr_ != 0) return;
  Status st = ctx_.dev->Write(data, len, preq_.offset + at, false);
  if (!st.ok()) perr_ = NbdErrorFor(st);
}

// Receives more of an in-place payload that has no place in the mapping: read into rbuf_
// (unused while a payload is collected) and written. Once a part failed to land, the rest is
// read and dropped; the request then gets the error.
Transport::Io Connection::ReceiveInPlace(size_t room) {
  Transport::Io io = transport_.Read(rbuf_.data(), std::min(room, rbuf_.size()));
  if (io.n > 0) WriteInPlace(rbuf_.data(), io.n, pfill_);
  return io;
}

// The whole in-place payload is in: the request runs (its data is already on the device),
// or gets the error that stopped its data.
void Connection::FinishInPlace() {
  pin_place_ = false;
  pmapped_ = nullptr;
  const bool entered = std::exchange(pentered_, false);
  if (perr_ == 0) {
    Handle(preq_, nullptr, nullptr, entered);
    return;
  }
  Reply reply;
  EncodeError(preq_, ctx_.params.structured, perr_, "write failed", &pool_, &reply);
  if (entered) gate_->Leave();
  Queue(preq_, std::move(reply));
}

// Memory-backed device: map its file (see ExecContext::map). The device's size is fixed while
// it is served; a file shrunk behind the server's back would fault (SIGBUS), which is why
// this is limited to memory-backed devices (tmpfs/ramfs: scratch or benchmark volumes). (Populating
// all page tables up front, so small requests could use the mapping too, was measured: ~0.3 s per
// GiB per connection costs more than it saves. Large writes populate just their own range.)
void Connection::MapDevice() {
  const size_t len = ctx_.params.size;
  if (!ctx_.caps.memory_backed || ctx_.caps.fd < 0 || len == 0) return;
  const int prot = PROT_READ | (ctx_.params.read_only ? 0 : PROT_WRITE);
  void* map = ::mmap(nullptr, len, prot, MAP_SHARED, ctx_.caps.fd, 0);
  if (map != MAP_FAILED) ctx_.map = static_cast<uint8_t*>(map);
}

// Whether a reply's file data goes out by splice (zero-copy) rather than through sendmsg.
bool Connection::Spliced(const Reply& r) {
  return r.from_file && r.ext_len >= kSpliceMin && ctx_.caps.fd >= 0 && transport_.CanSplice();
}

// File data that cannot be spliced and has no mapping to be sent from is read now, into the
// reply's own buffer (on this thread: the rare case of a file that refused to splice).
bool Connection::ReadFileData(Reply& r) {
  if (r.ext != nullptr || r.ext_len == 0) return true;
  r.data = pool_.Get(r.ext_len);
  if (!ctx_.dev->Read(r.data.data(), r.ext_len, r.ext_off).ok()) return false;
  r.ext = r.data.data();
  return true;
}

// Sends queued replies; *blocked when the socket is full. False on a dead socket.
bool Connection::FlushOut(bool* blocked) {
  *blocked = false;
  while (!outq_.empty()) {
    Reply& head = outq_.front();
    if (out_head_sent_ >= head.len && Spliced(head)) {
      const size_t done = out_head_sent_ - head.len;
      Transport::Io io =
          transport_.SpliceFile(ctx_.caps.fd, head.ext_off + done, head.ext_len - done);
      if (io.n == 0) {
        if (io.want == Transport::Want::kWrite) {
          *blocked = true;
          return true;
        }
        // The file refused: its data goes from the mapping or a buffer instead (a read error
        // there leaves no way to finish this reply but closing the connection).
        if (!transport_.CanSplice()) {
          if (!ReadFileData(head)) return false;
          continue;
        }
        return false;
      }
      out_head_sent_ += io.n;
      if (out_head_sent_ == head.total()) PopSent();
      continue;
    }
    struct iovec iov[kMaxIov];
    int n = 0;
    for (auto it = outq_.begin(); it != outq_.end() && n + 2 <= kMaxIov; ++it) {
      size_t skip = it == outq_.begin() ? out_head_sent_ : 0;
      if (skip < it->len) {
        iov[n++] = {it->buf.data() + skip, it->len - skip};
        skip = 0;
      } else {
        skip -= it->len;
      }
      if (it->ext_len > skip) {
        if (Spliced(*it)) break;  // its header goes in this call, its data by splice after
        if (!ReadFileData(*it)) return false;
        iov[n++] = {const_cast<uint8_t*>(it->ext) + skip, it->ext_len - skip};
      }
    }
    Transport::Io io = transport_.Writev(iov, n);
    if (io.n == 0) {
      if (io.want == Transport::Want::kWrite || io.want == Transport::Want::kRead) {
        *blocked = true;  // (TLS may want to read to write: poll covers both directions)
        return true;
      }
      return false;
    }
    size_t sent = io.n;
    while (sent > 0) {
      Reply& front = outq_.front();
      const size_t left = front.total() - out_head_sent_;
      if (sent < left) {
        out_head_sent_ += sent;
        break;
      }
      sent -= left;
      PopSent();
    }
  }
  return true;
}

void Connection::PopSent() {
  ReleaseCharge(outq_.front().charge);
  out_bytes_ -= outq_.front().total();
  out_head_sent_ = 0;
  pool_.Put(std::move(outq_.front().buf));
  pool_.Put(std::move(outq_.front().data));
  outq_.pop_front();
}

// Waits (socket closed or fenced) until no request is left at a worker.
void Connection::WaitIdle() {
  while (inflight_.load() > 0) {
    struct pollfd p = {wake_fd_, POLLIN, 0};
    ::poll(&p, 1, 100);
    uint64_t v;
    (void)!::read(wake_fd_, &v, sizeof v);
  }
  DrainCompleted();
  for (const Reply& r : outq_) ReleaseCharge(r.charge);
  outq_.clear();
}

void Connection::Serve(Negotiated& neg) {
  ctx_.dev = neg.exp.device.get();
  ctx_.caps = ctx_.dev->capabilities();
  ctx_.params = {neg.exp.size, neg.exp.read_only, neg.structured, neg.base_allocation};
  ctx_.pool = &pool_;
  gate_ = neg.exp.gate.get();
  ctx_.lease = neg.exp.lease.get();  // null when the export has none
  throttle_ = neg.exp.throttle.get();
  stats_ = neg.exp.stats.get();
  if (stats_ != nullptr) stats_->connections.Add(1);
  ctx_.inline_mode = env_.allow_inline ? ChooseInlineMode(ctx_.caps) : InlineMode::kNever;
  // Reads of resident data on the loop may be left in the file and spliced when sent.
  ctx_.splice_resident =
      (ctx_.inline_mode == InlineMode::kNoWait || ctx_.inline_mode == InlineMode::kResident) &&
      ctx_.caps.page_cache && ctx_.caps.fd >= 0 && transport_.CanSplice();
  MapDevice();

  bool ok = ProcessInput();
  while (ok && !stop_.load(std::memory_order_relaxed)) {
    DrainCompleted();
    bool out_blocked = false;
    if (!FlushOut(&out_blocked)) break;
    if (disc_ && inflight_.load() == 0 && outq_.empty()) break;
    // Handing over: at a request boundary, with nothing in flight and every reply sent, the
    // socket goes to the successor as it is (unparsed bytes travel along).
    if (handover_.load() && transport_.tls()) break;  // cannot move: closed as on a stop
    if (handover_.load() && !in_payload_ && !disc_ && inflight_.load() == 0) {
      DrainCompleted();
      if (outq_.empty()) {
        handed_over_ = true;
        break;
      }
    }

    // Requests left in rbuf_ for want of a charge go first once charges came back.
    if (stalled_ && !in_payload_ && !disc_) {
      ok = ProcessInput();
      if (!ok) break;
    }
    const bool want_read = !disc_ && !stalled_ && !Backpressured() &&
                           (in_payload_ || rend_ < rbuf_.size()) &&
                           (!handover_.load() || in_payload_);
    Transport::Want wait_in = Transport::Want::kRead;
    if (want_read) {
      uint8_t* dst;
      size_t room;
      if (in_payload_) {
        // Straight into the mapping, or (in place without one) by ReceiveInPlace.
        dst = pmapped_ != nullptr ? pmapped_ + pfill_
              : pin_place_        ? nullptr
                                  : pbuf_.data() + pfill_;
        room = preq_.payload_length() - pfill_;
      } else {
        dst = rbuf_.data() + rend_;
        room = rbuf_.size() - rend_;
      }
      // Nothing else to wait for: a blocking recv saves the poll (Fence shuts the socket).
      // inflight_ is checked before draining: a worker pushes its reply before it lowers
      // inflight_, so a reply cannot slip in between and wait behind the blocking recv.
      bool idle = false;
      if (!transport_.tls() && dst != nullptr && inflight_.load() == 0 && !handover_.load()) {
        DrainCompleted();
        idle = outq_.empty();
      }
      Transport::Io io = dst == nullptr ? ReceiveInPlace(room)
                         : idle         ? transport_.ReadBlocking(dst, room)
                                        : transport_.Read(dst, room);
      if (io.n > 0) {
        if (in_payload_) {
          pfill_ += io.n;
          if (pfill_ == preq_.payload_length()) {
            in_payload_ = false;
            if (pin_place_) {
              FinishInPlace();
            } else {
              Buffer owned = std::move(pbuf_);
              Handle(preq_, owned.data(), &owned);
            }
          }
        } else {
          rend_ += io.n;
        }
        ok = ProcessInput();
        // A full read likely left more behind; otherwise the socket is drained for now.
        if (io.n == room || transport_.HasBuffered()) continue;
        DrainCompleted();
        if (!FlushOut(&out_blocked)) break;
        if (!out_blocked && outq_.empty()) continue;
      } else if (io.want == Transport::Want::kEof || io.want == Transport::Want::kError) {
        break;  // client gone: nobody to answer
      } else {
        wait_in = io.want;
      }
    }
    if (stop_.load(std::memory_order_relaxed) || !ok) break;
    // Whatever became ready meanwhile goes out before we sleep.
    DrainCompleted();
    if (!outq_.empty() && !out_blocked) {
      if (!FlushOut(&out_blocked)) break;
      if (!out_blocked) continue;
    }
    // Sleep until the socket or a worker has something for us.
    short ev = 0;
    if (want_read) ev |= wait_in == Transport::Want::kWrite ? POLLOUT : POLLIN;
    if (out_blocked) ev |= POLLOUT | (transport_.tls() ? POLLIN : 0);
    struct pollfd p[2] = {{transport_.fd(), ev, 0}, {wake_fd_, POLLIN, 0}};
    // Stalled on the shared budget: other connections give it back without waking us
    // (memory_budget.h wakes us too; the timeout covers a race). Throttled: until the bucket
    // has refilled.
    struct timespec ts = {0, 10'000'000};
    if (throttled_until_ != std::chrono::steady_clock::time_point{}) {
      const auto left = std::max<std::chrono::nanoseconds>(
          std::chrono::nanoseconds(1000), throttled_until_ - std::chrono::steady_clock::now());
      ts = {static_cast<time_t>(left.count() / 1'000'000'000),
            static_cast<long>(left.count() % 1'000'000'000)};
    }
    // Stalled on this connection's own limit: its sends and completions wake it, no timer.
    const bool timed =
        stalled_ && (budget_wait_ || throttled_until_ != decltype(throttled_until_){});
    if (::ppoll(p, 2, timed ? &ts : nullptr, nullptr) < 0 && errno != EINTR) break;
    if (p[1].revents & POLLIN) {
      uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
    }
    if (p[0].revents & (POLLERR | POLLNVAL)) break;
    if ((p[0].revents & POLLHUP) && !want_read && inflight_.load() == 0) break;
  }
  if (in_payload_) {  // cut off in the middle of a payload: its request never runs
    ReleaseCharge(ChargeOf(preq_));
    in_payload_ = false;
  }
  if (pentered_) gate_->Leave();  // cut off in the middle of a payload received in place
  pentered_ = false;
  pin_place_ = false;
  pmapped_ = nullptr;
  WaitIdle();
  outq_.clear();
  if (stats_ != nullptr) stats_->connections.Add(-1);
  if (env_.memory != nullptr) env_.memory->Forget(wake_fd_);
  if (ctx_.map != nullptr) ::munmap(ctx_.map, ctx_.params.size);
  ctx_.map = nullptr;
}

}  // namespace vbs::nbd
