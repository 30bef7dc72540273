// AttachmentService: the rules of attaching volumes to instances (design.md §3, §7).
//
// - Only available or in-use volumes attach; the instance must be running, on a live node
//   (else NodeUnavailable) that can reach the volume's pool: the pool's own node, or for a
//   shared pool any node that declares it (that node's agent opens the volume itself).
// - A read-write attachment is exclusive; several attachments exist only when all are
//   read-only. The check runs in the transaction and a unique index on live rw attachments
//   backs it, so of two racing rw attaches exactly one wins.
// - The volume is in-use while any attachment is not detached; an attached volume cannot be
//   deleted (VolumeService). Detaching what is not attached is IncorrectState.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/caller.h"
#include "core/revision_notifier.h"
#include "core/scheduler.h"
#include "store/metadata_store.h"

namespace vbs {

// The largest local user id a host attachment may name ((uid_t)-1 means "none" to the kernel).
inline constexpr int64_t kMaxUid = 4294967294;

struct AttachRequest {
  std::string volume_id;
  std::string instance_id;
  std::string mode = "rw";  // rw, ro
  std::optional<std::string> device;
  // Host targets only: the local uid whose processes may open the export (default 0, root).
  std::optional<int64_t> uid;
  // VBSFS (core/home_service.h): the node mounts the volume's file system as this local
  // account's home instead of leaving a block device to a consumer. Host targets only; the
  // consumer is the node's agent (uid 0).
  std::optional<std::string> home_of{};
  // VBSFS's public volume (core/public_service.h): "public" (a sealed version, ro) or
  // "public-draft" (rw), mounted by the node's agent like a home.
  std::optional<std::string> public_mount{};
};

class AttachmentService {
 public:
  AttachmentService(MetadataStore& store, RevisionNotifier& notifier, PlacementPolicy policy = {})
      : store_(store), notifier_(notifier), policy_(policy) {}

  Result<AttachmentRecord> Attach(const Caller& caller, const AttachRequest& req);
  // Without an instance: the volume's only attachment. force: detach even if the guest does
  // not release the device (the export is removed, fencing the instance off); on a node that
  // is down, force ends the attachment at once (nobody is left there to run a detach).
  Result<AttachmentRecord> Detach(const Caller& caller, const std::string& volume_id,
                                  const std::optional<std::string>& instance_id, bool force);
  // Live attachments of the caller's volumes (of one volume when given).
  Result<std::vector<AttachmentRecord>> List(const Caller& caller,
                                             const std::optional<std::string>& volume_id);
  // The instances the caller may attach to: their own VMs, and the hosts of the nodes an
  // admin allows them on; admins see all.
  Result<std::vector<InstanceRecord>> ListInstances(const Caller& caller);
  // Admins: gives a VM to a user (overrides its owner file).
  Result<InstanceRecord> AssignInstance(const Caller& caller, const std::string& instance_id,
                                        const std::string& owner);
  // Admins: lets `user` attach to node `node` itself (host-NODE), or no longer; the node's
  // allowed users after the change.
  Result<std::vector<std::string>> AllowOnNode(const Caller& caller, const std::string& node,
                                               const std::string& user, bool allowed);
  // The volume's most recent attachment if it ended with an error (its attach failed, or it
  // was ended without its node: a takeover after the node lost its lease, or a forced detach
  // from a dead node), so the reason stays visible until the next attach; else nullopt.
  Result<std::optional<AttachmentRecord>> LastFailedAttach(const Caller& caller,
                                                           const std::string& volume_id);

 private:
  static Status CheckFenced(Transaction& tx, const std::string& volume_id);
  MetadataStore& store_;
  RevisionNotifier& notifier_;
  PlacementPolicy policy_;
};

// May `caller` attach to `inst`? Admins always; users to VMs they own, and to a node's host
// instance where an admin allowed them.
Result<bool> MayUse(Transaction& tx, const Caller& caller, const InstanceRecord& inst);

// Instance ids: "i-" + 17 hex digits (QEMU VMs) or "host-<node>" (the node itself).
bool IsValidInstanceId(const std::string& id);
std::string HostInstanceId(const std::string& node);

}  // namespace vbs
