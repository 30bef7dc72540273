#include "core/operations.h"

#include "common/clock.h"
#include "common/ids.h"
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
  op.created_at = op.updated_at = NowMillis();
  VBS_RETURN_IF_ERROR(tx.InsertOperation(op));
  return tx.BumpRevision().status();
}

Status ApplyOperationSuccess(Transaction& tx, const OperationRecord& op) {
  const int64_t now = NowMillis();
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
    s->state = state::kError;
    s->error = (pending ? "snapshot failed: " : "delete failed: ") + message;
    s->updated_at = now;
    return tx.UpdateSnapshot(*s);
  }
  return Status::Internal("unknown operation kind " + op.kind);
}

}  // namespace vbs
