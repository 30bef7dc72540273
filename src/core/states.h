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
// Operations.
inline constexpr const char* kOpPending = "pending";
inline constexpr const char* kOpRunning = "running";
inline constexpr const char* kOpDone = "done";
inline constexpr const char* kOpFailed = "failed";

}  // namespace vbs::state

namespace vbs::opkind {

inline constexpr const char* kCreateVolume = "create_volume";
inline constexpr const char* kDeleteVolume = "delete_volume";
inline constexpr const char* kCreateSnapshot = "create_snapshot";
inline constexpr const char* kDeleteSnapshot = "delete_snapshot";
inline constexpr const char* kAttach = "attach";
inline constexpr const char* kDetach = "detach";

}  // namespace vbs::opkind
