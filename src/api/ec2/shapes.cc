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
      .Text("volumeType", "standard")
      .Bool("encrypted", false)
      .Bool("multiAttachEnabled", false);
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
