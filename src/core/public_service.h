// PublicService: VBSFS's public volume (design.md §11): shared software and data that every
// node mounts read-only, changed by admins through a draft and published as sealed versions.
//
// - The draft: one volume marked vbs:public=draft (Create makes it; admins only, as everything
//   here). Edit attaches it read-write to a node, whose agent mounts it at
//   <public_root>.draft (root-owned, 0755) for the admin to change.
// - Publish: version N+1 is a new volume made from a snapshot of the draft (taken with the
//   draft's file system frozen if a node mounts it), marked vbs:public=N+1. The snapshot and
//   the version are written at once; the version's volume is made when the snapshot completes
//   (CreateVolumeRequest::after_snapshot). Versions are never attached read-write
//   (AttachmentService refuses), so a sealed version never changes.
// - Attach: the newest available version, read-only, mounted at <public_root> on the node. A
//   node that mounts an older version keeps it (its running jobs are not disturbed) until it
//   is detached: attaching over it is VolumeInUse naming the version (vbs public attach
//   detaches it first).
// - Delete: a version (or the draft) that no node has attached.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/attachment_service.h"
#include "core/caller.h"
#include "core/snapshot_service.h"
#include "core/volume_service.h"
#include "store/metadata_store.h"

namespace vbs {

struct PublicVersion {
  std::string version;  // "draft" or the number
  VolumeRecord volume;
  std::vector<AttachmentRecord> attachments;  // live ones
};

class PublicService {
 public:
  PublicService(MetadataStore& store, VolumeService& volumes, SnapshotService& snapshots,
                AttachmentService& attachments)
      : store_(store), volumes_(volumes), snapshots_(snapshots), attachments_(attachments) {}

  Result<PublicVersion> Create(const Caller& caller, uint64_t size,
                               const std::optional<std::string>& pool);
  Result<AttachmentRecord> Edit(const Caller& caller, const std::string& node);
  // The version made (its volume `creating`).
  Result<PublicVersion> Publish(const Caller& caller);
  Result<AttachmentRecord> Attach(const Caller& caller, const std::string& node);
  // The node's version, or with `draft` the draft it edits.
  Result<AttachmentRecord> Detach(const Caller& caller, const std::string& node, bool draft);
  // The draft first, then versions from the newest; deleted ones are left out.
  Result<std::vector<PublicVersion>> List(const Caller& caller);
  Result<PublicVersion> Delete(const Caller& caller, const std::string& version);

 private:
  Result<std::vector<PublicVersion>> Load(const Caller& caller, bool include_deleted);
  MetadataStore& store_;
  VolumeService& volumes_;
  SnapshotService& snapshots_;
  AttachmentService& attachments_;
};

}  // namespace vbs
