// WorkerPool: threads that run requests which may block (disk reads that miss the cache,
// flushes, FUA writes, trims, remote backends), shared by all connections of a server.
//
// Jobs never touch a client's socket: they hand their reply back to the connection's own
// thread, so a client that stops reading cannot stall the pool for everyone else.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vbs::nbd {

class Job {
 public:
  virtual ~Job() = default;
  virtual void Run() = 0;
};

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // runs queued jobs, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::unique_ptr<Job> job);

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vbs::nbd
