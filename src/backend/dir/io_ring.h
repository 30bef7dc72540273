// IoRing: asynchronous file reads through one io_uring per process.
//
// FileDevice uses it for direct I/O: the data path starts a request from a connection's
// thread and the kernel runs it, so no thread of the server sits in pread per request
// and the number in flight is the client's queue depth, not the worker pool's size. One
// thread reaps completions and runs each request's callback on it (callbacks must be quick:
// hand the result to another thread). Submission is safe from any thread.
//
// Short reads are continued until the whole range is done; a read past the end of the file
// fills the rest with zeroes. A failed read completes with its errno. (Writes went through
// here too for a while: on ext4 with O_DIRECT they measured slower than workers, see
// docs/decisions.md, so there is no Write.)
#pragma once

#include <liburing.h>

#include <cstdint>
#include <functional>
#include <mutex>

namespace vbs {

class IoRing {
 public:
  // errno of a failed transfer, 0 once every byte was transferred.
  using Done = std::function<void(int err)>;

  // The process's ring, set up on first use; null where io_uring cannot be used (an old
  // kernel, or a seccomp policy that forbids it): callers then do blocking I/O.
  static IoRing* Shared();

  void Read(int fd, void* buf, uint64_t length, uint64_t offset, Done done);

 private:
  struct Op;
  IoRing() = default;
  bool Init();
  void Submit(Op* op);
  void ReapLoop();
  void Finish(Op* op, int res);

  io_uring ring_{};
  std::mutex sq_mu_;  // the submission queue has one producer at a time
};

}  // namespace vbs
