// The EC2 shapes of VBS objects (reference/ec2-ebs-api.md §4): Volume, VolumeAttachment,
// VolumeModification, Snapshot, tag sets. Sizes are GiB on this face (rounded up: VBS sizes
// are MiB multiples); the availability zone of a volume or snapshot is its pool; ownerId is
// the user name. The volume type is the volume's; IOPS and throughput (MiB/s) are written
// only when the volume has them (0 is "none": AWS omits them for types without them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/ec2/xml_writer.h"
#include "store/records.h"

namespace vbs::ec2 {

inline constexpr uint64_t kGiB = 1ull << 30;
int64_t ToGiB(uint64_t bytes);                     // rounded up
std::string Ec2Time(int64_t unix_millis);          // 2026-11-24T10:00:00.000Z
std::string Ec2Device(const AttachmentRecord& a);  // "/dev/…"

void WriteTagSet(XmlWriter& x, const Tags& tags);
// The members of a VolumeAttachment (no wrapper element).
void WriteAttachmentMembers(XmlWriter& x, const AttachmentRecord& a);
// The members of a Volume (no wrapper element).
void WriteVolumeMembers(XmlWriter& x, const VolumeRecord& v,
                        const std::vector<AttachmentRecord>& attachments);
// The members of a VolumeModification (no wrapper element).
void WriteModificationMembers(XmlWriter& x, const VolumeModificationRecord& m);
void WriteSnapshotMembers(XmlWriter& x, const SnapshotRecord& s);

}  // namespace vbs::ec2
