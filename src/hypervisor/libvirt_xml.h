// libvirt_xml: the pure pieces of the libvirt driver — names derived from a domain, the
// <disk> XML VBS hot-plugs, and reading disks and owner metadata out of libvirt's XML.
//
// Contract:
// - InstanceIdForUuid: "i-" + the first 17 hex digits of the UUID (dashes removed, lower
//   case), the VBS instance id form; "" for a string that is not a UUID.
// - DiskXml: one <disk type='network'> reading NBD over a unix socket, with the alias
//   "ua-vbs-<volume id>" (libvirt requires user aliases to start "ua-"); every value is
//   XML-escaped. <reconnect delay> is written only when asked (libvirt >= 9.2 knows it; older
//   versions drop it silently).
// - ParseDisks: every <disk> under <devices> of a domain XML, in document order. Malformed
//   XML is InvalidArgument.
// - OwnerFromMetadata: the text of the <owner> element of the VBS metadata element
//   (namespace kVbsMetadataNs), "" when absent or not a valid user name (a-z 0-9 . _ -,
//   at most 64 bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/xml_escape.h"

namespace vbs::hypervisor {

inline constexpr std::string_view kVbsMetadataNs = "https://vbs.dev/xmlns/libvirt/1";
inline constexpr std::string_view kVbsAliasPrefix = "ua-vbs-";

// What VBS puts into a domain for one volume.
struct LibvirtDiskSpec {
  std::string volume_id;        // "vol-…"
  std::string alias;            // "ua-vbs-vol-…"
  std::string serial;           // virtio-blk serial the guest sees (≤ 20 bytes)
  std::string nbd_socket_path;  // the export's unix socket
  std::string export_name;      // NBD export name
  bool read_only = false;
  int reconnect_delay_s = 30;  // used only where libvirt supports <reconnect>

  static LibvirtDiskSpec ForVolume(std::string_view volume_id, std::string nbd_socket_path,
                                   std::string export_name, bool read_only);
};

// One <disk> of a domain, as libvirt describes it.
struct DomainDisk {
  std::string alias;        // <alias name>, "" when none
  std::string target_dev;   // <target dev> ("vda")
  std::string target_bus;   // <target bus> ("virtio")
  std::string type;         // <disk type> ("network", "file", …)
  std::string protocol;     // <source protocol> ("nbd")
  std::string export_name;  // <source name>
  std::string socket;       // <source><host socket> (unix transport)
  std::string serial;       // <serial>
  bool read_only = false;   // <readonly/>
};

std::string InstanceIdForUuid(std::string_view uuid);
std::string DiskXml(const LibvirtDiskSpec& spec, const std::string& target_dev,
                    bool with_reconnect);
Result<std::vector<DomainDisk>> ParseDisks(std::string_view domain_xml);
// The first of vda..vdz that no disk of `disks` uses as its target, "" when all are taken.
std::string FirstFreeVirtioTarget(const std::vector<DomainDisk>& disks);
std::string OwnerFromMetadata(std::string_view metadata_xml);
bool ValidOwnerName(std::string_view name);

}  // namespace vbs::hypervisor
