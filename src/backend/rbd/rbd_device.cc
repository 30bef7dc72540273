#include "backend/rbd/rbd_device.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>

namespace vbs {
namespace {

// Submits one aio request through `submit` and waits for its completion. Returns the
// request's result (bytes for reads, 0 otherwise) or -errno.
ssize_t RunAio(const std::function<int(rbd_completion_t)>& submit) {
  rbd_completion_t c = nullptr;
  int r = rbd_aio_create_completion(nullptr, nullptr, &c);
  if (r < 0) return r;
  r = submit(c);
  if (r < 0) {
    rbd_aio_release(c);
    return r;
  }
  rbd_aio_wait_for_complete(c);
  ssize_t ret = rbd_aio_get_return_value(c);
  rbd_aio_release(c);
  return ret;
}

// librbd takes size_t lengths; NBD requests are at most 32 MiB, but stay correct anyway.
constexpr uint64_t kMaxChunk = uint64_t{1} << 30;

// One asynchronous request in flight: what its completion (on a librbd thread) needs.
struct AsyncOp {
  rbd_image_t image;
  BlockDevice::IoDone done;
  char* read_buf = nullptr;  // a read: zero-fill what lies past the end of the image
  size_t length = 0;
  bool flush_after = false;  // a FUA write: its flush follows, and only that answers
  const char* what = "";
};

void Finish(AsyncOp* op, ssize_t r) {
  BlockDevice::IoDone done = std::move(op->done);
  const char* what = op->what;
  delete op;
  done(r < 0 ? RbdStatus(what, static_cast<int>(r)) : Status::Ok());
}

void Completed(rbd_completion_t c, void* arg) {
  auto* op = static_cast<AsyncOp*>(arg);
  const ssize_t r = rbd_aio_get_return_value(c);
  rbd_aio_release(c);
  if (r >= 0 && op->read_buf != nullptr && static_cast<size_t>(r) < op->length) {
    std::memset(op->read_buf + r, 0, op->length - static_cast<size_t>(r));  // EOF
  }
  if (r >= 0 && op->flush_after) {  // starting an aio request does not block this thread
    op->flush_after = false;
    op->what = "rbd flush";
    rbd_completion_t fc = nullptr;
    int fr = rbd_aio_create_completion(op, Completed, &fc);
    if (fr == 0) fr = rbd_aio_flush(op->image, fc);
    if (fr < 0) {
      if (fc != nullptr) rbd_aio_release(fc);
      Finish(op, fr);
    }
    return;
  }
  Finish(op, r);
}

// Submits through `submit` with a completion that calls Completed; on a failed submission,
// finishes at once.
void Submit(AsyncOp* op, const std::function<int(rbd_completion_t)>& submit) {
  rbd_completion_t c = nullptr;
  int r = rbd_aio_create_completion(op, Completed, &c);
  if (r == 0) r = submit(c);
  if (r < 0) {
    if (c != nullptr) rbd_aio_release(c);
    Finish(op, r);
  }
}

}  // namespace

void RbdDevice::ReadAsync(void* buf, uint64_t length, uint64_t offset, IoDone done) {
  if (length > kMaxChunk) return BlockDevice::ReadAsync(buf, length, offset, std::move(done));
  auto* op = new AsyncOp{.image = image_.get(),
                         .done = std::move(done),
                         .read_buf = static_cast<char*>(buf),
                         .length = static_cast<size_t>(length),
                         .what = "rbd read"};
  Submit(op, [&](rbd_completion_t c) {
    return rbd_aio_read(image_.get(), offset, static_cast<size_t>(length), static_cast<char*>(buf),
                        c);
  });
}

void RbdDevice::WriteAsync(const void* buf, uint64_t length, uint64_t offset, bool fua,
                           IoDone done) {
  if (read_only_) return done(Status::PermissionDenied("ReadOnly", "the device is read-only"));
  if (length > kMaxChunk) return BlockDevice::WriteAsync(buf, length, offset, fua, std::move(done));
  auto* op = new AsyncOp{
      .image = image_.get(), .done = std::move(done), .flush_after = fua, .what = "rbd write"};
  Submit(op, [&](rbd_completion_t c) {
    return rbd_aio_write(image_.get(), offset, static_cast<size_t>(length),
                         static_cast<const char*>(buf), c);
  });
}

Status RbdDevice::Read(void* buf, uint64_t length, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min(length, kMaxChunk));
    ssize_t r =
        RunAio([&](rbd_completion_t c) { return rbd_aio_read(image_.get(), offset, n, p, c); });
    if (r < 0) return RbdStatus("rbd read", static_cast<int>(r));
    if (static_cast<size_t>(r) < n) std::memset(p + r, 0, n - static_cast<size_t>(r));  // EOF
    p += n;
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

Status RbdDevice::Write(const void* buf, uint64_t length, uint64_t offset, bool fua) {
  if (read_only_) return Status::PermissionDenied("ReadOnly", "the device is read-only");
  const auto* p = static_cast<const char*>(buf);
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min(length, kMaxChunk));
    ssize_t r =
        RunAio([&](rbd_completion_t c) { return rbd_aio_write(image_.get(), offset, n, p, c); });
    if (r < 0) return RbdStatus("rbd write", static_cast<int>(r));
    p += n;
    offset += n;
    length -= n;
  }
  return fua ? Flush() : Status::Ok();
}

Status RbdDevice::Flush() {
  ssize_t r = RunAio([&](rbd_completion_t c) { return rbd_aio_flush(image_.get(), c); });
  if (r < 0) return RbdStatus("rbd flush", static_cast<int>(r));
  return Status::Ok();
}

Status RbdDevice::Trim(uint64_t length, uint64_t offset) {
  if (read_only_) return Status::PermissionDenied("ReadOnly", "the device is read-only");
  ssize_t r =
      RunAio([&](rbd_completion_t c) { return rbd_aio_discard(image_.get(), offset, length, c); });
  if (r < 0) return RbdStatus("rbd discard", static_cast<int>(r));
  return Status::Ok();
}

Status RbdDevice::WriteZeroes(uint64_t length, uint64_t offset, bool may_punch_hole) {
  if (read_only_) return Status::PermissionDenied("ReadOnly", "the device is read-only");
  // Without the flag librbd deallocates whole objects it zeroes; NO_HOLE asks to keep the
  // range allocated.
  const int flags = may_punch_hole ? 0 : RBD_WRITE_ZEROES_FLAG_THICK_PROVISION;
  while (length > 0) {
    const size_t n = static_cast<size_t>(std::min(length, kMaxChunk));
    ssize_t r = RunAio([&](rbd_completion_t c) {
      return rbd_aio_write_zeroes(image_.get(), offset, n, c, flags, 0);
    });
    if (r < 0) return RbdStatus("rbd write_zeroes", static_cast<int>(r));
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

Result<std::vector<Extent>> RbdDevice::Extents(uint64_t length, uint64_t offset) {
  struct Walk {
    uint64_t pos;  // end of what has been reported so far
    uint64_t end;
    std::vector<Extent> out;
    void Add(uint64_t off, uint64_t len, bool hole) {
      if (len == 0) return;
      if (!out.empty() && out.back().hole == hole && out.back().offset + out.back().length == off) {
        out.back().length += len;
      } else {
        out.push_back(Extent{off, len, hole});
      }
    }
  } w{offset, offset + length, {}};
  auto cb = [](uint64_t off, size_t len, int exists, void* arg) -> int {
    auto* w = static_cast<Walk*>(arg);
    uint64_t start = std::max(off, w->pos);
    uint64_t stop = std::min<uint64_t>(off + len, w->end);
    if (stop <= start) return 0;
    w->Add(w->pos, start - w->pos, true);
    w->Add(start, stop - start, exists == 0);
    w->pos = stop;
    return 0;
  };
  int r = rbd_diff_iterate2(image_.get(), nullptr, offset, length, /*include_parent=*/1,
                            /*whole_object=*/1, cb, &w);
  if (r < 0) return RbdStatus("rbd_diff_iterate2", r);
  w.Add(w.pos, w.end - w.pos, true);
  if (w.out.empty()) w.out.push_back(Extent{offset, length, true});
  return std::move(w.out);
}

}  // namespace vbs
