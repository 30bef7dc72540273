// RAII handles over librados/librbd's C API for the rbd backend, and errno → Status.
//
// RadosPool is one cluster connection and one I/O context on a pool, shared (shared_ptr) by
// the backend and every device it opened, so a device keeps working while the backend goes
// away first. RbdImage owns an open rbd_image_t. librbd calls return -errno; RbdStatus turns
// that into the Status kinds the rest of VBS understands (ENOSPC → InsufficientCapacity,
// EROFS/EPERM → PermissionDenied, EBUSY → Unavailable).
#pragma once

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vbs {

struct RbdPoolOptions {
  std::string ceph_conf;    // path of ceph.conf (mon addresses, keyring, options)
  std::string client_name;  // "client.admin"; empty: librados' default
  std::string keyring;      // keyring path; empty: what ceph.conf says
  std::string pool;         // RBD pool name
};

Status RbdStatus(const std::string& what, int neg_errno);

class RadosPool {
 public:
  static Result<std::shared_ptr<RadosPool>> Connect(const RbdPoolOptions& options);
  ~RadosPool();
  RadosPool(const RadosPool&) = delete;
  RadosPool& operator=(const RadosPool&) = delete;

  rados_t cluster() const { return cluster_; }
  rados_ioctx_t io() const { return io_; }
  const std::string& pool_name() const { return pool_; }

 private:
  RadosPool() = default;
  rados_t cluster_ = nullptr;
  rados_ioctx_t io_ = nullptr;
  std::string pool_;
};

class RbdImage {
 public:
  RbdImage() = default;
  explicit RbdImage(rbd_image_t image) : image_(image) {}
  RbdImage(RbdImage&& o) noexcept : image_(std::exchange(o.image_, nullptr)) {}
  RbdImage& operator=(RbdImage&& o) noexcept {
    if (this != &o) {
      Close();
      image_ = std::exchange(o.image_, nullptr);
    }
    return *this;
  }
  ~RbdImage() { Close(); }
  rbd_image_t get() const { return image_; }
  explicit operator bool() const { return image_ != nullptr; }
  void Close() {
    if (image_) rbd_close(image_);
    image_ = nullptr;
  }

  // Opens image `name` (by_id: the image id). Returns an empty handle when it does not exist.
  static Result<RbdImage> OpenIfExists(rados_ioctx_t io, const std::string& name, bool read_only,
                                       bool by_id = false);

  Result<uint64_t> Size() const;
  Result<std::string> Id() const;
  Result<std::string> Name() const;
  struct Snap {
    uint64_t id;
    uint64_t size;
    std::string name;
  };
  Result<std::vector<Snap>> Snapshots() const;
  Result<bool> HasSnapshot(const std::string& snap) const;
  // (pool name, image id) of the clones of `snap`.
  Result<std::vector<std::pair<std::string, std::string>>> Children(const std::string& snap);
  // Unprotects (if protected) and removes `snap`; missing → OK.
  Status RemoveSnapshot(const std::string& snap);

 private:
  rbd_image_t image_ = nullptr;
};

// Names of the images in the pool.
Result<std::vector<std::string>> ListImages(rados_ioctx_t io);

}  // namespace vbs
