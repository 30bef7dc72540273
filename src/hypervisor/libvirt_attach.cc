#include "hypervisor/libvirt_attach.h"

#include <libvirt/virterror.h>

#include <algorithm>
#include <thread>

namespace vbs::hypervisor {

namespace {

using Clock = std::chrono::steady_clock;

// libvirt accepts user aliases "ua-" + [A-Za-z0-9_-]+.
bool ValidAlias(const std::string& alias) {
  if (alias.rfind(kVbsAliasPrefix, 0) != 0 || alias.size() == kVbsAliasPrefix.size()) {
    return false;
  }
  return std::all_of(alias.begin(), alias.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string UuidOf(virDomainPtr dom) {
  char buf[VIR_UUID_STRING_BUFLEN] = {};
  return virDomainGetUUIDString(dom, buf) == 0 ? std::string(buf) : std::string();
}

Status NotReleased(const std::string& alias, const std::string& why) {
  return Status(StatusKind::kUnavailable, "GuestDidNotReleaseDevice",
                "the guest did not release " + alias + " (" + why +
                    "); the unplug request stays pending, detach again to keep waiting");
}

Status RequireRunning(virDomainPtr dom, const std::string& domain) {
  if (virDomainIsActive(dom) == 1) return Status::Ok();
  return Status::Conflict("IncorrectInstanceState", "domain " + domain + " is not running");
}

}  // namespace

Result<std::vector<DomainDisk>> LibvirtAttach::LiveDisks(virDomainPtr dom) {
  char* xml = virDomainGetXMLDesc(dom, 0);
  if (xml == nullptr) return LibvirtStatus("reading the domain XML");
  auto disks = ParseDisks(xml);
  free(xml);  // NOLINT: libvirt allocates with malloc
  return disks;
}

Result<std::optional<DomainDisk>> LibvirtAttach::FindDisk(virDomainPtr dom,
                                                          const std::string& alias) {
  VBS_ASSIGN_OR_RETURN(std::vector<DomainDisk> disks, LiveDisks(dom));
  for (DomainDisk& d : disks) {
    if (d.alias == alias) return std::optional<DomainDisk>(std::move(d));
  }
  return std::optional<DomainDisk>();
}

Status LibvirtAttach::Attach(const std::string& domain, const LibvirtDiskSpec& spec) {
  if (!ValidAlias(spec.alias)) {
    return Status::InvalidArgument(
        "InvalidParameterValue",
        "bad disk alias '" + spec.alias + "': a volume id is letters, digits, '-' and '_'");
  }
  if (spec.nbd_socket_path.empty()) {
    return Status::InvalidArgument("InvalidParameterValue", "no NBD socket path");
  }
  std::lock_guard lock(mu_);
  VBS_ASSIGN_OR_RETURN(DomainRef dom, conn_->Lookup(domain));
  VBS_RETURN_IF_ERROR(RequireRunning(dom.get(), domain));
  VBS_ASSIGN_OR_RETURN(std::vector<DomainDisk> disks, LiveDisks(dom.get()));
  for (const DomainDisk& d : disks) {
    if (d.alias != spec.alias) continue;
    if (d.protocol == "nbd" && d.socket == spec.nbd_socket_path &&
        d.export_name == spec.export_name && d.read_only == spec.read_only) {
      return Status::Ok();  // already attached the same way
    }
    return Status::Conflict("AttachConflict", spec.alias + " is attached as " + d.target_dev +
                                                  " from '" + d.export_name + "' on " + d.socket +
                                                  (d.read_only ? " read-only" : " read-write") +
                                                  ": detach first");
  }
  std::string target = FirstFreeVirtioTarget(disks);
  if (target.empty()) {
    return Status::Conflict("AttachmentLimitExceeded", "no free vdX target in " + domain);
  }
  VBS_ASSIGN_OR_RETURN(ConnectRef conn, conn_->Connection());
  unsigned long version = 0;
  if (virConnectGetLibVersion(conn.get(), &version) < 0) {
    return LibvirtStatus("asking libvirt's version");
  }
  const std::string xml = DiskXml(spec, target, version >= kReconnectSince);
  if (virDomainAttachDeviceFlags(dom.get(), xml.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    return LibvirtStatus("attaching " + spec.alias + " to " + domain);
  }
  return Status::Ok();
}

Status LibvirtAttach::Detach(const std::string& domain, const std::string& volume_id) {
  const std::string alias = std::string(kVbsAliasPrefix) + volume_id;
  if (!ValidAlias(alias)) {
    return Status::InvalidArgument("InvalidParameterValue", "bad volume id '" + volume_id + "'");
  }
  std::lock_guard lock(mu_);
  VBS_ASSIGN_OR_RETURN(DomainRef dom, conn_->Lookup(domain));
  if (virDomainIsActive(dom.get()) != 1) return Status::Ok();  // nothing is attached live
  VBS_ASSIGN_OR_RETURN(std::optional<DomainDisk> disk, FindDisk(dom.get(), alias));
  if (!disk) return Status::Ok();
  // Watch before asking, so that a removal that completes at once is not missed.
  auto watch = conn_->WatchRemoval(UuidOf(dom.get()), alias);
  if (virDomainDetachDeviceAlias(dom.get(), alias.c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
    Status st = LibvirtStatus("detaching " + alias + " from " + domain);
    // A repeated request while the guest has not yet answered the first is fine: wait on.
    if (st.message().find("already in the process of unplug") == std::string::npos) {
      if (st.code() == "AttachmentNotFound") return Status::Ok();
      return st;
    }
  }
  const auto deadline = Clock::now() + options_.detach_timeout;
  while (true) {
    auto slice = std::min(deadline, Clock::now() + std::chrono::seconds(1));
    switch (watch->Wait(slice)) {
      case LibvirtConnection::RemovalOutcome::kRemoved:
      case LibvirtConnection::RemovalOutcome::kDomainStopped:
        return Status::Ok();
      case LibvirtConnection::RemovalOutcome::kFailed:
        return NotReleased(alias, "QEMU reported DEVICE_REMOVAL_FAILED");
      case LibvirtConnection::RemovalOutcome::kPending:
        break;
    }
    if (virDomainIsActive(dom.get()) != 1) return Status::Ok();
    auto still = FindDisk(dom.get(), alias);
    if (still.ok() && !still->has_value()) return Status::Ok();
    if (Clock::now() >= deadline) {
      return NotReleased(alias, "no DEVICE_REMOVED event within " +
                                    std::to_string(options_.detach_timeout.count()) + " ms");
    }
  }
}

Status LibvirtAttach::Resize(const std::string& domain, const std::string& volume_id,
                             uint64_t new_size_bytes) {
  const std::string alias = std::string(kVbsAliasPrefix) + volume_id;
  std::lock_guard lock(mu_);
  VBS_ASSIGN_OR_RETURN(DomainRef dom, conn_->Lookup(domain));
  VBS_RETURN_IF_ERROR(RequireRunning(dom.get(), domain));
  VBS_ASSIGN_OR_RETURN(std::optional<DomainDisk> disk, FindDisk(dom.get(), alias));
  if (!disk) {
    return Status::NotFound("AttachmentNotFound", "no disk " + alias + " in " + domain);
  }
  virDomainBlockInfo info{};
  if (virDomainGetBlockInfo(dom.get(), disk->target_dev.c_str(), &info, 0) < 0) {
    return LibvirtStatus("reading the size of " + alias);
  }
  if (new_size_bytes < info.capacity) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "volumes only grow: " + std::to_string(new_size_bytes) +
                                       " < current " + std::to_string(info.capacity));
  }
  if (new_size_bytes == info.capacity) return Status::Ok();
  const auto deadline = Clock::now() + options_.resize_timeout;
  while (true) {
    if (virDomainBlockResize(dom.get(), disk->target_dev.c_str(), new_size_bytes,
                             VIR_DOMAIN_BLOCK_RESIZE_BYTES) == 0) {
      return Status::Ok();
    }
    Status st = LibvirtStatus("resizing " + alias);
    if (st.message().find("Cannot grow NBD nodes") == std::string::npos) return st;
    if (Clock::now() >= deadline) {
      return Status::Conflict(
          "ExportNotResized",
          "QEMU's NBD connection for " + alias + " still reports " + std::to_string(info.capacity) +
              " bytes: grow the export, then drop its connection; QEMU reconnects and learns "
              "the new size on the guest's next I/O (NBD has no resize notification)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<std::vector<LibvirtAttachedDisk>> LibvirtAttach::List(const std::string& domain) {
  std::lock_guard lock(mu_);
  VBS_ASSIGN_OR_RETURN(DomainRef dom, conn_->Lookup(domain));
  VBS_ASSIGN_OR_RETURN(std::vector<DomainDisk> disks, LiveDisks(dom.get()));
  std::vector<LibvirtAttachedDisk> out;
  for (const DomainDisk& d : disks) {
    if (d.alias.rfind(kVbsAliasPrefix, 0) != 0) continue;
    LibvirtAttachedDisk a;
    a.volume_id = d.alias.substr(kVbsAliasPrefix.size());
    a.alias = d.alias;
    a.target_dev = d.target_dev;
    a.export_name = d.export_name;
    a.socket = d.socket;
    a.serial = d.serial;
    a.read_only = d.read_only;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace vbs::hypervisor
