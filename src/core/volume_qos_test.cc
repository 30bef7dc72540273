// Volume types and QoS settings: the rules of VolumeTypes (volume_types.h), and how
// VolumeService::Create/Modify record them and pass them to the hosts serving a volume.
#include <nlohmann/json.hpp>

#include "common/units.h"
#include "core/attachment_service.h"
#include "core/core_test_util.h"
#include "core/volume_types.h"

namespace vbs {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(VolumeTypesTest, DefaultsAndRefusals) {
  VolumeTypes types;
  auto standard = types.ForCreate({}, 10 * kGiB);
  ASSERT_TRUE(standard.ok());
  EXPECT_EQ(*standard, (VolumeQos{"standard", 0, 0}));
  auto gp3 = types.ForCreate({"gp3", std::nullopt, std::nullopt}, 10 * kGiB);
  EXPECT_EQ(*gp3, (VolumeQos{"gp3", 3000, 125}));
  auto io2 = types.ForCreate({"io2", 1000, std::nullopt}, 2 * kGiB);
  EXPECT_EQ(*io2, (VolumeQos{"io2", 1000, 0}));

  struct Case {
    QosRequest req;
    uint64_t size;
    const char* code;
  };
  const Case refused[] = {
      {{"gp9", std::nullopt, std::nullopt}, kGiB, "InvalidParameterValue"},    // unknown type
      {{"standard", 100, std::nullopt}, kGiB, "InvalidParameterCombination"},  // no iops there
      {{std::nullopt, std::nullopt, 50}, kGiB, "InvalidParameterCombination"},
      {{"io2", std::nullopt, std::nullopt}, kGiB, "InvalidParameterCombination"},  // needs iops
      {{"io2", 1000, std::nullopt}, kGiB, "InvalidParameterValue"},  // 500 per GiB at most
      {{"io2", 100, 100}, 10 * kGiB, "InvalidParameterCombination"},
      {{"gp3", 16001, std::nullopt}, kGiB, "InvalidParameterValue"},
      {{"gp3", std::nullopt, 1001}, kGiB, "InvalidParameterValue"},
      {{"gp3", 0, std::nullopt}, kGiB, "InvalidParameterValue"},
      {{"gp3", -5, std::nullopt}, kGiB, "InvalidParameterValue"},
      {{"gp3", std::nullopt, 0}, kGiB, "InvalidParameterValue"},
  };
  for (const auto& c : refused) {
    auto r = types.ForCreate(c.req, c.size);
    EXPECT_EQ(r.status().code(), c.code)
        << c.req.type.value_or("-") << " " << c.req.iops.value_or(-1) << " "
        << c.req.throughput.value_or(-1);
  }
  // A modification: the same type keeps what is not named; another type starts afresh.
  auto more = types.ForModify({std::nullopt, 5000, std::nullopt}, *gp3, 10 * kGiB);
  EXPECT_EQ(*more, (VolumeQos{"gp3", 5000, 125}));
  auto to_standard = types.ForModify({"standard", std::nullopt, std::nullopt}, *more, 10 * kGiB);
  EXPECT_EQ(*to_standard, (VolumeQos{"standard", 0, 0}));
  EXPECT_EQ(types.ForModify({"io2", std::nullopt, std::nullopt}, *more, 10 * kGiB).status().code(),
            "InvalidParameterCombination");
}

class VolumeQosTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    attachments_ = std::make_unique<AttachmentService>(*store_, notifier_);
    ASSERT_TRUE(
        work_->ReportInstances("n1", {InstanceRecord{"host-n1", "", "host", "", 0, ""}}).ok());
    AllowOnNode("n1");
  }
  std::unique_ptr<AttachmentService> attachments_;
};

TEST_F(VolumeQosTest, CreateRecordsTheTypeAndARefusalMakesNothing) {
  CreateVolumeRequest bad;
  bad.size = 10 * kMiB;
  bad.qos = {"standard", 1000, std::nullopt};
  EXPECT_EQ(volumes_->Create(alice_, bad).status().code(), "InvalidParameterCombination");
  EXPECT_TRUE(volumes_->List(alice_, {})->empty());
  CreateVolumeRequest req;
  req.size = 10 * kMiB;
  req.qos = {"gp3", 4000, 250};
  auto v = volumes_->Create(alice_, req);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto stored = volumes_->Get(alice_, v->id);
  EXPECT_EQ(stored->volume_type, "gp3");
  EXPECT_EQ(stored->iops, 4000);
  EXPECT_EQ(stored->throughput, 250);
}

TEST_F(VolumeQosTest, ModifyingAnAttachedVolumeReachesItsHost) {
  CreateVolumeRequest req;
  req.size = 10 * kMiB;
  req.qos = {"gp3", std::nullopt, std::nullopt};
  auto v = volumes_->Create(alice_, req);
  ASSERT_TRUE(v.ok());
  RunAgent();
  ASSERT_TRUE(
      attachments_->Attach(alice_, {v->id, "host-n1", "rw", std::nullopt, std::nullopt}).ok());
  auto attach = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(attach->ops.size(), 1u);
  auto params = nlohmann::json::parse(attach->ops[0].params);
  EXPECT_EQ(params.at("iops"), 3000);  // the attach carries the limits
  EXPECT_EQ(params.at("throughput"), 125);
  RunAgent();

  EXPECT_EQ(volumes_->Modify(alice_, v->id, std::nullopt, {}).status().code(), "MissingParameter");
  EXPECT_EQ(volumes_->Modify(alice_, v->id, std::nullopt, {"gp3", 3000, 125}).status().code(),
            "InvalidParameterValue");  // nothing would change
  EXPECT_EQ(
      volumes_->Modify(alice_, v->id, std::nullopt, {"gp3", 20000, std::nullopt}).status().code(),
      "InvalidParameterValue");
  EXPECT_EQ(volumes_->Get(alice_, v->id)->iops, 3000);  // refused: unchanged

  auto m = volumes_->Modify(alice_, v->id, std::nullopt, {std::nullopt, 1000, std::nullopt});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->state, "optimizing");
  EXPECT_EQ(m->original_iops, 3000);
  EXPECT_EQ(m->target_iops, 1000);
  EXPECT_EQ(m->target_throughput, 125);
  EXPECT_EQ(volumes_->Get(alice_, v->id)->iops, 1000);
  auto batch = work_->Poll("n1", std::chrono::milliseconds(0));
  ASSERT_EQ(batch->ops.size(), 1u);
  EXPECT_EQ(batch->ops[0].kind, "qos_attachments");
  EXPECT_EQ(nlohmann::json::parse(batch->ops[0].params).at("iops"), 1000);
  RunAgent();
  auto mods = volumes_->ListModifications(alice_, {v->id});
  ASSERT_EQ(mods->size(), 1u);
  EXPECT_EQ(mods->back().state, "completed");
  // Detached: a modification completes at once.
  ASSERT_TRUE(attachments_->Detach(alice_, v->id, std::nullopt, false).ok());
  RunAgent();
  auto done =
      volumes_->Modify(alice_, v->id, std::nullopt, {"standard", std::nullopt, std::nullopt});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->state, "completed");
  EXPECT_EQ(volumes_->Get(alice_, v->id)->volume_type, "standard");
}

}  // namespace
}  // namespace vbs
