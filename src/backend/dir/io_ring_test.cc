#include "backend/dir/io_ring.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vbs {
namespace {

// Waits for a number of completions and keeps their errnos.
class Waiter {
 public:
  IoRing::Done Add() {
    std::lock_guard lock(mu_);
    ++pending_;
    return [this](int err) {
      std::lock_guard lock(mu_);
      errs_.push_back(err);
      if (--pending_ == 0) cv_.notify_all();
    };
  }
  std::vector<int> Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return pending_ == 0; });
    return errs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int pending_ = 0;
  std::vector<int> errs_;
};

class IoRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ring_ = IoRing::Shared();
    ASSERT_NE(ring_, nullptr) << "io_uring is not available on this kernel";
    path_ = "/tmp/vbs-io-ring-test-XXXXXX";
    fd_ = ::mkstemp(path_.data());
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(::ftruncate(fd_, 1 << 20), 0);
  }
  void TearDown() override {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  IoRing* ring_ = nullptr;
  std::string path_;
  int fd_ = -1;
};

TEST_F(IoRingTest, ManyReadsInFlight) {
  constexpr int kOps = 200;  // more than any worker pool, fewer than the ring's entries
  std::vector<std::string> blocks;
  for (int i = 0; i < kOps; ++i) blocks.emplace_back(4096, static_cast<char>('a' + i % 26));
  for (int i = 0; i < kOps; ++i) {
    ASSERT_EQ(::pwrite(fd_, blocks[i].data(), 4096, i * 4096), 4096);
  }
  std::vector<std::string> back(kOps, std::string(4096, '\0'));
  Waiter r;
  for (int i = 0; i < kOps; ++i) ring_->Read(fd_, back[i].data(), 4096, i * 4096ull, r.Add());
  for (int err : r.Wait()) EXPECT_EQ(err, 0);
  for (int i = 0; i < kOps; ++i) EXPECT_EQ(back[i], blocks[i]) << "block " << i;
}

TEST_F(IoRingTest, ReadPastTheEndGivesZeroes) {
  std::string data(1000, 'x');
  ASSERT_EQ(::pwrite(fd_, data.data(), data.size(), (1 << 20) - 1000), 1000);
  std::string back(8000, '?');  // 1000 bytes of file, then 7000 past its end
  Waiter w;
  ring_->Read(fd_, back.data(), back.size(), (1 << 20) - 1000, w.Add());
  ASSERT_EQ(w.Wait(), std::vector<int>{0});
  EXPECT_EQ(back.substr(0, 1000), data);
  EXPECT_EQ(back.substr(1000), std::string(7000, '\0'));
}

TEST_F(IoRingTest, ErrorsComeBackAsErrno) {
  std::string buf(4096, '\0');
  Waiter w;
  ring_->Read(-1, buf.data(), buf.size(), 0, w.Add());
  int wofd = ::open(path_.c_str(), O_WRONLY);
  ASSERT_GE(wofd, 0);
  ring_->Read(wofd, buf.data(), buf.size(), 0, w.Add());
  auto errs = w.Wait();
  ::close(wofd);
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], EBADF);
  EXPECT_EQ(errs[1], EBADF);
}

TEST_F(IoRingTest, DirectReadsFromManyThreads) {
  int dfd = ::open(path_.c_str(), O_RDWR | O_DIRECT);
  ASSERT_GE(dfd, 0);
  void* mem = nullptr;
  ASSERT_EQ(::posix_memalign(&mem, 4096, 1 << 20), 0);
  std::unique_ptr<char, decltype(&std::free)> buf(static_cast<char*>(mem), &std::free);
  for (int i = 0; i < 256; ++i) std::memset(buf.get() + i * 4096, i, 4096);
  ASSERT_EQ(::pwrite(fd_, buf.get(), 1 << 20, 0), 1 << 20);
  ASSERT_EQ(::fdatasync(fd_), 0);
  std::memset(buf.get(), 0xee, 1 << 20);
  Waiter w;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 256; i += 4)
        ring_->Read(dfd, buf.get() + i * 4096, 4096, i * 4096ull, w.Add());
    });
  }
  for (auto& t : threads) t.join();
  for (int err : w.Wait()) EXPECT_EQ(err, 0);
  ::close(dfd);
  for (int i = 0; i < 256; ++i) {
    EXPECT_EQ(static_cast<unsigned char>(buf.get()[i * 4096 + 17]), i) << "block " << i;
  }
}

}  // namespace
}  // namespace vbs
