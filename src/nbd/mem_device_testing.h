// MemDevice: an in-memory BlockDevice for tests and the fuzzer (header only, not shipped).
//
// Tracks allocation per 4 KiB block so Extents reports holes like a sparse file; has no fd,
// so the NBD server runs every request on its worker pool. With `async`, it offers async reads
// and writes like a remote backend: ReadAsync/WriteAsync complete on a thread of its own, in
// batches and out of order, as a remote backend would.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "backend/block_device.h"

namespace vbs::nbd {

class MemDevice final : public BlockDevice {
 public:
  static constexpr uint64_t kBlock = 4096;
  explicit MemDevice(uint64_t size, bool read_only = false, bool async = false)
      : data_(size, 0), alloc_((size + kBlock - 1) / kBlock, false), read_only_(read_only) {
    if (async) completer_ = std::thread([this] { CompleteLoop(); });
  }
  ~MemDevice() override {
    if (!completer_.joinable()) return;
    {
      std::lock_guard lock(qmu_);
      stopping_ = true;
    }
    qcv_.notify_all();
    completer_.join();
  }

  DeviceCapabilities capabilities() const override {
    DeviceCapabilities c;
    c.async_reads = c.async_writes = completer_.joinable();
    return c;
  }
  void ReadAsync(void* buf, uint64_t length, uint64_t offset, IoDone done) override {
    if (!completer_.joinable()) return BlockDevice::ReadAsync(buf, length, offset, done);
    Enqueue(
        [this, buf, length, offset, done = std::move(done)] { done(Read(buf, length, offset)); });
  }
  void WriteAsync(const void* buf, uint64_t length, uint64_t offset, bool fua,
                  IoDone done) override {
    if (!completer_.joinable()) return BlockDevice::WriteAsync(buf, length, offset, fua, done);
    Enqueue([this, buf, length, offset, fua, done = std::move(done)] {
      done(Write(buf, length, offset, fua));
    });
  }

  uint64_t size() const override { return data_.size(); }
  bool read_only() const override { return read_only_; }
  Status Read(void* buf, uint64_t length, uint64_t offset) override {
    std::lock_guard lock(mu_);
    std::memcpy(buf, data_.data() + offset, length);
    ++reads;
    return Status::Ok();
  }
  Status Write(const void* buf, uint64_t length, uint64_t offset, bool fua) override {
    if (read_only_) return Status::PermissionDenied("ReadOnly", "read-only");
    std::lock_guard lock(mu_);
    std::memcpy(data_.data() + offset, buf, length);
    Mark(offset, length, true);
    if (fua) ++flushes;
    return Status::Ok();
  }
  Status Flush() override {
    std::lock_guard lock(mu_);
    ++flushes;
    return Status::Ok();
  }
  Status Trim(uint64_t length, uint64_t offset) override {
    return WriteZeroes(length, offset, true);
  }
  Status WriteZeroes(uint64_t length, uint64_t offset, bool may_punch_hole) override {
    if (read_only_) return Status::PermissionDenied("ReadOnly", "read-only");
    std::lock_guard lock(mu_);
    std::memset(data_.data() + offset, 0, length);
    if (may_punch_hole) {
      // Only whole blocks become holes.
      uint64_t first = (offset + kBlock - 1) / kBlock, last = (offset + length) / kBlock;
      for (uint64_t b = first; b < last; ++b) alloc_[b] = false;
    } else {
      Mark(offset, length, true);
    }
    return Status::Ok();
  }
  Result<std::vector<Extent>> Extents(uint64_t length, uint64_t offset) override {
    std::lock_guard lock(mu_);
    std::vector<Extent> out;
    uint64_t end = std::min<uint64_t>(size(), offset + length);
    uint64_t pos = offset;
    while (pos < end) {
      bool hole = !alloc_[pos / kBlock];
      uint64_t stop = std::min(end, (pos / kBlock + 1) * kBlock);
      if (!out.empty() && out.back().hole == hole) {
        out.back().length += stop - pos;
      } else {
        out.push_back({pos, stop - pos, hole});
      }
      pos = stop;
    }
    return out;
  }

  int flushes = 0;
  int reads = 0;

 private:
  void Mark(uint64_t offset, uint64_t length, bool v) {
    if (length == 0) return;
    for (uint64_t b = offset / kBlock; b <= (offset + length - 1) / kBlock; ++b) alloc_[b] = v;
  }

  void Enqueue(std::function<void()> job) {
    {
      std::lock_guard lock(qmu_);
      queue_.push_back(std::move(job));
    }
    qcv_.notify_one();
  }
  // Runs what has queued up, newest first (completions out of order), until stopped and empty.
  void CompleteLoop() {
    std::unique_lock lock(qmu_);
    for (;;) {
      qcv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::deque<std::function<void()>> batch;
      batch.swap(queue_);
      lock.unlock();
      while (!batch.empty()) {
        batch.back()();
        batch.pop_back();
      }
      lock.lock();
    }
  }

  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread completer_;
  std::mutex mu_;
  std::vector<uint8_t> data_;
  std::vector<bool> alloc_;
  bool read_only_;
};

}  // namespace vbs::nbd
