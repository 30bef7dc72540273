#include "core/operations.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/log_context.h"
#include "core/states.h"

namespace vbs {

Status EnqueueOperation(Transaction& tx, const std::string& kind, const std::string& resource_id,
                        const PoolRecord& pool, const std::string& params_json) {
  OperationRecord op;
  op.id = NewId("op");
  op.kind = kind;
  op.resource_id = resource_id;
  op.pool = pool.name;
  op.node = pool.node;
  op.state = state::kOpPending;
  op.params = params_json;
  // The request that queued it, so that the agent's lines about it carry the same id.
  if (const std::string request_id = CurrentLogField("request_id"); !request_id.empty()) {
    auto params = nlohmann::json::parse(params_json.empty() ? "{}" : params_json, nullptr, false);
    if (params.is_object()) {
      params["request_id"] = request_id;
      op.params = params.dump();
    }
  }
  op.created_at = op.updated_at = NowMillis();
  VBS_RETURN_IF_ERROR(tx.InsertOperation(op));
  return tx.BumpRevision().status();
}

namespace {

// After an attachment ends: the volume is available again once nothing is attached.
Status ReleaseVolumeIfUnattached(Transaction& tx, const std::string& volume_id, int64_t now) {
  AttachmentFilter f;
  f.volume_id = volume_id;
  VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(f));
  if (!live.empty()) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(volume_id));
  if (!v || v->state != state::kInUse) return Status::Ok();
  v->state = state::kAvailable;
  v->updated_at = now;
  return tx.UpdateVolume(*v);
}

Status ApplyAttachmentOutcome(Transaction& tx, const OperationRecord& op, bool ok,
                              const std::string& result_json, const std::string& message) {
  const int64_t now = NowMillis();
  VBS_ASSIGN_OR_RETURN(auto a, tx.GetAttachment(op.resource_id));
  if (!a) return Status::Ok();
  if (op.kind == opkind::kAttach) {
    if (a->state != state::kAttaching) return Status::Ok();
    if (ok) {
      auto r = nlohmann::json::parse(result_json, nullptr, false);
      if (r.is_object()) {
        for (auto [key, into] :
             {std::pair{"export_name", &a->export_name}, std::pair{"nbd_uri", &a->nbd_uri},
              std::pair{"mount_point", &a->mount_point}}) {
          if (r.contains(key) && r[key].is_string()) *into = r[key].get<std::string>();
        }
        if (r.contains("device") && r["device"].is_string()) {
          a->device = r["device"].get<std::string>();
        }
        for (auto [key, into] :
             {std::pair{"fs_size", &a->fs_size}, std::pair{"fs_used", &a->fs_used},
              std::pair{"fs_free", &a->fs_free}}) {
          if (r.contains(key) && r[key].is_number_integer()) {
            *into = r[key].get<int64_t>();
            a->fs_reported_at = now;
          }
        }
      }
      a->state = state::kAttached;
      a->error.reset();
    } else {
      a->state = state::kDetached;
      a->error = kAttachFailed + message;
    }
  } else {  // detach
    if (a->state != state::kDetaching) return Status::Ok();
    if (ok) {
      a->state = state::kDetached;
      a->error.reset();
    } else {
      a->state = state::kAttached;  // still attached: the user may retry, or force
      a->error = "detach failed: " + message;
    }
  }
  a->updated_at = now;
  VBS_RETURN_IF_ERROR(tx.UpdateAttachment(*a));
  if (a->state == state::kDetached) return ReleaseVolumeIfUnattached(tx, a->volume_id, now);
  return Status::Ok();
}

// resize_volume, resize_attachments and qos_attachments: the modification they belong to
// moves on.
Status ApplyModificationOutcome(Transaction& tx, const OperationRecord& op, bool ok,
                                const std::string& message) {
  const int64_t now = NowMillis();
  VBS_ASSIGN_OR_RETURN(auto m, tx.GetVolumeModification(op.resource_id));
  if (!m) return Status::Ok();
  VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(m->volume_id));
  if (op.kind == opkind::kResizeVolume) {
    if (m->state != state::kModifying) return Status::Ok();  // an admin ended it meanwhile
    m->updated_at = now;
    if (!ok || !v) {
      // Nothing grew: the growth goes back to the pool.
      if (v) VBS_RETURN_IF_ERROR(tx.Release(v->pool, m->target_size - m->original_size));
      m->state = state::kFailed;
      m->progress = 100;
      m->error = "resize failed: " + (v ? message : "the volume is gone");
      return tx.UpdateVolumeModification(*m);
    }
    v->size = m->target_size;  // its reservation was taken when the resize was asked for
    v->updated_at = now;
    VBS_RETURN_IF_ERROR(tx.UpdateVolume(*v));
    // Consumers learn the new size from the hosts that serve them: one op per such node.
    AttachmentFilter af;
    af.volume_id = v->id;
    VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(af));
    std::set<std::string> nodes;
    std::map<std::string, std::vector<std::string>> instances;  // node → instance ids
    for (const auto& a : live) {
      nodes.insert(a.node);
      instances[a.node].push_back(a.instance_id);
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v->pool));
    if (nodes.empty() || !pool) {
      m->state = state::kCompleted;
      m->progress = 100;
      return tx.UpdateVolumeModification(*m);
    }
    m->state = state::kOptimizing;
    m->progress = 50;
    VBS_RETURN_IF_ERROR(tx.UpdateVolumeModification(*m));
    for (const auto& node : nodes) {
      PoolRecord target = *pool;
      target.node = node;
      nlohmann::json params = {{"volume_id", v->id},
                               {"size", m->target_size},
                               {"instance_ids", instances[node]},
                               {"iops", v->iops},
                               {"throughput", v->throughput}};
      VBS_RETURN_IF_ERROR(
          EnqueueOperation(tx, opkind::kResizeAttachments, m->id, target, params.dump()));
    }
    return Status::Ok();
  }
  // resize_attachments / qos_attachments: this host has passed the change on (or not).
  if (m->state != state::kOptimizing) return Status::Ok();
  m->updated_at = now;
  if (!ok) {
    std::string e =
        op.kind == opkind::kQosAttachments
            ? "node '" + op.node +
                  "' could not apply the new limits (detach and attach again): " + message
            : "the volume grew to " + std::to_string(m->target_size) + " bytes, but node '" +
                  op.node +
                  "' could not pass the new size to its consumers (detach and attach again): " +
                  message;
    m->error = m->error ? *m->error + "; " + e : e;
  }
  OperationFilter of;
  of.resource_id = m->id;
  VBS_ASSIGN_OR_RETURN(auto ops, tx.ListOperations(of));
  for (const auto& other : ops) {
    if (other.id == op.id) continue;
    if (other.state == state::kOpPending || other.state == state::kOpRunning) {
      return tx.UpdateVolumeModification(*m);  // the last host to finish completes it
    }
  }
  m->state = m->error ? state::kFailed : state::kCompleted;
  m->progress = 100;
  return tx.UpdateVolumeModification(*m);
}

// The volumes still `creating` from snapshot `s` without a storage step of their own: they
// waited for it (CreateVolumeRequest::after_snapshot).
Result<std::vector<VolumeRecord>> VolumesWaitingFor(Transaction& tx, const SnapshotRecord& s) {
  VolumeFilter f;
  f.owner = s.owner;
  f.state = state::kCreating;
  VBS_ASSIGN_OR_RETURN(auto creating, tx.ListVolumes(f));
  std::vector<VolumeRecord> waiting;
  for (auto& v : creating) {
    if (v.snapshot_id != s.id) continue;
    OperationFilter of;
    of.resource_id = v.id;
    VBS_ASSIGN_OR_RETURN(auto ops, tx.ListOperations(of));
    if (ops.empty()) waiting.push_back(std::move(v));
  }
  return waiting;
}

Status StartVolumesWaitingFor(Transaction& tx, const SnapshotRecord& s, const OperationRecord& op) {
  VBS_ASSIGN_OR_RETURN(auto waiting, VolumesWaitingFor(tx, s));
  for (const auto& v : waiting) {
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v.pool));
    if (!pool) return Status::Internal("volume " + v.id + " is in unknown pool " + v.pool);
    PoolRecord target = *pool;
    target.node = op.node;  // it took the snapshot: it reaches the pool
    nlohmann::json params = {{"size", v.size}, {"snapshot_id", s.id}};
    VBS_RETURN_IF_ERROR(EnqueueOperation(tx, opkind::kCreateVolume, v.id, target, params.dump()));
  }
  return Status::Ok();
}

Status FailVolumesWaitingFor(Transaction& tx, const SnapshotRecord& s, const std::string& why) {
  VBS_ASSIGN_OR_RETURN(auto waiting, VolumesWaitingFor(tx, s));
  for (auto& v : waiting) {
    // As a failed create: the reservation stays until the volume is deleted.
    v.state = state::kError;
    v.error = "create failed: its snapshot " + s.id + " failed: " + why;
    v.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.UpdateVolume(v));
  }
  return Status::Ok();
}

}  // namespace

Status EndAttachmentWithoutNode(Transaction& tx, AttachmentRecord& a, const std::string& error) {
  a.state = state::kDetached;
  a.error = error;
  a.updated_at = NowMillis();
  VBS_RETURN_IF_ERROR(tx.UpdateAttachment(a));
  // Its queued attach/detach steps end too: a node that comes back must not export it again.
  for (const char* from : {state::kOpPending, state::kOpRunning}) {
    OperationFilter f;
    f.resource_id = a.id;
    f.state = from;
    VBS_ASSIGN_OR_RETURN(auto ops, tx.ListOperations(f));
    for (auto op : ops) {
      op.state = state::kOpFailed;
      op.error = error;
      op.updated_at = a.updated_at;
      VBS_RETURN_IF_ERROR(tx.TryTransitionOp(op, from).status());
    }
  }
  VBS_RETURN_IF_ERROR(ReleaseVolumeIfUnattached(tx, a.volume_id, a.updated_at));
  return tx.BumpRevision().status();
}

Status ApplyOperationSuccess(Transaction& tx, const OperationRecord& op,
                             const std::string& result_json) {
  const int64_t now = NowMillis();
  if (op.kind == opkind::kUnfenceClient) {
    // The node's current client goes on as such; an earlier process's is forgotten.
    auto params = nlohmann::json::parse(op.params, nullptr, false);
    if (params.is_object() && params.value("current", false)) {
      return tx.UpsertStorageClient(
          StorageClientRecord{op.pool, op.resource_id, op.node, state::kClientActive, now});
    }
    return tx.DeleteStorageClient(op.pool, op.resource_id);
  }
  // Done: the volume may move now (AttachmentService checks the newest fence of a volume).
  if (op.kind == opkind::kFenceClient) return tx.BumpRevision().status();
  if (op.kind == opkind::kAttach || op.kind == opkind::kDetach) {
    return ApplyAttachmentOutcome(tx, op, true, result_json, "");
  }
  if (op.kind == opkind::kResizeVolume || op.kind == opkind::kResizeAttachments ||
      op.kind == opkind::kQosAttachments) {
    return ApplyModificationOutcome(tx, op, true, "");
  }
  if (op.kind == opkind::kCreateVolume || op.kind == opkind::kDeleteVolume) {
    VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(op.resource_id));
    if (!v) return Status::Ok();  // nothing left to move on
    if (op.kind == opkind::kCreateVolume && v->state == state::kCreating) {
      v->state = state::kAvailable;
    } else if (op.kind == opkind::kDeleteVolume && v->state == state::kDeleting) {
      v->state = state::kDeleted;
      VBS_RETURN_IF_ERROR(tx.Release(v->pool, v->size));
    } else {
      return Status::Ok();  // an admin forced another state meanwhile: keep it
    }
    v->error.reset();
    v->updated_at = now;
    return tx.UpdateVolume(*v);
  }
  if (op.kind == opkind::kCreateSnapshot || op.kind == opkind::kDeleteSnapshot) {
    VBS_ASSIGN_OR_RETURN(auto s, tx.GetSnapshot(op.resource_id));
    if (!s) return Status::Ok();
    if (op.kind == opkind::kCreateSnapshot && s->state == state::kPending) {
      s->state = state::kCompleted;
      s->progress = 100;
      VBS_RETURN_IF_ERROR(StartVolumesWaitingFor(tx, *s, op));
    } else if (op.kind == opkind::kDeleteSnapshot && s->state == state::kDeleting) {
      s->state = state::kDeleted;
    } else {
      return Status::Ok();
    }
    s->error.reset();
    s->updated_at = now;
    return tx.UpdateSnapshot(*s);
  }
  return Status::Internal("unknown operation kind " + op.kind);
}

Status ApplyOperationFailure(Transaction& tx, const OperationRecord& op,
                             const std::string& message) {
  const int64_t now = NowMillis();
  if (op.kind == opkind::kAttach || op.kind == opkind::kDetach) {
    return ApplyAttachmentOutcome(tx, op, false, "{}", message);
  }
  if (op.kind == opkind::kResizeVolume || op.kind == opkind::kResizeAttachments ||
      op.kind == opkind::kQosAttachments) {
    return ApplyModificationOutcome(tx, op, false, message);
  }
  if (op.kind == opkind::kCreateVolume || op.kind == opkind::kDeleteVolume) {
    VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(op.resource_id));
    if (!v) return Status::Ok();
    bool creating = op.kind == opkind::kCreateVolume && v->state == state::kCreating;
    bool deleting = op.kind == opkind::kDeleteVolume && v->state == state::kDeleting;
    if (!creating && !deleting) return Status::Ok();
    // A failed create keeps its reservation until the volume is deleted: the backend may
    // hold part of it, and deleting an `error` volume runs the backend delete and releases.
    v->state = state::kError;
    v->error = (creating ? "create failed: " : "delete failed: ") + message;
    v->updated_at = now;
    return tx.UpdateVolume(*v);
  }
  if (op.kind == opkind::kCreateSnapshot || op.kind == opkind::kDeleteSnapshot) {
    VBS_ASSIGN_OR_RETURN(auto s, tx.GetSnapshot(op.resource_id));
    if (!s) return Status::Ok();
    bool pending = op.kind == opkind::kCreateSnapshot && s->state == state::kPending;
    bool deleting = op.kind == opkind::kDeleteSnapshot && s->state == state::kDeleting;
    if (!pending && !deleting) return Status::Ok();
    if (pending) VBS_RETURN_IF_ERROR(FailVolumesWaitingFor(tx, *s, message));
    s->state = state::kError;
    s->error = (pending ? "snapshot failed: " : "delete failed: ") + message;
    s->updated_at = now;
    return tx.UpdateSnapshot(*s);
  }
  if (op.kind == opkind::kFenceClient || op.kind == opkind::kUnfenceClient) {
    return tx.BumpRevision().status();  // the failure stays on the op (and blocks the move)
  }
  return Status::Internal("unknown operation kind " + op.kind);
}

}  // namespace vbs
