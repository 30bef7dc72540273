#include "backend/rbd/rbd_handles.h"

#include <cerrno>
#include <cstring>

namespace vbs {

Status RbdStatus(const std::string& what, int neg_errno) {
  const int err = neg_errno < 0 ? -neg_errno : neg_errno;
  const std::string msg = what + ": " + std::strerror(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status(StatusKind::kInsufficientCapacity, "InsufficientVolumeCapacity", msg);
    case EROFS:
    case EPERM:
    case EACCES:
      return Status::PermissionDenied("ReadOnly", msg);
    case EBUSY:
    case EAGAIN:
    case ETIMEDOUT:
      return Status::Unavailable(msg);
    default:
      return Status::IoError(msg);
  }
}

Result<std::shared_ptr<RadosPool>> RadosPool::Connect(const RbdPoolOptions& o) {
  std::shared_ptr<RadosPool> p(new RadosPool());
  p->pool_ = o.pool;
  const char* client = o.client_name.empty() ? nullptr : o.client_name.c_str();
  int r = rados_create2(&p->cluster_, "ceph", client ? client : "client.admin", 0);
  if (r < 0) {
    p->cluster_ = nullptr;
    return RbdStatus("rados_create2", r);
  }
  if (!o.ceph_conf.empty()) {
    r = rados_conf_read_file(p->cluster_, o.ceph_conf.c_str());
    if (r < 0) return RbdStatus("reading " + o.ceph_conf, r);
  }
  if (!o.keyring.empty()) {
    r = rados_conf_set(p->cluster_, "keyring", o.keyring.c_str());
    if (r < 0) return RbdStatus("keyring " + o.keyring, r);
  }
  // Never hang an agent's start-up forever on an unreachable cluster.
  rados_conf_set(p->cluster_, "client_mount_timeout", "30");
  r = rados_connect(p->cluster_);
  if (r < 0) return RbdStatus("connecting to the Ceph cluster", r);
  r = rados_ioctx_create(p->cluster_, o.pool.c_str(), &p->io_);
  if (r < 0) {
    p->io_ = nullptr;
    if (r == -ENOENT) {
      return Status::NotFound("InvalidParameterValue", "Ceph pool '" + o.pool + "' does not exist");
    }
    return RbdStatus("opening Ceph pool " + o.pool, r);
  }
  return p;
}

RadosPool::~RadosPool() {
  if (io_) rados_ioctx_destroy(io_);
  if (cluster_) rados_shutdown(cluster_);
}

Result<RbdImage> RbdImage::OpenIfExists(rados_ioctx_t io, const std::string& name, bool read_only,
                                        bool by_id) {
  rbd_image_t image = nullptr;
  int r;
  if (by_id) {
    r = read_only ? rbd_open_by_id_read_only(io, name.c_str(), &image, nullptr)
                  : rbd_open_by_id(io, name.c_str(), &image, nullptr);
  } else {
    r = read_only ? rbd_open_read_only(io, name.c_str(), &image, nullptr)
                  : rbd_open(io, name.c_str(), &image, nullptr);
  }
  if (r == -ENOENT) return RbdImage();
  if (r < 0) return RbdStatus("opening image " + name, r);
  return RbdImage(image);
}

Result<uint64_t> RbdImage::Size() const {
  uint64_t size = 0;
  int r = rbd_get_size(image_, &size);
  if (r < 0) return RbdStatus("rbd_get_size", r);
  return size;
}

Result<std::string> RbdImage::Id() const {
  char id[128];
  int r = rbd_get_id(image_, id, sizeof id);
  if (r < 0) return RbdStatus("rbd_get_id", r);
  return std::string(id);
}

Result<std::string> RbdImage::Name() const {
  std::string name(256, '\0');
  size_t len = name.size();
  int r = rbd_get_name(image_, name.data(), &len);
  if (r == -ERANGE) {
    name.resize(len);
    r = rbd_get_name(image_, name.data(), &len);
  }
  if (r < 0) return RbdStatus("rbd_get_name", r);
  name.resize(std::strlen(name.c_str()));
  return name;
}

Result<std::vector<RbdImage::Snap>> RbdImage::Snapshots() const {
  int max = 16;
  std::vector<rbd_snap_info_t> infos;
  int n;
  while (true) {
    infos.resize(static_cast<size_t>(max) + 1);
    n = rbd_snap_list(image_, infos.data(), &max);
    if (n != -ERANGE) break;
  }
  if (n < 0) return RbdStatus("rbd_snap_list", n);
  std::vector<Snap> out;
  for (int i = 0; i < n; ++i) out.push_back(Snap{infos[i].id, infos[i].size, infos[i].name});
  rbd_snap_list_end(infos.data());
  return out;
}

Result<bool> RbdImage::HasSnapshot(const std::string& snap) const {
  bool exists = false;
  int r = rbd_snap_exists(image_, snap.c_str(), &exists);
  if (r < 0) return RbdStatus("rbd_snap_exists " + snap, r);
  return exists;
}

Result<std::vector<std::pair<std::string, std::string>>> RbdImage::Children(
    const std::string& snap) {
  int r = rbd_snap_set(image_, snap.c_str());
  if (r < 0) return RbdStatus("rbd_snap_set " + snap, r);
  size_t max = 8;
  std::vector<rbd_linked_image_spec_t> specs;
  while (true) {
    specs.resize(max);
    r = rbd_list_children3(image_, specs.data(), &max);
    if (r != -ERANGE) break;
  }
  rbd_snap_set(image_, nullptr);
  if (r < 0) return RbdStatus("rbd_list_children3 " + snap, r);
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < max; ++i) {
    if (!specs[i].trash) out.emplace_back(specs[i].pool_name, specs[i].image_id);
  }
  rbd_linked_image_spec_list_cleanup(specs.data(), max);
  return out;
}

Status RbdImage::RemoveSnapshot(const std::string& snap) {
  int is_protected = 0;
  int r = rbd_snap_is_protected(image_, snap.c_str(), &is_protected);
  if (r == -ENOENT) return Status::Ok();
  if (r < 0) return RbdStatus("rbd_snap_is_protected " + snap, r);
  if (is_protected) {
    r = rbd_snap_unprotect(image_, snap.c_str());
    if (r < 0 && r != -EINVAL) return RbdStatus("rbd_snap_unprotect " + snap, r);
  }
  r = rbd_snap_remove(image_, snap.c_str());
  if (r < 0 && r != -ENOENT) return RbdStatus("rbd_snap_remove " + snap, r);
  return Status::Ok();
}

Result<std::vector<std::string>> ListImages(rados_ioctx_t io) {
  size_t max = 64;
  std::vector<rbd_image_spec_t> specs;
  int r;
  while (true) {
    specs.resize(max);
    r = rbd_list2(io, specs.data(), &max);
    if (r != -ERANGE) break;
  }
  if (r < 0) return RbdStatus("rbd_list2", r);
  std::vector<std::string> names;
  for (size_t i = 0; i < max; ++i) names.emplace_back(specs[i].name);
  rbd_image_spec_list_cleanup(specs.data(), max);
  return names;
}

}  // namespace vbs
