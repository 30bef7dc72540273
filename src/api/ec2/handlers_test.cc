// Unit tests of the EC2 handlers over core on a real store: CreateVolume, DescribeVolumes,
// ModifyVolume and DescribeVolumesModifications with volume types, IOPS and throughput
// (core/volume_types.h), and the XML shapes they answer with.
#include <gtest/gtest.h>

#include "api/ec2/ec2_api.h"
#include "api/ec2/shapes.h"
#include "api/ec2/volume_params.h"
#include "api/http_server.h"
#include "core/attachment_service.h"
#include "core/core_test_util.h"

namespace vbs::ec2 {
namespace {

Params FromForm(const std::string& body) {
  auto q = ParseQuery(body);
  EXPECT_TRUE(q.ok());
  return Params(*q);
}

struct Answer {
  Status status;
  std::string xml;
};

class Ec2HandlersTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    // Room for GiB-sized volumes (the fixture's pool has 100 MiB).
    ASSERT_TRUE(work_->Hello("n1", {{"p1", "dir", false, 1000ull << 30}}).ok());
    attachments_ = std::make_unique<AttachmentService>(*store_, notifier_);
    Ec2Services s{volumes_.get(), snapshots_.get(), attachments_.get(), nullptr, nullptr, {}};
    AddVolumeHandlers(handlers_, s, pages_);
    AddModificationHandlers(handlers_, s, pages_);
  }

  Answer Call(const std::string& action, const std::string& form, bool dry_run = false) {
    Params params = FromForm(form);
    Ec2Request r{params, alice_, action, "us-east-1", "scope", dry_run};
    XmlWriter x(action + "Response");
    Status st = handlers_.at(action)(r, x);
    return {st, x.Finish()};
  }

  // The id in <volumeId>…</volumeId> of an answer.
  static std::string VolumeIdOf(const std::string& xml) {
    const std::string open = "<volumeId>";
    auto at = xml.find(open);
    if (at == std::string::npos) return "";
    at += open.size();
    return xml.substr(at, xml.find('<', at) - at);
  }

  size_t VolumeCount() {
    auto all = volumes_->List(alice_, {});
    EXPECT_TRUE(all.ok());
    return all.ok() ? all->size() : 0;
  }

  // A volume made on this face and brought to `available`.
  std::string MakeVolume(const std::string& form) {
    auto a = Call("CreateVolume", "AvailabilityZone=p1&" + form);
    EXPECT_TRUE(a.status.ok()) << a.status.ToString();
    RunAgent();
    return VolumeIdOf(a.xml);
  }

  std::unique_ptr<AttachmentService> attachments_;
  Paginator pages_{"server-key"};
  Ec2Handlers handlers_;
};

TEST_F(Ec2HandlersTest, CreateVolumeTakesTypeIopsAndThroughput) {
  auto a =
      Call("CreateVolume", "AvailabilityZone=p1&Size=10&VolumeType=gp3&Iops=4000&Throughput=250");
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  EXPECT_NE(a.xml.find("<volumeType>gp3</volumeType><iops>4000</iops>"
                       "<throughput>250</throughput>"),
            std::string::npos)
      << a.xml;
  const std::string id = VolumeIdOf(a.xml);
  RunAgent();
  auto d = Call("DescribeVolumes", "VolumeId.1=" + id);
  ASSERT_TRUE(d.status.ok());
  EXPECT_NE(d.xml.find("<iops>4000</iops><throughput>250</throughput>"), std::string::npos)
      << d.xml;
  auto by_type = Call("DescribeVolumes", "Filter.1.Name=volume-type&Filter.1.Value.1=gp3");
  EXPECT_NE(by_type.xml.find(id), std::string::npos);
  EXPECT_EQ(
      Call("DescribeVolumes", "Filter.1.Name=volume-type&Filter.1.Value.1=standard").xml.find(id),
      std::string::npos);

  // The type's defaults when only the type is named; none at all for standard.
  auto gp3 = Call("CreateVolume", "AvailabilityZone=p1&Size=1&VolumeType=gp3");
  EXPECT_NE(gp3.xml.find("<volumeType>gp3</volumeType><iops>3000</iops>"
                         "<throughput>125</throughput>"),
            std::string::npos)
      << gp3.xml;
  auto standard = Call("CreateVolume", "AvailabilityZone=p1&Size=1");
  EXPECT_NE(standard.xml.find("<volumeType>standard</volumeType><encrypted>"), std::string::npos)
      << standard.xml;
  EXPECT_EQ(standard.xml.find("<iops>"), std::string::npos);
  EXPECT_EQ(standard.xml.find("<throughput>"), std::string::npos);
}

TEST_F(Ec2HandlersTest, CreateVolumeRefusalsMakeNothing) {
  struct Case {
    const char* form;
    const char* code;
  };
  const Case refused[] = {
      {"Size=1&VolumeType=gp3&Iops=abc", "InvalidParameterValue"},
      {"Size=1&VolumeType=gp3&Iops=-5", "InvalidParameterValue"},
      {"Size=1&VolumeType=gp3&Iops=0", "InvalidParameterValue"},
      {"Size=1&VolumeType=gp3&Iops=", "InvalidParameterValue"},
      {"Size=1&VolumeType=gp3&Throughput=1.5", "InvalidParameterValue"},
      {"Size=1&VolumeType=gp3&Throughput=-1", "InvalidParameterValue"},
      {"Size=1&VolumeType=", "InvalidParameterValue"},
      {"Size=1&VolumeType=ssd", "InvalidParameterValue"},
      {"Size=1&VolumeType=gp3&Iops=16001", "InvalidParameterValue"},
      {"Size=1&VolumeType=io2&Iops=1000", "InvalidParameterValue"},  // 500 per GiB at most
      {"Size=1&VolumeType=io2", "InvalidParameterCombination"},      // io2 needs iops
      {"Size=1&Iops=100", "InvalidParameterCombination"},            // standard takes none
      {"Size=1&VolumeType=standard&Throughput=100", "InvalidParameterCombination"},
      {"Size=1&KmsKeyId=k", "InvalidParameterCombination"},
  };
  for (const auto& c : refused) {
    auto a = Call("CreateVolume", std::string("AvailabilityZone=p1&") + c.form);
    EXPECT_EQ(a.status.code(), c.code) << c.form << ": " << a.status.ToString();
    EXPECT_FALSE(a.status.message().empty()) << c.form;
  }
  EXPECT_EQ(Call("CreateVolume", "AvailabilityZone=p1&Size=1&Iops=-5").status.message(),
            "Value (-5) for parameter iops is invalid. Expected a positive integer");
  EXPECT_EQ(VolumeCount(), 0u);
  auto io2 = Call("CreateVolume", "AvailabilityZone=p1&Size=2&VolumeType=io2&Iops=1000");
  ASSERT_TRUE(io2.status.ok()) << io2.status.ToString();
  EXPECT_NE(io2.xml.find("<volumeType>io2</volumeType><iops>1000</iops><encrypted>"),
            std::string::npos)
      << io2.xml;
}

TEST_F(Ec2HandlersTest, ModifyVolumeChangesLimitsAndReportsBothSides) {
  const std::string id = MakeVolume("Size=10&VolumeType=gp3&Iops=4000&Throughput=250");
  auto m = Call("ModifyVolume", "VolumeId=" + id + "&Iops=5000");
  ASSERT_TRUE(m.status.ok()) << m.status.ToString();
  EXPECT_NE(m.xml.find("<volumeModification><volumeId>" + id +
                       "</volumeId><modificationState>completed</modificationState>"
                       "<targetSize>10</targetSize><targetIops>5000</targetIops>"
                       "<targetVolumeType>gp3</targetVolumeType>"
                       "<targetThroughput>250</targetThroughput>"
                       "<targetMultiAttachEnabled>false</targetMultiAttachEnabled>"
                       "<originalSize>10</originalSize><originalIops>4000</originalIops>"
                       "<originalVolumeType>gp3</originalVolumeType>"
                       "<originalThroughput>250</originalThroughput>"),
            std::string::npos)
      << m.xml;
  auto d = Call("DescribeVolumes", "VolumeId.1=" + id);
  EXPECT_NE(d.xml.find("<iops>5000</iops><throughput>250</throughput>"), std::string::npos)
      << d.xml;
  auto listed = Call("DescribeVolumesModifications",
                     "VolumeId.1=" + id +
                         "&Filter.1.Name=original-iops&Filter.1.Value.1=4000"
                         "&Filter.2.Name=target-iops&Filter.2.Value.1=5000"
                         "&Filter.3.Name=target-volume-type&Filter.3.Value.1=gp3");
  ASSERT_TRUE(listed.status.ok()) << listed.status.ToString();
  EXPECT_NE(listed.xml.find("<originalIops>4000</originalIops>"), std::string::npos) << listed.xml;
  EXPECT_NE(listed.xml.find("<modificationState>completed</modificationState>"), std::string::npos);
  auto none = Call("DescribeVolumesModifications",
                   "Filter.1.Name=original-volume-type&Filter.1.Value.1=standard");
  EXPECT_EQ(none.xml.find("<item>"), std::string::npos) << none.xml;

  // To another type with a grow: the new type's defaults, standard's limits omitted.
  const std::string plain = MakeVolume("Size=1");
  auto grow = Call("ModifyVolume", "VolumeId=" + plain + "&Size=2&VolumeType=gp3");
  ASSERT_TRUE(grow.status.ok()) << grow.status.ToString();
  EXPECT_NE(grow.xml.find("<modificationState>modifying</modificationState><targetSize>2"
                          "</targetSize><targetIops>3000</targetIops>"
                          "<targetVolumeType>gp3</targetVolumeType>"
                          "<targetThroughput>125</targetThroughput>"
                          "<targetMultiAttachEnabled>false</targetMultiAttachEnabled>"
                          "<originalSize>1</originalSize>"
                          "<originalVolumeType>standard</originalVolumeType>"
                          "<originalMultiAttachEnabled>"),
            std::string::npos)
      << grow.xml;
  RunAgent();
  auto grown = Call("DescribeVolumes", "VolumeId.1=" + plain);
  EXPECT_NE(grown.xml.find("<size>2</size>"), std::string::npos) << grown.xml;
  EXPECT_NE(grown.xml.find("<volumeType>gp3</volumeType><iops>3000</iops>"), std::string::npos);
}

TEST_F(Ec2HandlersTest, ModifyVolumeRefusals) {
  const std::string id = MakeVolume("Size=1&VolumeType=gp3");
  struct Case {
    std::string form;
    const char* code;
  };
  const Case refused[] = {
      {"", "MissingParameter"},  // nothing to change
      {"&Iops=x", "InvalidParameterValue"},
      {"&Iops=-1", "InvalidParameterValue"},
      {"&Throughput=0", "InvalidParameterValue"},
      {"&Size=0", "InvalidParameterValue"},
      {"&Size=1", "InvalidParameterValue"},          // the same size: volumes only grow
      {"&VolumeType=gp3", "InvalidParameterValue"},  // nothing would change
      {"&VolumeType=standard&Iops=100", "InvalidParameterCombination"},
      {"&VolumeType=io2", "InvalidParameterCombination"},
      {"&Iops=20000", "InvalidParameterValue"},
      {"&MultiAttachEnabled=true", "InvalidParameterValue"},
  };
  for (const auto& c : refused) {
    auto a = Call("ModifyVolume", "VolumeId=" + id + c.form);
    EXPECT_EQ(a.status.code(), c.code) << c.form << ": " << a.status.ToString();
  }
  EXPECT_EQ(Call("ModifyVolume", "Iops=5000").status.code(), "MissingParameter");
  EXPECT_EQ(Call("ModifyVolume", "VolumeId=" + id + "&Iops=5000", true).status.code(),
            "DryRunOperation");
  auto mods = volumes_->ListModifications(alice_, {id});
  ASSERT_TRUE(mods.ok());
  EXPECT_TRUE(mods->empty());
  auto v = volumes_->Get(alice_, id);
  EXPECT_EQ(v->iops, 3000);
  EXPECT_EQ(v->size, kGiB);
}

TEST(Ec2VolumeParams, ShapesOnly) {
  auto q = QosParams(FromForm("VolumeType=gp3&Iops=4000&Throughput=250"));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->type, "gp3");
  EXPECT_EQ(q->iops, 4000);
  EXPECT_EQ(q->throughput, 250);
  EXPECT_TRUE(QosParams(FromForm("Size=1"))->empty());
  EXPECT_EQ(QosParams(FromForm("Iops=1e3")).status().code(), "InvalidParameterValue");
  EXPECT_EQ(QosParams(FromForm("Throughput=99999999999999999999")).status().code(),
            "InvalidParameterValue");
  EXPECT_EQ(**SizeParam(FromForm("Size=3")), 3 * kGiB);
  EXPECT_FALSE(SizeParam(FromForm("Iops=1"))->has_value());
  EXPECT_EQ(SizeParam(FromForm("Size=16385")).status().code(), "InvalidParameterValue");
}

TEST(Ec2Shapes, ModificationOmitsLimitsOfTypesWithout) {
  VolumeModificationRecord m;
  m.volume_id = "vol-1";
  m.state = "failed";
  m.error = "no room";
  m.original_size = m.target_size = kGiB;
  m.original_type = "standard";
  m.target_type = "io2";
  m.target_iops = 100;
  XmlWriter x("R", false);
  WriteModificationMembers(x, m);
  const std::string xml = x.Finish();
  EXPECT_NE(xml.find("<statusMessage>no room</statusMessage><targetSize>1</targetSize>"
                     "<targetIops>100</targetIops><targetVolumeType>io2</targetVolumeType>"
                     "<targetMultiAttachEnabled>"),
            std::string::npos)
      << xml;
  EXPECT_EQ(xml.find("Throughput>"), std::string::npos);
  EXPECT_EQ(xml.find("originalIops"), std::string::npos);
  EXPECT_NE(xml.find("<endTime>"), std::string::npos);
}

}  // namespace
}  // namespace vbs::ec2
