#include "backend/rbd/rbd_fencing.h"

#include <rbd/librbd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "backend/rbd/rbd_handles.h"

namespace vbs::rbdfence {

Result<std::string> ClientAddress(rados_t cluster) {
  char* raw = nullptr;
  int r = rados_getaddrs(cluster, &raw);
  if (r < 0) return RbdStatus("rados_getaddrs", r);
  std::string addrs(raw != nullptr ? raw : "");
  std::free(raw);
  // "[v2:127.0.0.1:0/123,v1:127.0.0.1:0/123]" or "127.0.0.1:0/123": the first, bare.
  if (!addrs.empty() && addrs.front() == '[') addrs = addrs.substr(1);
  if (!addrs.empty() && addrs.back() == ']') addrs.pop_back();
  std::string addr = addrs.substr(0, addrs.find(','));
  for (const char* type : {"v1:", "v2:", "any:"}) {
    if (addr.rfind(type, 0) == 0) addr = addr.substr(std::string(type).size());
  }
  if (addr.empty() || addr.find('/') == std::string::npos) {
    return Status::Internal("unexpected Ceph client address '" + addrs + "'");
  }
  return addr;
}

Status Blocklist(rados_t cluster, const std::string& addr, bool add) {
  const std::string cmd = nlohmann::json{
      {"prefix", "osd blocklist"},
      {"blocklistop", add ? "add" : "rm"},
      {"addr", addr}}.dump();
  const char* cmds[] = {cmd.c_str()};
  char* out = nullptr;
  char* status = nullptr;
  size_t outlen = 0, statuslen = 0;
  int r = rados_mon_command(cluster, cmds, 1, "", 0, &out, &outlen, &status, &statuslen);
  std::string message(status != nullptr ? std::string(status, statuslen) : "");
  rados_buffer_free(out);
  rados_buffer_free(status);
  if (r < 0) {
    Status st = RbdStatus(std::string("osd blocklist ") + (add ? "add " : "rm ") + addr, r);
    return Status(st.kind(), st.code(), st.message() + (message.empty() ? "" : ": " + message));
  }
  return Status::Ok();
}

Status BreakLocks(rados_ioctx_t io, const std::string& image_name) {
  VBS_ASSIGN_OR_RETURN(RbdImage image, RbdImage::OpenIfExists(io, image_name, false));
  if (!image) return Status::Ok();  // nothing to unlock
  rbd_lock_mode_t mode;
  std::vector<char*> owners(8, nullptr);
  size_t count = owners.size();
  int r = rbd_lock_get_owners(image.get(), &mode, owners.data(), &count);
  if (r == -ENOENT || (r == 0 && count == 0)) return Status::Ok();
  if (r < 0) return RbdStatus("rbd_lock_get_owners " + image_name, r);
  Status result;
  for (size_t i = 0; i < count; ++i) {
    int b = rbd_lock_break(image.get(), mode, owners[i]);
    if (b < 0 && b != -ENOENT && result.ok()) result = RbdStatus("rbd_lock_break " + image_name, b);
  }
  rbd_lock_get_owners_cleanup(owners.data(), count);
  return result;
}

}  // namespace vbs::rbdfence
