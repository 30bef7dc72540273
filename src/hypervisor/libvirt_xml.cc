#include "hypervisor/libvirt_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "hypervisor/qemu_attach.h"

namespace vbs::hypervisor {

namespace {

constexpr size_t kInstanceHexDigits = 17;
constexpr size_t kMaxOwnerName = 64;

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using Doc = std::unique_ptr<xmlDoc, DocFree>;

// No network, no entity expansion from outside, no error spew on stderr.
Doc ParseXml(std::string_view xml) {
  if (xml.size() > static_cast<size_t>(INT32_MAX)) return nullptr;
  return Doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

bool IsElement(const xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

const xmlNode* Child(const xmlNode* parent, const char* name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (IsElement(c, name)) return c;
  }
  return nullptr;
}

std::string Attr(const xmlNode* n, const char* name) {
  if (n == nullptr) return {};
  xmlChar* v = xmlGetProp(n, BAD_CAST name);
  if (v == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

std::string Text(const xmlNode* n) {
  if (n == nullptr) return {};
  xmlChar* v = xmlNodeGetContent(n);
  if (v == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

std::string Trim(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

}  // namespace

LibvirtDiskSpec LibvirtDiskSpec::ForVolume(std::string_view volume_id, std::string nbd_socket_path,
                                           std::string export_name, bool read_only) {
  LibvirtDiskSpec spec;
  spec.volume_id = std::string(volume_id);
  spec.alias = std::string(kVbsAliasPrefix) + spec.volume_id;
  spec.serial = QemuAttach::SerialForVolume(volume_id);
  spec.nbd_socket_path = std::move(nbd_socket_path);
  spec.export_name = std::move(export_name);
  spec.read_only = read_only;
  return spec;
}

std::string InstanceIdForUuid(std::string_view uuid) {
  std::string hex;
  for (char c : uuid) {
    if (c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (hex.size() != 32) return {};
  return "i-" + hex.substr(0, kInstanceHexDigits);
}

std::string DiskXml(const LibvirtDiskSpec& spec, const std::string& target_dev,
                    bool with_reconnect) {
  std::string x = "<disk type='network' device='disk'>\n";
  x += "  <driver name='qemu' type='raw' cache='none'/>\n";
  x += "  <source protocol='nbd' name='" + XmlEscape(spec.export_name) + "'>\n";
  x += "    <host transport='unix' socket='" + XmlEscape(spec.nbd_socket_path) + "'/>\n";
  if (with_reconnect && spec.reconnect_delay_s > 0) {
    x += "    <reconnect delay='" + std::to_string(spec.reconnect_delay_s) + "'/>\n";
  }
  x += "  </source>\n";
  x += "  <target dev='" + XmlEscape(target_dev) + "' bus='virtio'/>\n";
  x += "  <serial>" + XmlEscape(spec.serial) + "</serial>\n";
  x += "  <alias name='" + XmlEscape(spec.alias) + "'/>\n";
  if (spec.read_only) x += "  <readonly/>\n";
  x += "</disk>\n";
  return x;
}

Result<std::vector<DomainDisk>> ParseDisks(std::string_view domain_xml) {
  Doc doc = ParseXml(domain_xml);
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr || !IsElement(root, "domain")) {
    return Status::InvalidArgument("LibvirtBadXml", "not a libvirt domain XML document");
  }
  std::vector<DomainDisk> disks;
  const xmlNode* devices = Child(root, "devices");
  if (devices == nullptr) return disks;
  for (const xmlNode* n = devices->children; n != nullptr; n = n->next) {
    if (!IsElement(n, "disk")) continue;
    DomainDisk d;
    d.type = Attr(n, "type");
    d.alias = Attr(Child(n, "alias"), "name");
    const xmlNode* target = Child(n, "target");
    d.target_dev = Attr(target, "dev");
    d.target_bus = Attr(target, "bus");
    if (const xmlNode* source = Child(n, "source")) {
      d.protocol = Attr(source, "protocol");
      d.export_name = Attr(source, "name");
      d.socket = Attr(Child(source, "host"), "socket");
    }
    d.serial = Text(Child(n, "serial"));
    d.read_only = Child(n, "readonly") != nullptr;
    disks.push_back(std::move(d));
  }
  return disks;
}

std::string FirstFreeVirtioTarget(const std::vector<DomainDisk>& disks) {
  std::set<std::string> used;
  for (const DomainDisk& d : disks) used.insert(d.target_dev);
  for (char c = 'a'; c <= 'z'; ++c) {
    std::string dev = std::string("vd") + c;
    if (used.count(dev) == 0) return dev;
  }
  return {};
}

bool ValidOwnerName(std::string_view name) {
  if (name.empty() || name.size() > kMaxOwnerName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string OwnerFromMetadata(std::string_view metadata_xml) {
  Doc doc = ParseXml(metadata_xml);
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr || !IsElement(root, "instance")) return {};
  // libvirt hands the element back without its namespace prefix; accept either form.
  const xmlNode* owner = Child(root, "owner");
  if (owner == nullptr) return {};
  std::string name = Trim(Text(owner));
  return ValidOwnerName(name) ? name : std::string();
}

}  // namespace vbs::hypervisor
