#include "core/snapshot_service.h"

#include "common/clock.h"
#include "common/ids.h"
#include "core/operations.h"
#include "core/states.h"
#include "core/validation.h"

namespace vbs {
namespace {

Result<SnapshotRecord> LoadOwned(Transaction& tx, const Caller& caller, const std::string& id) {
  VBS_RETURN_IF_ERROR(ValidateSnapshotId(id));
  VBS_ASSIGN_OR_RETURN(auto s, tx.GetSnapshot(id));
  if (!s || !caller.Owns(s->owner)) return SnapshotNotFound(id);
  return *s;
}

}  // namespace

Result<SnapshotRecord> SnapshotService::Create(const Caller& caller,
                                               const CreateSnapshotRequest& req) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(req.volume_id));
  VBS_RETURN_IF_ERROR(ValidateTags(req.tags));
  if (req.description.size() > 255) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "descriptions are at most 255 characters");
  }
  SnapshotRecord s;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(req.volume_id));
    if (!v || !caller.Owns(v->owner)) return VolumeNotFound(req.volume_id);
    if (v->state != state::kAvailable && v->state != state::kInUse) {
      return IncorrectState("the volume '" + v->id + "' is " + v->state +
                            "; snapshots are taken of available or in-use volumes");
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v->pool));
    if (!pool) return Status::Internal("volume " + v->id + " is in unknown pool " + v->pool);
    PoolRecord target = *pool;
    VBS_ASSIGN_OR_RETURN(target.node, StorageNodeFor(tx, target, policy_));
    VBS_RETURN_IF_ERROR(CheckSnapshotQuota(tx, quota_, v->owner));
    s = SnapshotRecord{};
    s.id = NewId("snap");
    s.owner = v->owner;
    s.volume_id = v->id;
    s.size = v->size;
    s.pool = v->pool;
    s.state = state::kPending;
    s.progress = 0;
    s.description = req.description;
    s.tags = req.tags;
    s.created_at = s.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.InsertSnapshot(s));
    // Crash-consistent (design.md §5): the node that serves the volume's read-write export
    // takes the snapshot, holding the export's writes meanwhile. (An rw attachment exists
    // only where the pool is reachable: its own node, or any node of a shared pool.)
    AttachmentFilter af;
    af.volume_id = v->id;
    VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(af));
    for (const auto& a : live) {
      if (a.mode != "rw") continue;
      VBS_ASSIGN_OR_RETURN(const int64_t clock, tx.ClockMillis());
      if (!NodeIsUp(tx, a.node, clock, policy_)) {
        return NodeUnavailable(a.node, "a snapshot of '" + v->id + "' (attached read-write there)");
      }
      target.node = a.node;
    }
    return EnqueueOperation(tx, opkind::kCreateSnapshot, s.id, target,
                            "{\"volume_id\":\"" + v->id + "\"}");
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return s;
}

Result<SnapshotRecord> SnapshotService::Copy(const Caller& caller, const CopySnapshotRequest& req) {
  VBS_RETURN_IF_ERROR(ValidateSnapshotId(req.source_snapshot_id));
  VBS_RETURN_IF_ERROR(ValidateTags(req.tags));
  if (req.description.size() > 255) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "descriptions are at most 255 characters");
  }
  SnapshotRecord s;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto src, LoadOwned(tx, caller, req.source_snapshot_id));
    if (src.state == state::kDeleting || src.state == state::kDeleted) {
      return SnapshotNotFound(src.id);
    }
    if (src.state != state::kCompleted) {
      return IncorrectState("the snapshot '" + src.id + "' is " + src.state + ", not completed");
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(src.pool));
    if (!pool) return Status::Internal("snapshot " + src.id + " is in unknown pool " + src.pool);
    PoolRecord target = *pool;
    VBS_ASSIGN_OR_RETURN(target.node, StorageNodeFor(tx, target, policy_));
    s = SnapshotRecord{};
    s.id = NewId("snap");
    s.owner = src.owner;
    s.volume_id = src.volume_id;
    s.size = src.size;
    s.pool = src.pool;
    s.state = state::kPending;
    s.description = req.description;
    s.tags = req.tags;
    s.created_at = s.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.InsertSnapshot(s));
    // The same kind of work as a snapshot of a volume (it ends the same way), from a source
    // snapshot instead.
    return EnqueueOperation(
        tx, opkind::kCreateSnapshot, s.id, target,
        "{\"source_snapshot_id\":\"" + src.id + "\",\"size\":" + std::to_string(src.size) + "}");
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return s;
}

Result<SnapshotRecord> SnapshotService::Get(const Caller& caller, const std::string& id) {
  SnapshotRecord s;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(s, LoadOwned(tx, caller, id));
    return Status::Ok();
  }));
  return s;
}

Result<std::vector<SnapshotRecord>> SnapshotService::List(const Caller& caller,
                                                          const SnapshotListFilter& filter) {
  if (filter.volume_id) VBS_RETURN_IF_ERROR(ValidateVolumeId(*filter.volume_id));
  SnapshotFilter f;
  if (!caller.admin) f.owner = caller.user;
  f.state = filter.state;
  f.volume_id = filter.volume_id;
  f.include_deleted = filter.include_deleted;
  std::vector<SnapshotRecord> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(out, tx.ListSnapshots(f));
    return Status::Ok();
  }));
  if (filter.tag) {
    std::erase_if(out, [&](const SnapshotRecord& s) {
      auto it = s.tags.find(filter.tag->first);
      return it == s.tags.end() || it->second != filter.tag->second;
    });
  }
  return out;
}

Result<SnapshotRecord> SnapshotService::Delete(const Caller& caller, const std::string& id) {
  SnapshotRecord s;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(s, LoadOwned(tx, caller, id));
    if (s.state == state::kDeleting || s.state == state::kDeleted) return Status::Ok();
    if (s.state == state::kPending) {
      return IncorrectState("the snapshot '" + id + "' is still pending");
    }
    // A pending copy of the snapshot still reads it (copies keep the source's volume id).
    SnapshotFilter copies;
    copies.volume_id = s.volume_id;
    copies.state = state::kPending;
    VBS_ASSIGN_OR_RETURN(auto pending, tx.ListSnapshots(copies));
    for (const auto& p : pending) {
      OperationFilter of;
      of.resource_id = p.id;
      VBS_ASSIGN_OR_RETURN(auto ops, tx.ListOperations(of));
      for (const auto& op : ops) {
        if (op.params.find("\"source_snapshot_id\":\"" + id + "\"") != std::string::npos &&
            op.state != state::kOpDone && op.state != state::kOpFailed) {
          return IncorrectState("the snapshot '" + p.id + "' is being copied from '" + id + "'");
        }
      }
    }
    // A volume being made from the snapshot still reads it.
    VolumeFilter vf;
    vf.pool = s.pool;
    vf.state = state::kCreating;
    VBS_ASSIGN_OR_RETURN(auto creating, tx.ListVolumes(vf));
    for (const auto& v : creating) {
      if (v.snapshot_id == id) {
        return IncorrectState("the volume '" + v.id + "' is being created from snapshot '" + id +
                              "'");
      }
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(s.pool));
    if (!pool) return Status::Internal("snapshot " + id + " is in unknown pool " + s.pool);
    PoolRecord target = *pool;
    VBS_ASSIGN_OR_RETURN(target.node, StorageNodeFor(tx, target, policy_));
    s.state = state::kDeleting;
    s.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.UpdateSnapshot(s));
    return EnqueueOperation(tx, opkind::kDeleteSnapshot, s.id, target, "{}");
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return s;
}

}  // namespace vbs
