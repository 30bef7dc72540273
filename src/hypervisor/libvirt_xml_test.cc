// The libvirt driver's pure pieces: names from a UUID, the disk XML VBS sends (escaping),
// and reading disks and owner metadata out of XML as libvirt 9.0 formats it.
#include "hypervisor/libvirt_xml.h"

#include <gtest/gtest.h>

namespace vbs::hypervisor {
namespace {

TEST(LibvirtXmlTest, InstanceIdIsTheFirst17HexDigitsOfTheUuid) {
  EXPECT_EQ(InstanceIdForUuid("E1B8EAE3-1768-437B-ACAF-AB02F6A10E31"), "i-e1b8eae31768437ba");
  EXPECT_EQ(InstanceIdForUuid("e1b8eae31768437bacafab02f6a10e31"), "i-e1b8eae31768437ba");
  EXPECT_EQ(InstanceIdForUuid(""), "");
  EXPECT_EQ(InstanceIdForUuid("e1b8eae3-1768-437b-acaf"), "");                 // too short
  EXPECT_EQ(InstanceIdForUuid("g1b8eae3-1768-437b-acaf-ab02f6a10e31"), "");    // not hex
  EXPECT_EQ(InstanceIdForUuid("e1b8eae3-1768-437b-acaf-ab02f6a10e3100"), "");  // too long
}

TEST(LibvirtXmlTest, SpecForVolume) {
  auto s = LibvirtDiskSpec::ForVolume("vol-0123456789abcdef0", "/run/vbs/a.sock", "vol-x", true);
  EXPECT_EQ(s.alias, "ua-vbs-vol-0123456789abcdef0");
  EXPECT_EQ(s.serial, "vol0123456789abcdef0");
  EXPECT_TRUE(s.read_only);
}

TEST(LibvirtXmlTest, DiskXmlEscapesEveryValue) {
  LibvirtDiskSpec s = LibvirtDiskSpec::ForVolume("vol-1", "/tmp/a'b&c.sock", "ex<p>\"", false);
  std::string x = DiskXml(s, "vdb", false);
  EXPECT_NE(x.find("socket='/tmp/a&apos;b&amp;c.sock'"), std::string::npos) << x;
  EXPECT_NE(x.find("name='ex&lt;p&gt;&quot;'"), std::string::npos) << x;
  EXPECT_NE(x.find("<target dev='vdb' bus='virtio'/>"), std::string::npos) << x;
  EXPECT_NE(x.find("<alias name='ua-vbs-vol-1'/>"), std::string::npos) << x;
  EXPECT_EQ(x.find("<readonly/>"), std::string::npos) << x;
  EXPECT_EQ(x.find("reconnect"), std::string::npos) << x;
  // What we send parses back to the same values.
  auto disks = ParseDisks("<domain><devices>" + x + "</devices></domain>");
  ASSERT_TRUE(disks.ok());
  ASSERT_EQ(disks->size(), 1u);
  EXPECT_EQ((*disks)[0].socket, "/tmp/a'b&c.sock");
  EXPECT_EQ((*disks)[0].export_name, "ex<p>\"");
}

TEST(LibvirtXmlTest, DiskXmlReadOnlyAndReconnect) {
  LibvirtDiskSpec s = LibvirtDiskSpec::ForVolume("vol-1", "/s", "x", true);
  s.reconnect_delay_s = 7;
  std::string x = DiskXml(s, "vda", true);
  EXPECT_NE(x.find("<readonly/>"), std::string::npos);
  EXPECT_NE(x.find("<reconnect delay='7'/>"), std::string::npos);
}

// Trimmed from `virsh dumpxml` of a libvirt 9.0 domain with a VBS disk and a local disk.
constexpr char kDomainXml[] = R"(<domain type='qemu' id='3'>
  <name>vbs-lv-a</name>
  <uuid>d4978a9a-36ec-496d-9214-a1bf7af77d93</uuid>
  <metadata>
    <vbs:instance xmlns:vbs="https://vbs.dev/xmlns/libvirt/1">
      <vbs:owner>alice</vbs:owner>
      <disk><alias name='ua-vbs-vol-fake'/></disk>
    </vbs:instance>
  </metadata>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/root.qcow2' index='2'/>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source protocol='nbd' name='x' tls='no' index='1'>
        <host transport='unix' socket='/tmp/vbs-lv-syMi7m/rw.sock'/>
      </source>
      <target dev='vdc' bus='virtio'/>
      <serial>vol0123456789abcdef0</serial>
      <readonly/>
      <alias name='ua-vbs-vol-0123456789abcdef0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </disk>
    <serial type='unix'>
      <source mode='connect' path='/tmp/vbs-lv-syMi7m/run/vbs-lv-a/serial.sock'/>
      <target type='isa-serial' port='0'/>
      <alias name='serial0'/>
    </serial>
  </devices>
</domain>
)";

TEST(LibvirtXmlTest, ParseDisksReadsOnlyDevices) {
  auto disks = ParseDisks(kDomainXml);
  ASSERT_TRUE(disks.ok()) << disks.status().ToString();
  ASSERT_EQ(disks->size(), 2u);  // the <disk> inside <metadata> is not a device
  const DomainDisk& local = (*disks)[0];
  EXPECT_EQ(local.type, "file");
  EXPECT_EQ(local.alias, "virtio-disk0");
  EXPECT_EQ(local.target_dev, "vda");
  EXPECT_FALSE(local.read_only);
  const DomainDisk& vbs = (*disks)[1];
  EXPECT_EQ(vbs.type, "network");
  EXPECT_EQ(vbs.protocol, "nbd");
  EXPECT_EQ(vbs.export_name, "x");
  EXPECT_EQ(vbs.socket, "/tmp/vbs-lv-syMi7m/rw.sock");
  EXPECT_EQ(vbs.target_dev, "vdc");
  EXPECT_EQ(vbs.target_bus, "virtio");
  EXPECT_EQ(vbs.serial, "vol0123456789abcdef0");
  EXPECT_EQ(vbs.alias, "ua-vbs-vol-0123456789abcdef0");
  EXPECT_TRUE(vbs.read_only);
  EXPECT_EQ(FirstFreeVirtioTarget(*disks), "vdb");
}

TEST(LibvirtXmlTest, ParseDisksRejectsWhatIsNotADomain) {
  EXPECT_FALSE(ParseDisks("").ok());
  EXPECT_FALSE(ParseDisks("<domain><devices>").ok());  // truncated
  EXPECT_FALSE(ParseDisks("<network/>").ok());
  auto none = ParseDisks("<domain/>");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(LibvirtXmlTest, FirstFreeTargetRunsOut) {
  std::vector<DomainDisk> disks;
  EXPECT_EQ(FirstFreeVirtioTarget(disks), "vda");
  for (char c = 'a'; c <= 'z'; ++c) {
    DomainDisk d;
    d.target_dev = std::string("vd") + c;
    disks.push_back(d);
  }
  EXPECT_EQ(FirstFreeVirtioTarget(disks), "");
}

TEST(LibvirtXmlTest, OwnerFromMetadata) {
  // As virDomainGetMetadata returns it (libvirt drops the namespace prefix) …
  EXPECT_EQ(OwnerFromMetadata("<instance>\n  <owner>alice</owner>\n</instance>\n"), "alice");
  // … and as the platform may write it.
  EXPECT_EQ(OwnerFromMetadata(R"(<vbs:instance xmlns:vbs="https://vbs.dev/xmlns/libvirt/1">)"
                              "<vbs:owner> bob.smith_2-x </vbs:owner></vbs:instance>"),
            "bob.smith_2-x");
  EXPECT_EQ(OwnerFromMetadata("<instance/>"), "");
  EXPECT_EQ(OwnerFromMetadata("<instance><owner></owner></instance>"), "");
  EXPECT_EQ(OwnerFromMetadata("<instance><owner>Bob</owner></instance>"), "");      // upper case
  EXPECT_EQ(OwnerFromMetadata("<instance><owner>a b</owner></instance>"), "");      // space
  EXPECT_EQ(OwnerFromMetadata("<instance><owner>a&amp;b</owner></instance>"), "");  // &
  EXPECT_EQ(OwnerFromMetadata("<instance><owner>" + std::string(65, 'a') + "</owner></instance>"),
            "");
  EXPECT_EQ(OwnerFromMetadata("<instance><owner>" + std::string(64, 'a') + "</owner></instance>"),
            std::string(64, 'a'));
  EXPECT_EQ(OwnerFromMetadata("<other><owner>alice</owner></other>"), "");  // not our element
  EXPECT_EQ(OwnerFromMetadata("<instance><owner>alice"), "");               // malformed
  EXPECT_EQ(OwnerFromMetadata(""), "");
}

}  // namespace
}  // namespace vbs::hypervisor
