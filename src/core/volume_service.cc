#include "core/volume_service.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/ids.h"
#include "common/units.h"
#include "core/operations.h"
#include "core/states.h"
#include "core/validation.h"

namespace vbs {
namespace {

// Loads a volume the caller may see, or the same NotFound as for a missing one.
Result<VolumeRecord> LoadOwned(Transaction& tx, const Caller& caller, const std::string& id) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(id));
  VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(id));
  if (!v || !caller.Owns(v->owner)) return VolumeNotFound(id);
  return *v;
}

bool InFlight(const VolumeModificationRecord& m) {
  return m.state == state::kModifying || m.state == state::kOptimizing;
}

// The modification of `volume_id` still in flight, if any.
Result<std::optional<VolumeModificationRecord>> InFlightModification(Transaction& tx,
                                                                     const std::string& volume_id) {
  VolumeModificationFilter f;
  f.volume_id = volume_id;
  VBS_ASSIGN_OR_RETURN(auto mods, tx.ListVolumeModifications(f));
  for (const auto& m : mods) {
    if (InFlight(m)) return std::optional<VolumeModificationRecord>(m);
  }
  return std::optional<VolumeModificationRecord>();
}

}  // namespace

Result<VolumeModificationRecord> VolumeService::Resize(const Caller& caller,
                                                       const std::string& volume_id,
                                                       uint64_t new_size) {
  return Modify(caller, volume_id, new_size, QosRequest{});
}

Result<VolumeModificationRecord> VolumeService::Modify(const Caller& caller,
                                                       const std::string& volume_id,
                                                       std::optional<uint64_t> new_size,
                                                       const QosRequest& qos) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(volume_id));
  if (new_size) VBS_RETURN_IF_ERROR(ValidateVolumeSize(*new_size));
  if (!new_size && qos.empty()) {
    return Status::InvalidArgument("MissingParameter",
                                   "name what to change: a size, a type, iops or throughput");
  }
  VolumeModificationRecord m;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto v, LoadOwned(tx, caller, volume_id));
    if (v.state != state::kAvailable && v.state != state::kInUse) {
      return IncorrectState("the volume '" + volume_id + "' is " + v.state +
                            "; only available or in-use volumes can be modified");
    }
    VBS_ASSIGN_OR_RETURN(auto busy, InFlightModification(tx, volume_id));
    if (busy) {
      return Status::Conflict("IncorrectModificationState",
                              "the volume '" + volume_id + "' is already being modified (" +
                                  busy->id + " is " + busy->state + ")");
    }
    if (new_size && *new_size <= v.size) {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "volumes only grow: the new size " + FormatSize(*new_size) +
                                         " is not larger than the current " + FormatSize(v.size) +
                                         " (" + std::to_string(v.size) + " bytes)");
    }
    const VolumeQos current{v.volume_type, v.iops, v.throughput};
    VolumeQos target = current;
    if (!qos.empty()) {
      VBS_ASSIGN_OR_RETURN(target, types_.ForModify(qos, current, new_size.value_or(v.size)));
      if (!new_size && target == current) {
        return Status::InvalidArgument("InvalidParameterValue",
                                       "the volume '" + volume_id + "' already has type '" +
                                           current.type + "' with these limits");
      }
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v.pool));
    if (!pool) return Status::Internal("volume " + v.id + " is in unknown pool " + v.pool);
    m = VolumeModificationRecord{};
    m.id = NewId("mod");
    m.volume_id = v.id;
    m.owner = v.owner;
    m.original_size = v.size;
    m.target_size = new_size.value_or(v.size);
    m.original_type = current.type;
    m.original_iops = current.iops;
    m.original_throughput = current.throughput;
    m.target_type = target.type;
    m.target_iops = target.iops;
    m.target_throughput = target.throughput;
    m.created_at = m.updated_at = NowMillis();
    if (new_size) {  // v.size is still the old size here (the growth is what counts)
      VBS_RETURN_IF_ERROR(CheckVolumeQuota(tx, quota_, v.owner, 0, *new_size - v.size));
    }
    // New limits are the volume's at once; hosts apply them (with a resize, when it is done).
    v.volume_type = target.type;
    v.iops = target.iops;
    v.throughput = target.throughput;
    v.updated_at = m.created_at;
    VBS_RETURN_IF_ERROR(tx.UpdateVolume(v));
    if (new_size) {
      PoolRecord target_pool = *pool;
      VBS_ASSIGN_OR_RETURN(target_pool.node, StorageNodeFor(tx, target_pool, policy_));
      const uint64_t growth = *new_size - v.size;
      VBS_ASSIGN_OR_RETURN(bool reserved, tx.TryReserve(v.pool, growth));
      if (!reserved) {
        const uint64_t free = pool->capacity > pool->reserved ? pool->capacity - pool->reserved : 0;
        return Status(StatusKind::kInsufficientCapacity, "InsufficientVolumeCapacity",
                      "there is not enough capacity in pool '" + v.pool +
                          "' to grow the volume by " + FormatSize(growth) + " (" +
                          FormatSize(free) + " free)");
      }
      m.state = state::kModifying;
      m.progress = 0;
      VBS_RETURN_IF_ERROR(tx.InsertVolumeModification(m));
      nlohmann::json params = {{"volume_id", v.id}, {"size", *new_size}};
      return EnqueueOperation(tx, opkind::kResizeVolume, m.id, target_pool, params.dump());
    }
    // Limits only: every host serving the volume applies them.
    AttachmentFilter af;
    af.volume_id = v.id;
    VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(af));
    std::set<std::string> nodes;
    for (const auto& a : live) nodes.insert(a.node);
    m.state = nodes.empty() ? state::kCompleted : state::kOptimizing;
    m.progress = nodes.empty() ? 100 : 50;
    VBS_RETURN_IF_ERROR(tx.InsertVolumeModification(m));
    for (const auto& node : nodes) {
      PoolRecord host = *pool;
      host.node = node;
      nlohmann::json params = {
          {"volume_id", v.id}, {"iops", target.iops}, {"throughput", target.throughput}};
      VBS_RETURN_IF_ERROR(EnqueueOperation(tx, opkind::kQosAttachments, m.id, host, params.dump()));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return m;
}

Result<std::vector<VolumeModificationRecord>> VolumeService::ListModifications(
    const Caller& caller, const std::vector<std::string>& volume_ids) {
  for (const auto& id : volume_ids) VBS_RETURN_IF_ERROR(ValidateVolumeId(id));
  std::vector<VolumeModificationRecord> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    if (volume_ids.empty()) {
      VolumeModificationFilter f;
      if (!caller.admin) f.owner = caller.user;
      VBS_ASSIGN_OR_RETURN(out, tx.ListVolumeModifications(f));
      return Status::Ok();
    }
    for (const auto& id : volume_ids) {
      VBS_ASSIGN_OR_RETURN(auto v, LoadOwned(tx, caller, id));
      VolumeModificationFilter f;
      f.volume_id = v.id;
      VBS_ASSIGN_OR_RETURN(auto mods, tx.ListVolumeModifications(f));
      out.insert(out.end(), mods.begin(), mods.end());
    }
    return Status::Ok();
  }));
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  return out;
}

Result<VolumeRecord> VolumeService::Create(const Caller& caller, const CreateVolumeRequest& req) {
  VBS_RETURN_IF_ERROR(ValidateTags(req.tags));
  if (req.size) VBS_RETURN_IF_ERROR(ValidateVolumeSize(*req.size));
  if (req.snapshot_id) VBS_RETURN_IF_ERROR(ValidateSnapshotId(*req.snapshot_id));
  if (!req.size && !req.snapshot_id) {
    return Status::InvalidArgument("MissingParameter", "a size or a snapshot id is required");
  }
  if (req.client_token && (req.client_token->empty() || req.client_token->size() > 64)) {
    return Status::InvalidArgument("InvalidParameterValue", "client tokens are 1 to 64 characters");
  }
  VolumeRecord v;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    if (req.client_token) {
      VBS_ASSIGN_OR_RETURN(auto prior, tx.FindVolumeByToken(caller.user, *req.client_token));
      if (prior) {
        // The same request again: answer with the volume it made, if it asked the same.
        const bool same_qos = (!req.qos.type || *req.qos.type == prior->volume_type) &&
                              (!req.qos.iops || *req.qos.iops == prior->iops) &&
                              (!req.qos.throughput || *req.qos.throughput == prior->throughput);
        if ((req.size && *req.size != prior->size) || req.snapshot_id != prior->snapshot_id ||
            !same_qos) {
          return Status::InvalidArgument(
              "IdempotentParameterMismatch",
              "the client token was already used for a different request");
        }
        v = *prior;
        return Status::Ok();
      }
    }
    std::optional<std::string> pool = req.pool;
    uint64_t size = req.size.value_or(0);
    if (req.snapshot_id) {
      VBS_ASSIGN_OR_RETURN(auto snap, tx.GetSnapshot(*req.snapshot_id));
      if (!snap || !caller.Owns(snap->owner) || snap->state == state::kDeleted) {
        return SnapshotNotFound(*req.snapshot_id);
      }
      if (snap->state != state::kCompleted &&
          !(req.after_snapshot && snap->state == state::kPending)) {
        return IncorrectState("the snapshot '" + snap->id + "' is " + snap->state +
                              ", not completed");
      }
      if (req.pool && *req.pool != snap->pool) {
        return Status::InvalidArgument(
            "InvalidParameterCombination",
            "a volume from a snapshot is made in the snapshot's pool '" + snap->pool + "'");
      }
      if (req.replaces_home) {
        VBS_ASSIGN_OR_RETURN(auto from, tx.GetVolume(snap->volume_id));
        auto mark = [&](const char* key) {
          auto t = from ? from->tags.find(key) : Tags::const_iterator{};
          return from && t != from->tags.end() && t->second == caller.user;
        };
        if (!mark(kHomeTag) && !mark(kFormerHomeTag)) {
          return Status::InvalidArgument(
              "InvalidParameterValue",
              "the snapshot '" + snap->id + "' is not of a home of '" + caller.user + "'");
        }
      }
      pool = snap->pool;
      if (!req.size) size = snap->size;
      if (size < snap->size) {
        return Status::InvalidArgument("InvalidParameterValue",
                                       "the volume size must be at least the snapshot's size (" +
                                           std::to_string(snap->size) + " bytes)");
      }
    }
    if (req.home) {
      VolumeFilter mine;
      mine.owner = caller.user;
      VBS_ASSIGN_OR_RETURN(auto owned, tx.ListVolumes(mine));
      bool replaced = false;
      for (auto o : owned) {
        auto tag = o.tags.find(kHomeTag);
        if (tag == o.tags.end() || tag->second != caller.user) continue;
        if (req.replaces_home != o.id) {
          return Status::Conflict("HomeExists", "user '" + caller.user + "' already has a home: " +
                                                    o.id + " (" + o.state + ")");
        }
        if (o.state != state::kAvailable) {
          return IncorrectState("the home of '" + caller.user + "' (" + o.id + ") is " + o.state +
                                "; it is replaced only when detached");
        }
        o.tags.erase(kHomeTag);
        o.tags[kFormerHomeTag] = caller.user;
        o.updated_at = NowMillis();
        VBS_RETURN_IF_ERROR(tx.UpdateVolume(o));
        replaced = true;
      }
      if (req.replaces_home && !replaced) {
        return IncorrectState("the volume '" + *req.replaces_home + "' is not the home of '" +
                              caller.user + "' any more");
      }
    }
    // QoS and quota first: a refused create must not reserve anything.
    VBS_ASSIGN_OR_RETURN(VolumeQos qos, types_.ForCreate(req.qos, size));
    VBS_RETURN_IF_ERROR(CheckVolumeQuota(tx, quota_, caller.user, 1, size));
    VBS_ASSIGN_OR_RETURN(PoolRecord placed, PlaceAndReserve(tx, pool, size, policy_));
    VBS_ASSIGN_OR_RETURN(placed.node, StorageNodeFor(tx, placed, policy_));
    v = VolumeRecord{};
    v.id = NewId("vol");
    v.owner = caller.user;
    v.size = size;
    v.pool = placed.name;
    v.state = state::kCreating;
    v.snapshot_id = req.snapshot_id;
    v.tags = req.tags;
    if (req.home) v.tags[kHomeTag] = caller.user;
    for (const auto& [key, value] : req.reserved_tags) v.tags[key] = value;
    v.client_token = req.client_token;
    v.volume_type = qos.type;
    v.iops = qos.iops;
    v.throughput = qos.throughput;
    v.created_at = v.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.InsertVolume(v));
    if (req.after_snapshot && req.snapshot_id) {
      VBS_ASSIGN_OR_RETURN(auto snap, tx.GetSnapshot(*req.snapshot_id));
      if (snap && snap->state == state::kPending) return tx.BumpRevision().status();
    }
    nlohmann::json params = {{"size", size}};
    if (req.snapshot_id) params["snapshot_id"] = *req.snapshot_id;
    return EnqueueOperation(tx, opkind::kCreateVolume, v.id, placed, params.dump());
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return v;
}

Result<VolumeRecord> VolumeService::Get(const Caller& caller, const std::string& id) {
  VolumeRecord v;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(v, LoadOwned(tx, caller, id));
    return Status::Ok();
  }));
  return v;
}

Result<std::vector<VolumeRecord>> VolumeService::List(const Caller& caller,
                                                      const VolumeListFilter& filter) {
  VolumeFilter f;
  if (!caller.admin) f.owner = caller.user;
  f.state = filter.state;
  f.include_deleted = filter.include_deleted;
  std::vector<VolumeRecord> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(out, tx.ListVolumes(f));
    return Status::Ok();
  }));
  if (filter.tag) {
    std::erase_if(out, [&](const VolumeRecord& v) {
      auto it = v.tags.find(filter.tag->first);
      return it == v.tags.end() || it->second != filter.tag->second;
    });
  }
  return out;
}

Result<VolumeRecord> VolumeService::Delete(const Caller& caller, const std::string& id) {
  VolumeRecord v;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(v, LoadOwned(tx, caller, id));
    if (v.state == state::kDeleting || v.state == state::kDeleted) return Status::Ok();
    if (v.state == state::kInUse) {
      return Status::Conflict("VolumeInUse",
                              "the volume '" + id + "' is attached; detach it first");
    }
    if (v.state != state::kAvailable && v.state != state::kError) {
      return IncorrectState("the volume '" + id + "' is " + v.state +
                            "; only available or error volumes can be deleted");
    }
    VBS_ASSIGN_OR_RETURN(auto busy, InFlightModification(tx, id));
    if (busy) {
      return IncorrectState("the volume '" + id + "' is being resized (" + busy->id + ")");
    }
    SnapshotFilter sf;
    sf.volume_id = id;
    sf.state = state::kPending;
    VBS_ASSIGN_OR_RETURN(auto pending, tx.ListSnapshots(sf));
    if (!pending.empty()) {
      return IncorrectState("the snapshot '" + pending[0].id + "' of volume '" + id +
                            "' is still pending");
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v.pool));
    if (!pool) return Status::Internal("volume " + id + " is in unknown pool " + v.pool);
    PoolRecord target = *pool;
    VBS_ASSIGN_OR_RETURN(target.node, StorageNodeFor(tx, target, policy_));
    v.state = state::kDeleting;
    v.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.UpdateVolume(v));
    return EnqueueOperation(tx, opkind::kDeleteVolume, v.id, target, "{}");
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return v;
}

Result<VolumeRecord> VolumeService::ForceState(const Caller& caller, const std::string& id,
                                               const std::string& new_state) {
  if (!caller.admin) {
    return Status::PermissionDenied("UnauthorizedOperation", "only admins can force states");
  }
  if (new_state != state::kAvailable && new_state != state::kError &&
      new_state != state::kDeleted) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "a forced state is available, error or deleted");
  }
  VolumeRecord v;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(v, LoadOwned(tx, caller, id));
    if (v.state == state::kDeleted) return IncorrectState("the volume '" + id + "' is deleted");
    // Work still queued for the volume would move it on behind the admin's back.
    OperationFilter of;
    of.resource_id = id;
    VBS_ASSIGN_OR_RETURN(auto ops, tx.ListOperations(of));
    for (auto& op : ops) {
      if (op.state == state::kOpDone || op.state == state::kOpFailed) continue;
      op.state = state::kOpFailed;
      op.error = "cancelled: an admin forced the volume to " + new_state;
      op.updated_at = NowMillis();
      VBS_RETURN_IF_ERROR(tx.UpdateOperation(op));
    }
    VBS_ASSIGN_OR_RETURN(auto busy, InFlightModification(tx, id));
    if (busy) {
      OperationFilter mf;
      mf.resource_id = busy->id;
      VBS_ASSIGN_OR_RETURN(auto mod_ops, tx.ListOperations(mf));
      for (auto& op : mod_ops) {
        if (op.state == state::kOpDone || op.state == state::kOpFailed) continue;
        op.state = state::kOpFailed;
        op.error = "cancelled: an admin forced the volume to " + new_state;
        op.updated_at = NowMillis();
        VBS_RETURN_IF_ERROR(tx.UpdateOperation(op));
      }
      // Not grown yet: the growth's reservation goes back (once grown, v.size holds it).
      if (busy->state == state::kModifying) {
        VBS_RETURN_IF_ERROR(tx.Release(v.pool, busy->target_size - busy->original_size));
      }
      busy->state = state::kFailed;
      busy->error = "cancelled: an admin forced the volume to " + new_state;
      busy->updated_at = NowMillis();
      VBS_RETURN_IF_ERROR(tx.UpdateVolumeModification(*busy));
    }
    if (new_state == state::kDeleted) VBS_RETURN_IF_ERROR(tx.Release(v.pool, v.size));
    v.state = new_state;
    v.error = new_state == state::kError ? std::optional<std::string>("forced by an admin")
                                         : std::nullopt;
    v.updated_at = NowMillis();
    return tx.UpdateVolume(v);
  }));
  return v;
}

}  // namespace vbs
