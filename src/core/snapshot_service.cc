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
    return EnqueueOperation(tx, opkind::kCreateSnapshot, s.id, *pool,
                            "{\"volume_id\":\"" + v->id + "\"}");
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
    s.state = state::kDeleting;
    s.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.UpdateSnapshot(s));
    return EnqueueOperation(tx, opkind::kDeleteSnapshot, s.id, *pool, "{}");
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return s;
}

}  // namespace vbs
