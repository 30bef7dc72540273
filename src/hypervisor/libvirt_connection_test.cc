// LibvirtConnection against libvirt's own in-process test driver (test:///default: one
// running domain "test", no daemon): domain listing, instance ids, owner metadata set live,
// lookups by name, UUID and instance id, and errors as Status.
#include "hypervisor/libvirt_connection.h"

#include <gtest/gtest.h>

#include "hypervisor/libvirt_xml.h"

namespace vbs::hypervisor {
namespace {

constexpr char kUri[] = "test:///default";
constexpr char kTestUuid[] = "6695eb01-f6a4-8304-79aa-97f2502e193f";  // the test driver's

std::unique_ptr<LibvirtConnection> OpenTest() {
  auto c = LibvirtConnection::Open(kUri);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

void SetOwnerXml(LibvirtConnection* c, const char* xml) {
  auto dom = c->Lookup("test");
  ASSERT_TRUE(dom.ok()) << dom.status().ToString();
  ASSERT_EQ(virDomainSetMetadata(dom->get(), VIR_DOMAIN_METADATA_ELEMENT, xml, "vbs",
                                 std::string(kVbsMetadataNs).c_str(), VIR_DOMAIN_AFFECT_LIVE),
            0);
}

TEST(LibvirtConnectionTest, ListsTheRunningDomainWithItsInstanceId) {
  auto c = OpenTest();
  ASSERT_NE(c, nullptr);
  auto list = c->ListDomains();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  const LibvirtDomain& d = (*list)[0];
  EXPECT_EQ(d.name, "test");
  EXPECT_EQ(d.uuid, kTestUuid);
  EXPECT_EQ(d.instance_id, "i-6695eb01f6a483047");
  EXPECT_TRUE(d.alive);
  EXPECT_EQ(d.qemu_pid, 0);  // no QEMU, no pid file: never a guess
}

TEST(LibvirtConnectionTest, OwnerComesFromTheMetadataSetLive) {
  auto c = OpenTest();
  ASSERT_NE(c, nullptr);
  SetOwnerXml(c.get(), "<instance><owner>alice</owner></instance>");
  auto d = c->Describe("test");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->owner, "alice");
  SetOwnerXml(c.get(), "<instance><owner>Not Valid</owner></instance>");
  d = c->Describe("test");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->owner, "");
}

TEST(LibvirtConnectionTest, LookupByNameUuidOrInstanceId) {
  auto c = OpenTest();
  ASSERT_NE(c, nullptr);
  for (const char* ref : {"test", kTestUuid, "i-6695eb01f6a483047"}) {
    auto d = c->Describe(ref);
    ASSERT_TRUE(d.ok()) << ref << ": " << d.status().ToString();
    EXPECT_EQ(d->name, "test") << ref;
  }
  for (const char* ref : {"nope", "00000000-0000-0000-0000-000000000000", "i-00000000000000000"}) {
    auto d = c->Lookup(ref);
    ASSERT_FALSE(d.ok()) << ref;
    EXPECT_EQ(d.status().code(), "InvalidInstanceID.NotFound") << ref;
  }
  EXPECT_EQ(c->Lookup("").status().code(), "InvalidParameterValue");
}

TEST(LibvirtConnectionTest, AConnectionThatCannotOpenIsAStatus) {
  auto c = LibvirtConnection::Open("qemu+unix:///system?socket=/nonexistent/libvirt-sock");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), "LibvirtUnavailable") << c.status().ToString();
}

TEST(LibvirtConnectionTest, ManyConnectionsShareOneEventLoop) {
  // Opening and closing repeatedly starts and stops the loop thread each time.
  for (int i = 0; i < 20; ++i) {
    auto a = OpenTest();
    auto b = OpenTest();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_TRUE(a->ListDomains().ok());
  }
}

}  // namespace
}  // namespace vbs::hypervisor
