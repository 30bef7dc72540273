#include "api/ec2/shapes.h"

#include "common/clock.h"

namespace vbs::ec2 {

int64_t ToGiB(uint64_t bytes) {
  return static_cast<int64_t>((bytes + kGiB - 1) / kGiB);
}

std::string Ec2Time(int64_t unix_millis) {
  return FormatIso8601(unix_millis);
}

std::string Ec2Device(const AttachmentRecord& a) {
  return a.device.rfind('/', 0) == 0 ? a.device : "/dev/" + a.device;
}

namespace {

// A QoS limit: omitted when 0 (none), as AWS omits Iops/Throughput for types without them.
void WriteLimit(XmlWriter& x, const std::string& name, int64_t value) {
  if (value > 0) x.Int(name, value);
}

}  // namespace

void WriteTagSet(XmlWriter& x, const Tags& tags) {
  if (tags.empty()) {
    x.Empty("tagSet");
    return;
  }
  x.Open("tagSet");
  for (const auto& [k, v] : tags) x.Open("item").Text("key", k).Text("value", v).Close();
  x.Close();
}

void WriteAttachmentMembers(XmlWriter& x, const AttachmentRecord& a) {
  x.Text("volumeId", a.volume_id)
      .Text("instanceId", a.instance_id)
      .Text("device", Ec2Device(a))
      .Text("status", a.state)
      .Text("attachTime", Ec2Time(a.created_at))
      .Bool("deleteOnTermination", false);
}

void WriteModificationMembers(XmlWriter& x, const VolumeModificationRecord& m) {
  x.Text("volumeId", m.volume_id).Text("modificationState", m.state);
  if (m.error) x.Text("statusMessage", *m.error);
  x.Int("targetSize", ToGiB(m.target_size));
  WriteLimit(x, "targetIops", m.target_iops);
  x.Text("targetVolumeType", m.target_type);
  WriteLimit(x, "targetThroughput", m.target_throughput);
  x.Bool("targetMultiAttachEnabled", false).Int("originalSize", ToGiB(m.original_size));
  WriteLimit(x, "originalIops", m.original_iops);
  x.Text("originalVolumeType", m.original_type);
  WriteLimit(x, "originalThroughput", m.original_throughput);
  x.Bool("originalMultiAttachEnabled", false)
      .Int("progress", m.state == "completed" ? 100 : m.progress)
      .Text("startTime", Ec2Time(m.created_at));
  if (m.state == "completed" || m.state == "failed") x.Text("endTime", Ec2Time(m.updated_at));
}

void WriteVolumeMembers(XmlWriter& x, const VolumeRecord& v,
                        const std::vector<AttachmentRecord>& attachments) {
  x.Text("volumeId", v.id).Int("size", ToGiB(v.size));
  if (v.snapshot_id) {
    x.Text("snapshotId", *v.snapshot_id);
  } else {
    x.Empty("snapshotId");
  }
  x.Text("availabilityZone", v.pool)
      .Text("status", v.state)
      .Text("createTime", Ec2Time(v.created_at))
      .Text("volumeType", v.volume_type);
  WriteLimit(x, "iops", v.iops);
  WriteLimit(x, "throughput", v.throughput);
  x.Bool("encrypted", false).Bool("multiAttachEnabled", false);
  if (attachments.empty()) {
    x.Empty("attachmentSet");
  } else {
    x.Open("attachmentSet");
    for (const auto& a : attachments) {
      x.Open("item");
      WriteAttachmentMembers(x, a);
      x.Close();
    }
    x.Close();
  }
  WriteTagSet(x, v.tags);
}

void WriteSnapshotMembers(XmlWriter& x, const SnapshotRecord& s) {
  x.Text("snapshotId", s.id)
      .Text("volumeId", s.volume_id)
      .Text("status", s.state)
      .Text("startTime", Ec2Time(s.created_at))
      .Text("progress", std::to_string(s.state == "completed" ? 100 : s.progress) + "%")
      .Text("ownerId", s.owner)
      .Int("volumeSize", ToGiB(s.size))
      .Text("description", s.description)
      .Bool("encrypted", false);
  if (s.error) x.Text("statusMessage", *s.error);
  WriteTagSet(x, s.tags);
}

}  // namespace vbs::ec2
