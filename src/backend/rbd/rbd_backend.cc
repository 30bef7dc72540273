#include "backend/rbd/rbd_backend.h"
#include "backend/rbd/rbd_fencing.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "backend/backend_checks.h"
#include "backend/rbd/rbd_device.h"
#include "common/ids.h"

namespace vbs {
namespace {

constexpr char kPartial[] = ".partial";
constexpr char kDeleted[] = ".deleted";
constexpr char kDeleting[] = ".deleting";
constexpr char kSnapKeyPrefix[] = "vbs_snap_";
constexpr auto kRetryDelay = std::chrono::seconds(2);

using backend::CheckSize;
using backend::CheckSnapshotId;
using backend::CheckVolumeId;
using backend::SnapshotNotFound;
using backend::VolumeNotFound;

Status SizeConflict(const std::string& id, uint64_t existing, uint64_t size) {
  return Status::Conflict("IncorrectState", "volume " + id + " exists with size " +
                                                std::to_string(existing) + ", not " +
                                                std::to_string(size));
}

// The id in front of `suffix` when `name` is "<id><suffix>" with a valid id of `prefix`.
std::string IdBefore(std::string_view name, std::string_view suffix, std::string_view prefix) {
  if (!name.ends_with(suffix)) return "";
  std::string_view id = name.substr(0, name.size() - suffix.size());
  return IsValidId(id, prefix) ? std::string(id) : "";
}

// The flatten progress callback's context.
struct FlattenCtx {
  std::atomic<int>* percent;
  std::string child;
  int last_logged = -10;
};

int OnFlattenProgress(uint64_t offset, uint64_t total, void* arg) {
  auto* ctx = static_cast<FlattenCtx*>(arg);
  const int pct = total == 0 ? 100 : static_cast<int>(offset * 100 / total);
  ctx->percent->store(pct);
  if (pct >= ctx->last_logged + 10) {
    spdlog::info("rbd: flattening {}: {}%", ctx->child, pct);
    ctx->last_logged = pct;
  }
  return 0;
}

}  // namespace

RbdBackend::RbdBackend(std::shared_ptr<RadosPool> pool) : pool_(std::move(pool)) {}

Result<std::unique_ptr<RbdBackend>> RbdBackend::OpenPool(const RbdPoolOptions& options) {
  if (options.pool.empty()) {
    return Status::InvalidArgument("InvalidParameterValue", "empty RBD pool name");
  }
  VBS_ASSIGN_OR_RETURN(auto pool, RadosPool::Connect(options));
  std::unique_ptr<RbdBackend> b(new RbdBackend(std::move(pool)));
  b->busy_ = true;  // the start-up scan counts as work for WaitIdle
  b->thread_ = std::thread([p = b.get()] { p->Loop(); });
  return b;
}

RbdBackend::~RbdBackend() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status RbdBackend::RemoveImage(const std::string& name) {
  int r = rbd_remove(pool_->io(), name.c_str());
  if (r == 0 || r == -ENOENT) return Status::Ok();
  if (r == -EBUSY) return Status::Unavailable("image " + name + " is still open somewhere");
  return RbdStatus("removing image " + name, r);
}

Status RbdBackend::CreateVolume(const std::string& volume_id, uint64_t size) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSize(size));
  rados_ioctx_t io = pool_->io();
  VBS_ASSIGN_OR_RETURN(RbdImage existing, RbdImage::OpenIfExists(io, volume_id, true));
  if (!existing) {
    const std::string partial = volume_id + kPartial;
    VBS_RETURN_IF_ERROR(RemoveImage(partial));  // a leftover of a crashed run
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    int r = rbd_create4(io, partial.c_str(), size, opts);
    rbd_image_options_destroy(opts);
    if (r < 0) return RbdStatus("creating image " + partial, r);
    r = rbd_rename(io, partial.c_str(), volume_id.c_str());
    if (r == 0) return Status::Ok();
    Status removed = RemoveImage(partial);
    if (r != -EEXIST) return RbdStatus("renaming " + partial, r);
    VBS_RETURN_IF_ERROR(removed);
    VBS_ASSIGN_OR_RETURN(existing, RbdImage::OpenIfExists(io, volume_id, true));
    if (!existing) return Status::Unavailable("volume " + volume_id + " is changing");
  }
  VBS_ASSIGN_OR_RETURN(uint64_t cur, existing.Size());
  if (cur == size) return Status::Ok();
  return SizeConflict(volume_id, cur, size);
}

Status RbdBackend::DeleteVolume(const std::string& volume_id) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  rados_ioctx_t io = pool_->io();
  VBS_RETURN_IF_ERROR(RemoveImage(volume_id + kPartial));
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(io, volume_id, true));
  if (!image) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(auto snaps, image.Snapshots());
  if (!snaps.empty()) {
    // RBD keeps an image while it has snapshots: hide it until the last one goes.
    image.Close();
    const std::string hidden = volume_id + kDeleted;
    int r = rbd_rename(io, volume_id.c_str(), hidden.c_str());
    if (r < 0 && r != -ENOENT) return RbdStatus("renaming " + volume_id, r);
    return Status::Ok();
  }
  // A clone whose parent snapshot is waiting for its clones to go: tell the background
  // thread, which then removes the snapshot without flattening this one.
  rbd_linked_image_spec_t parent{};
  rbd_snap_spec_t parent_snap{};
  std::pair<std::string, std::string> parent_work;
  if (rbd_get_parent(image.get(), &parent, &parent_snap) == 0) {
    if (std::string_view(parent_snap.name).ends_with(kDeleting)) {
      parent_work = {parent.image_id, parent_snap.name};
    }
    rbd_linked_image_spec_cleanup(&parent);
    rbd_snap_spec_cleanup(&parent_snap);
  }
  image.Close();
  VBS_RETURN_IF_ERROR(RemoveImage(volume_id));
  if (!parent_work.first.empty()) Enqueue(parent_work.first, parent_work.second);
  return Status::Ok();
}

Status RbdBackend::ResizeVolume(const std::string& volume_id, uint64_t new_size) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSize(new_size));
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(pool_->io(), volume_id, false));
  if (!image) return VolumeNotFound(volume_id);
  VBS_ASSIGN_OR_RETURN(uint64_t cur, image.Size());
  if (new_size == cur) return Status::Ok();
  if (new_size < cur) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "volumes only grow: " + std::to_string(new_size) + " < " + std::to_string(cur));
  }
  int r = rbd_resize2(image.get(), new_size, /*allow_shrink=*/false, nullptr, nullptr);
  if (r < 0) return RbdStatus("resizing " + volume_id, r);
  return Status::Ok();
}

Result<uint64_t> RbdBackend::VolumeSize(const std::string& volume_id) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(pool_->io(), volume_id, true));
  if (!image) return VolumeNotFound(volume_id);
  return image.Size();
}

Result<std::string> RbdBackend::SnapshotImageId(const std::string& snapshot_id) {
  const std::string key = kSnapKeyPrefix + snapshot_id;
  char buf[128];
  size_t len = sizeof buf;
  int r = rbd_pool_metadata_get(pool_->io(), key.c_str(), buf, &len);
  if (r == -ENOENT) return std::string();
  if (r < 0) return RbdStatus("reading pool metadata " + key, r);
  return std::string(buf, len > 0 && buf[len - 1] == '\0' ? len - 1 : len);
}

Status RbdBackend::CreateSnapshot(const std::string& volume_id, const std::string& snapshot_id,
                                  const ProgressFn& progress) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSnapshotId(snapshot_id));
  rados_ioctx_t io = pool_->io();
  VBS_ASSIGN_OR_RETURN(std::string known, SnapshotImageId(snapshot_id));
  if (!known.empty()) {
    VBS_ASSIGN_OR_RETURN(RbdImage img, RbdImage::OpenIfExists(io, known, true, true));
    if (img) {
      VBS_ASSIGN_OR_RETURN(bool done, img.HasSnapshot(snapshot_id));
      if (done) {
        if (progress) progress(100);
        return Status::Ok();
      }
    }
  }
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(io, volume_id, false));
  if (!image) return VolumeNotFound(volume_id);
  VBS_ASSIGN_OR_RETURN(std::string image_id, image.Id());
  // The mapping first: a snapshot is never there without a way to find it.
  const std::string key = kSnapKeyPrefix + snapshot_id;
  int r = rbd_pool_metadata_set(io, key.c_str(), image_id.c_str());
  if (r < 0) return RbdStatus("writing pool metadata " + key, r);
  const std::string partial = snapshot_id + kPartial;
  VBS_RETURN_IF_ERROR(image.RemoveSnapshot(partial));
  if (progress) progress(0);
  r = rbd_snap_create(image.get(), partial.c_str());
  if (r < 0) return RbdStatus("creating snapshot " + partial, r);
  r = rbd_snap_protect(image.get(), partial.c_str());
  if (r < 0 && r != -EBUSY) return RbdStatus("protecting snapshot " + partial, r);
  r = rbd_snap_rename(image.get(), partial.c_str(), snapshot_id.c_str());
  if (r < 0) return RbdStatus("renaming snapshot " + partial, r);
  if (progress) progress(100);
  return Status::Ok();
}

Status RbdBackend::DeleteSnapshot(const std::string& snapshot_id) {
  VBS_RETURN_IF_ERROR(CheckSnapshotId(snapshot_id));
  VBS_ASSIGN_OR_RETURN(std::string image_id, SnapshotImageId(snapshot_id));
  if (image_id.empty()) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(pool_->io(), image_id, false, true));
  if (image) {
    VBS_RETURN_IF_ERROR(image.RemoveSnapshot(snapshot_id + kPartial));
    const std::string deleting = snapshot_id + kDeleting;
    VBS_ASSIGN_OR_RETURN(bool present, image.HasSnapshot(snapshot_id));
    if (present) {
      VBS_ASSIGN_OR_RETURN(auto children, image.Children(snapshot_id));
      if (!children.empty()) {
        // Clones read through this snapshot: hide it now, flatten them in the background.
        int r = rbd_snap_rename(image.get(), snapshot_id.c_str(), deleting.c_str());
        if (r < 0) return RbdStatus("renaming snapshot " + snapshot_id, r);
      } else {
        VBS_RETURN_IF_ERROR(image.RemoveSnapshot(snapshot_id));
      }
    }
    VBS_ASSIGN_OR_RETURN(bool pending, image.HasSnapshot(deleting));
    if (pending) {
      image.Close();
      Enqueue(image_id, deleting);
      return Status::Ok();
    }
  }
  image.Close();
  // FinishDeletion with nothing to flatten: drops the mapping and a .deleted image left bare.
  return FinishDeletion(image_id, snapshot_id);
}

Status RbdBackend::CreateVolumeFromSnapshot(const std::string& snapshot_id,
                                            const std::string& volume_id, uint64_t size,
                                            const ProgressFn& progress) {
  VBS_RETURN_IF_ERROR(CheckSnapshotId(snapshot_id));
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(CheckSize(size));
  rados_ioctx_t io = pool_->io();
  VBS_ASSIGN_OR_RETURN(RbdImage existing, RbdImage::OpenIfExists(io, volume_id, true));
  if (!existing) {
    VBS_ASSIGN_OR_RETURN(std::string parent_id, SnapshotImageId(snapshot_id));
    if (parent_id.empty()) return SnapshotNotFound(snapshot_id);
    VBS_ASSIGN_OR_RETURN(RbdImage parent, RbdImage::OpenIfExists(io, parent_id, true, true));
    if (!parent) return SnapshotNotFound(snapshot_id);
    VBS_ASSIGN_OR_RETURN(auto snaps, parent.Snapshots());
    const RbdImage::Snap* snap = nullptr;
    for (const auto& s : snaps) {
      if (s.name == snapshot_id) snap = &s;
    }
    if (!snap) return SnapshotNotFound(snapshot_id);
    if (size < snap->size) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "size " + std::to_string(size) +
                                         " is smaller than the snapshot's " +
                                         std::to_string(snap->size));
    }
    const uint64_t snap_size = snap->size;
    VBS_ASSIGN_OR_RETURN(std::string parent_name, parent.Name());
    parent.Close();
    const std::string partial = volume_id + kPartial;
    VBS_RETURN_IF_ERROR(RemoveImage(partial));
    if (progress) progress(0);
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    int r = rbd_clone3(io, parent_name.c_str(), snapshot_id.c_str(), io, partial.c_str(), opts);
    rbd_image_options_destroy(opts);
    if (r < 0) return RbdStatus("cloning " + parent_name + "@" + snapshot_id, r);
    if (size > snap_size) {
      VBS_ASSIGN_OR_RETURN(RbdImage clone, RbdImage::OpenIfExists(io, partial, false));
      if (!clone) return Status::Unavailable("image " + partial + " vanished");
      r = rbd_resize2(clone.get(), size, false, nullptr, nullptr);
      if (r < 0) return RbdStatus("resizing " + partial, r);
    }
    r = rbd_rename(io, partial.c_str(), volume_id.c_str());
    if (r < 0) {
      Status removed = RemoveImage(partial);
      if (r != -EEXIST) return RbdStatus("renaming " + partial, r);
      VBS_RETURN_IF_ERROR(removed);
    }
    VBS_ASSIGN_OR_RETURN(existing, RbdImage::OpenIfExists(io, volume_id, true));
    if (!existing) return Status::Unavailable("volume " + volume_id + " is changing");
  }
  VBS_ASSIGN_OR_RETURN(uint64_t cur, existing.Size());
  if (cur != size) return SizeConflict(volume_id, cur, size);
  if (progress) progress(100);
  return Status::Ok();
}

Result<PoolStats> RbdBackend::Stats() {
  // The pool's own view (`ceph df`): what it stores and what it can still take, both after
  // replication, so that volume sizes compare with them directly.
  const char* cmd[] = {R"({"prefix": "df", "format": "json"})"};
  char* out = nullptr;
  size_t out_len = 0;
  char* err = nullptr;
  size_t err_len = 0;
  int r = rados_mon_command(pool_->cluster(), cmd, 1, "", 0, &out, &out_len, &err, &err_len);
  std::string text(out ? out : "", out_len);
  std::string errs(err ? err : "", err_len);
  rados_buffer_free(out);
  rados_buffer_free(err);
  if (r < 0) return RbdStatus("ceph df: " + errs, r);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.contains("pools")) return Status::IoError("ceph df: bad answer");
  for (const auto& p : j["pools"]) {
    if (p.value("name", "") != pool_->pool_name()) continue;
    const auto& s = p["stats"];
    PoolStats st;
    st.free_bytes = s.value("max_avail", uint64_t{0});
    st.total_bytes = s.value("stored", uint64_t{0}) + st.free_bytes;
    return st;
  }
  return Status::IoError("ceph df does not list pool " + pool_->pool_name());
}

Result<BackendObjects> RbdBackend::List() {
  BackendObjects out;
  rados_ioctx_t io = pool_->io();
  VBS_ASSIGN_OR_RETURN(auto names, ListImages(io));
  for (const std::string& name : names) {
    const bool is_volume = IsValidId(name, "vol");
    if (!is_volume && !IdBefore(name, kPartial, "vol").empty()) {
      out.partials.push_back(name);
      continue;
    }
    if (!is_volume && IdBefore(name, kDeleted, "vol").empty()) continue;  // not ours
    if (is_volume) out.volumes.push_back(name);
    VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(io, name, true));
    if (!image) continue;  // removed meanwhile
    VBS_ASSIGN_OR_RETURN(auto snaps, image.Snapshots());
    for (const auto& s : snaps) {
      if (IsValidId(s.name, "snap")) {
        out.snapshots.push_back(s.name);
      } else if (!IdBefore(s.name, kPartial, "snap").empty()) {
        out.partials.push_back(name + "@" + s.name);
      } else if (!IdBefore(s.name, kDeleting, "snap").empty()) {
        VBS_ASSIGN_OR_RETURN(std::string id, image.Id());
        Enqueue(id, s.name);  // interrupted background work
      }
    }
  }
  std::sort(out.volumes.begin(), out.volumes.end());
  std::sort(out.snapshots.begin(), out.snapshots.end());
  std::sort(out.partials.begin(), out.partials.end());
  return out;
}

Status RbdBackend::RemovePartial(const std::string& name) {
  const size_t at = name.find('@');
  if (at == std::string::npos) {
    if (!IdBefore(name, kPartial, "vol").empty()) return RemoveImage(name);
  } else {
    const std::string image_name = name.substr(0, at);
    const std::string snap = name.substr(at + 1);
    const bool image_ok =
        IsValidId(image_name, "vol") || !IdBefore(image_name, kDeleted, "vol").empty();
    if (image_ok && !IdBefore(snap, kPartial, "snap").empty()) {
      VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(pool_->io(), image_name, false));
      if (!image) return Status::Ok();
      return image.RemoveSnapshot(snap);
    }
  }
  return Status::InvalidArgument("InvalidParameterValue",
                                 "'" + name + "' is not the name of a half-made object");
}

Result<std::unique_ptr<BlockDevice>> RbdBackend::Open(const std::string& volume_id,
                                                      bool read_only) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(pool_->io(), volume_id, read_only));
  if (!image) return VolumeNotFound(volume_id);
  VBS_ASSIGN_OR_RETURN(uint64_t size, image.Size());
  return std::unique_ptr<BlockDevice>(
      std::make_unique<RbdDevice>(pool_, std::move(image), size, read_only));
}

// ---- fencing (rbd_fencing.h)

Result<std::string> RbdBackend::ClientIdentity() {
  return rbdfence::ClientAddress(pool_->cluster());
}

Status RbdBackend::FenceClient(const std::string& client, const std::string& volume_id) {
  VBS_RETURN_IF_ERROR(CheckVolumeId(volume_id));
  VBS_RETURN_IF_ERROR(rbdfence::Blocklist(pool_->cluster(), client, true));
  return rbdfence::BreakLocks(pool_->io(), volume_id);
}

Status RbdBackend::UnfenceClient(const std::string& client) {
  return rbdfence::Blocklist(pool_->cluster(), client, false);
}

// ---- background work: flattening the clones of deleted snapshots

Status RbdBackend::ScanForWork() {
  rados_ioctx_t io = pool_->io();
  VBS_ASSIGN_OR_RETURN(auto names, ListImages(io));
  for (const std::string& name : names) {
    const bool deleted = !IdBefore(name, kDeleted, "vol").empty();
    if (!deleted && !IsValidId(name, "vol")) continue;
    VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(io, name, true));
    if (!image) continue;
    VBS_ASSIGN_OR_RETURN(auto snaps, image.Snapshots());
    if (deleted && snaps.empty()) {
      image.Close();
      VBS_RETURN_IF_ERROR(RemoveImage(name));
      continue;
    }
    for (const auto& s : snaps) {
      if (!IdBefore(s.name, kDeleting, "snap").empty()) {
        VBS_ASSIGN_OR_RETURN(std::string id, image.Id());
        Enqueue(id, s.name);
      }
    }
  }
  return Status::Ok();
}

void RbdBackend::Enqueue(const std::string& image_id, const std::string& snap_name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (queued_.insert({image_id, snap_name}).second) {
    queue_.emplace_back(image_id, snap_name);
    cv_.notify_all();
  }
}

void RbdBackend::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopping_ || (queue_.empty() && !busy_); });
}

void RbdBackend::Loop() {
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  if (Status st = ScanForWork(); !st.ok()) {
    spdlog::warn("rbd: scanning pool {} for unfinished work: {}", pool_->pool_name(),
                 st.ToString());
  }
  lock.lock();
  busy_ = false;
  cv_.notify_all();
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto work = queue_.front();
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    Status st = FinishDeletion(work.first, work.second);
    lock.lock();
    busy_ = false;
    queued_.erase(work);
    if (!st.ok()) {
      spdlog::warn("rbd: finishing deletion of snapshot {} (image {}): {}; retrying", work.second,
                   work.first, st.ToString());
      cv_.wait_for(lock, kRetryDelay, [&] { return stopping_; });
      if (stopping_) return;
      if (queued_.insert(work).second) queue_.push_back(work);
    }
    cv_.notify_all();
  }
}

Status RbdBackend::FinishDeletion(const std::string& image_id, const std::string& snap_name) {
  rados_ioctx_t io = pool_->io();
  const bool deleting = std::string_view(snap_name).ends_with(kDeleting);
  const std::string snapshot_id =
      deleting ? snap_name.substr(0, snap_name.size() - std::strlen(kDeleting)) : snap_name;
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(io, image_id, false, true));
  if (image) {
    VBS_ASSIGN_OR_RETURN(bool present, image.HasSnapshot(snap_name));
    if (present && deleting) {
      VBS_ASSIGN_OR_RETURN(auto children, image.Children(snap_name));
      for (const auto& [pool_name, child_id] : children) {
        rados_ioctx_t child_io = io;
        rados_ioctx_t other = nullptr;
        if (pool_name != pool_->pool_name()) {
          int r = rados_ioctx_create(pool_->cluster(), pool_name.c_str(), &other);
          if (r < 0) return RbdStatus("opening pool " + pool_name, r);
          child_io = other;
        }
        auto child = RbdImage::OpenIfExists(child_io, child_id, false, true);
        Status st = child.status();
        if (st.ok() && *child) {
          FlattenCtx ctx{&flatten_progress_, pool_name + "/" + child_id};
          int r = rbd_flatten_with_progress(child->get(), OnFlattenProgress, &ctx);
          if (r < 0 && r != -EINVAL) st = RbdStatus("flattening " + ctx.child, r);  // EINVAL: flat
          if (st.ok()) {
            ++flattened_;
            spdlog::info("rbd: flattened {} (its snapshot {} is deleted)", ctx.child, snapshot_id);
          }
        }
        child = RbdImage();
        if (other) rados_ioctx_destroy(other);
        flatten_progress_.store(-1);
        VBS_RETURN_IF_ERROR(st);
      }
    }
    if (present) VBS_RETURN_IF_ERROR(image.RemoveSnapshot(snap_name));
    VBS_ASSIGN_OR_RETURN(std::string name, image.Name());
    VBS_ASSIGN_OR_RETURN(auto left, image.Snapshots());
    image.Close();
    if (left.empty() && !IdBefore(name, kDeleted, "vol").empty()) {
      VBS_RETURN_IF_ERROR(RemoveImage(name));
    }
  }
  const std::string key = kSnapKeyPrefix + snapshot_id;
  int r = rbd_pool_metadata_remove(io, key.c_str());
  if (r < 0 && r != -ENOENT) return RbdStatus("removing pool metadata " + key, r);
  return Status::Ok();
}

}  // namespace vbs
