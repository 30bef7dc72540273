// The names of states and operation kinds (design.md §3), in one place.
#pragma once

namespace vbs::state {

// Volumes.
inline constexpr const char* kCreating = "creating";
inline constexpr const char* kAvailable = "available";
inline constexpr const char* kInUse = "in-use";
inline constexpr const char* kDeleting = "deleting";
inline constexpr const char* kDeleted = "deleted";
inline constexpr const char* kError = "error";
// Snapshots (kError, kDeleting, kDeleted shared).
inline constexpr const char* kPending = "pending";
inline constexpr const char* kCompleted = "completed";
// Attachments.
inline constexpr const char* kAttaching = "attaching";
inline constexpr const char* kAttached = "attached";
inline constexpr const char* kDetaching = "detaching";
inline constexpr const char* kDetached = "detached";
// Instances.
inline constexpr const char* kRunning = "running";
inline constexpr const char* kGone = "gone";
// Volume modifications (resize): modifying → optimizing (the backend has grown; hosts are
// passing the new size to attached consumers) → completed | failed.
inline constexpr const char* kModifying = "modifying";
inline constexpr const char* kOptimizing = "optimizing";
inline constexpr const char* kFailed = "failed";
// Operations.
inline constexpr const char* kOpPending = "pending";
inline constexpr const char* kOpRunning = "running";
inline constexpr const char* kOpDone = "done";
inline constexpr const char* kOpFailed = "failed";

}  // namespace vbs::state

namespace vbs {
// How the error of an attachment whose attach failed begins.
inline constexpr const char* kAttachFailed = "attach failed: ";
}  // namespace vbs

namespace vbs::state {
// Storage clients (StorageClientRecord).
inline constexpr const char* kClientActive = "active";
inline constexpr const char* kClientFenced = "fenced";
}  // namespace vbs::state

namespace vbs::opkind {

inline constexpr const char* kCreateVolume = "create_volume";
inline constexpr const char* kDeleteVolume = "delete_volume";
inline constexpr const char* kCreateSnapshot = "create_snapshot";
inline constexpr const char* kDeleteSnapshot = "delete_snapshot";
inline constexpr const char* kAttach = "attach";
inline constexpr const char* kDetach = "detach";
// Grow a volume in its pool (storage node; resource = the modification).
inline constexpr const char* kResizeVolume = "resize_volume";
// Make a host's exports and QEMU devices of a grown volume show its new size (one per node
// with live attachments of the volume; resource = the modification).
inline constexpr const char* kResizeAttachments = "resize_attachments";
// Apply a volume's new IOPS and throughput limits on a host that serves it (one per node with
// live attachments; resource = the modification).
inline constexpr const char* kQosAttachments = "qos_attachments";

// Fencing a dead node out of a pool's storage (Ceph: blocklist its client, break its image
// lock) before a volume moves; and lifting that once the node is back (design.md §4).
inline constexpr const char* kFenceClient = "fence_client";
inline constexpr const char* kUnfenceClient = "unfence_client";
}  // namespace vbs::opkind
