#include "backend/dir/io_ring.h"

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace vbs {

// One read, continued after a short transfer until all of it is done.
struct IoRing::Op {
  int fd;
  uint8_t* buf;
  uint64_t length;  // still to transfer
  uint64_t offset;
  Done done;
};

namespace {
constexpr unsigned kEntries = 1024;  // more than the NBD server lets a node have in flight
}

IoRing* IoRing::Shared() {
  // Made once and never destroyed: its reaper thread runs for the life of the process.
  static IoRing* const ring = [] {
    auto* r = new IoRing();
    if (r->Init()) return r;
    delete r;
    return static_cast<IoRing*>(nullptr);
  }();
  return ring;
}

bool IoRing::Init() {
  if (io_uring_queue_init(kEntries, &ring_, 0) != 0) return false;
  std::thread([this] { ReapLoop(); }).detach();
  return true;
}

void IoRing::Read(int fd, void* buf, uint64_t length, uint64_t offset, Done done) {
  Submit(new Op{fd, static_cast<uint8_t*>(buf), length, offset, std::move(done)});
}

void IoRing::Submit(Op* op) {
  std::lock_guard lock(sq_mu_);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {  // the queue is full of entries the kernel has not taken yet
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  // One transfer is at most 2 GiB - 4 KiB on Linux; NBD requests are far smaller.
  const auto len = static_cast<unsigned>(op->length);
  io_uring_prep_read(sqe, op->fd, op->buf, len, op->offset);
  io_uring_sqe_set_data(sqe, op);
  for (;;) {
    const int n = io_uring_submit(&ring_);
    if (n >= 0) return;
    if (n != -EINTR && n != -EAGAIN && n != -EBUSY) break;
    // EAGAIN/EBUSY: completions are backed up; the reaper is taking them, try again.
    std::this_thread::yield();
  }
  // The entry stays queued and goes with the next submission; nothing more to do here.
}

void IoRing::ReapLoop() {
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc < 0) continue;  // EINTR
    auto* op = static_cast<Op*>(io_uring_cqe_get_data(cqe));
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    Finish(op, res);
  }
}

void IoRing::Finish(Op* op, int res) {
  if (res == -EINTR || res == -EAGAIN) {
    Submit(op);
    return;
  }
  int err = 0;
  if (res < 0) {
    err = -res;
  } else if (res == 0) {
    std::memset(op->buf, 0, op->length);  // past the end of the file: zeroes
  } else if (static_cast<uint64_t>(res) < op->length) {
    op->buf += res;
    op->offset += static_cast<uint64_t>(res);
    op->length -= static_cast<uint64_t>(res);
    Submit(op);
    return;
  }
  Done done = std::move(op->done);
  delete op;
  done(err);
}

}  // namespace vbs
