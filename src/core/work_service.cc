#include "core/work_service.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/clock.h"
#include "common/ids.h"
#include "core/attachment_service.h"
#include "core/operations.h"
#include "core/states.h"

namespace vbs {
namespace {

Status OpNotFound(const std::string& id) {
  return Status::NotFound("InvalidOperation.NotFound", "no operation '" + id + "' for this node");
}

}  // namespace

NodeLease WorkService::LeaseOf(int64_t epoch) const {
  return NodeLease{epoch, liveness_.lease_ms(), liveness_.renew_interval_ms()};
}

Result<NodeLease> WorkService::Hello(const std::string& node,
                                     const std::vector<PoolAnnouncement>& pools) {
  if (!IsValidName(node)) {
    return Status::InvalidArgument("InvalidParameterValue", "invalid node name '" + node + "'");
  }
  int64_t epoch = 0;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    const int64_t now = NowMillis();
    VBS_ASSIGN_OR_RETURN(const int64_t clock, tx.ClockMillis());
    VBS_ASSIGN_OR_RETURN(auto prior, tx.GetNode(node));
    epoch = prior ? prior->epoch + 1 : 1;
    VBS_RETURN_IF_ERROR(tx.UpsertNode(NodeRecord{node, epoch, clock}));
    for (const auto& p : pools) {
      if (!IsValidName(p.name)) {
        return Status::InvalidArgument("InvalidParameterValue",
                                       "invalid pool name '" + p.name + "'");
      }
      VBS_ASSIGN_OR_RETURN(auto existing, tx.GetPool(p.name));
      if (existing && existing->node != node && !existing->shared) {
        return Status::Conflict("PoolConflict",
                                "pool '" + p.name + "' belongs to node '" + existing->node + "'");
      }
      if (existing && existing->node != node && !p.shared) {
        return Status::Conflict("PoolConflict", "pool '" + p.name + "' is shared (node '" +
                                                    existing->node + "' declares it so)");
      }
      VBS_RETURN_IF_ERROR(tx.UpsertPool(PoolRecord{p.name, node, p.type, p.shared, p.capacity, 0}));
    }
    std::vector<std::string> declared;
    for (const auto& p : pools) declared.push_back(p.name);
    VBS_RETURN_IF_ERROR(tx.SetNodePools(node, declared));
    VBS_RETURN_IF_ERROR(RecordStorageClients(tx, node, pools, now));
    // The agent restarted: nothing of ours is running any more. Requeue it.
    OperationFilter f;
    f.node = node;
    f.state = state::kOpRunning;
    VBS_ASSIGN_OR_RETURN(auto running, tx.ListOperations(f));
    for (auto& op : running) {
      op.state = state::kOpPending;
      op.lease_until = 0;
      op.updated_at = now;
      VBS_RETURN_IF_ERROR(tx.UpdateOperation(op));
    }
    return tx.BumpRevision().status();
  }));
  notifier_.Notify();
  return LeaseOf(epoch);
}

// This process's storage clients become the node's; a client that was fenced (its node was
// taken over) is let in again by this node, now that it is back and has dropped every export:
// an earlier process's, or its own (the same process, paused or cut off, said hello again).
Status WorkService::RecordStorageClients(Transaction& tx, const std::string& node,
                                         const std::vector<PoolAnnouncement>& pools, int64_t now) {
  VBS_ASSIGN_OR_RETURN(auto known, tx.NodeStorageClients(node));
  for (const auto& c : known) {
    const bool current = std::any_of(pools.begin(), pools.end(), [&](const PoolAnnouncement& p) {
      return p.name == c.pool && p.client == c.client;
    });
    if (current && c.state != state::kClientFenced) continue;
    if (c.state != state::kClientFenced) {
      VBS_RETURN_IF_ERROR(tx.DeleteStorageClient(c.pool, c.client));  // gone with its process
      continue;
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(c.pool));
    if (!pool) continue;
    OperationFilter f;
    f.resource_id = c.client;
    VBS_ASSIGN_OR_RETURN(auto queued, tx.ListOperations(f));
    if (std::any_of(queued.begin(), queued.end(), [](const OperationRecord& op) {
          return op.state == state::kOpPending || op.state == state::kOpRunning;
        })) {
      continue;
    }
    PoolRecord here = *pool;
    here.node = node;
    nlohmann::json params = {{"client", c.client}, {"current", current}};
    VBS_RETURN_IF_ERROR(
        EnqueueOperation(tx, opkind::kUnfenceClient, c.client, here, params.dump()));
  }
  for (const auto& p : pools) {
    if (p.client.empty()) continue;
    const bool fenced = std::any_of(known.begin(), known.end(), [&](const StorageClientRecord& c) {
      return c.pool == p.name && c.client == p.client && c.state == state::kClientFenced;
    });
    if (fenced) continue;  // active again once the fence is lifted (ApplyOperationSuccess)
    VBS_RETURN_IF_ERROR(tx.UpsertStorageClient(
        StorageClientRecord{p.name, p.client, node, state::kClientActive, now}));
  }
  return Status::Ok();
}

Result<NodeLease> WorkService::Heartbeat(const std::string& node, int64_t epoch) {
  if (!IsValidName(node)) {
    return Status::InvalidArgument("InvalidParameterValue", "invalid node name '" + node + "'");
  }
  if (epoch <= 0) {
    return Status::InvalidArgument("InvalidParameterValue", "epoch must be a positive integer");
  }
  VBS_ASSIGN_OR_RETURN(bool renewed, store_.RenewNode(node, epoch, liveness_.node_timeout_ms));
  if (renewed) return LeaseOf(epoch);
  // Why not: read outside the renewal, only to say so (the renewal already refused).
  std::optional<NodeRecord> n;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(n, tx.GetNode(node));
    return Status::Ok();
  }));
  if (!n) return Status::NotFound("UnknownNode", "node '" + node + "' has not said hello");
  if (n->epoch != epoch) {
    return Status::Conflict("LeaseExpired", "node '" + node + "' registered again (epoch " +
                                                std::to_string(n->epoch) + ", not " +
                                                std::to_string(epoch) + "): say hello again");
  }
  return Status::Conflict("LeaseExpired", "the lease of node '" + node +
                                              "' ran out (silent for more than " +
                                              std::to_string(liveness_.node_timeout_ms / 1000) +
                                              " s): say hello again");
}

Result<WorkBatch> WorkService::Poll(const std::string& node, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    uint64_t seen = notifier_.generation();
    WorkBatch batch;
    VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
      VBS_ASSIGN_OR_RETURN(auto n, tx.GetNode(node));
      if (!n) return Status::Conflict("UnknownNode", "node '" + node + "' has not said hello");
      OperationFilter f;
      f.node = node;
      f.state = state::kOpPending;
      VBS_ASSIGN_OR_RETURN(batch.ops, tx.ListOperations(f));
      VBS_ASSIGN_OR_RETURN(batch.revision, tx.Revision());
      return Status::Ok();
    }));
    auto now = std::chrono::steady_clock::now();
    if (!batch.ops.empty() || now >= deadline || notifier_.shut_down()) return batch;
    // Local commits wake us at once; other servers' commits are seen within a second.
    notifier_.WaitFor(seen,
                      std::min<std::chrono::milliseconds>(
                          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                          std::chrono::milliseconds(1000)));
  }
}

Result<OperationRecord> WorkService::Claim(const std::string& node, const std::string& op_id) {
  OperationRecord op;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto found, tx.GetOperation(op_id));
    if (!found || found->node != node) return OpNotFound(op_id);
    op = *found;
    if (op.state != state::kOpPending) {
      return Status::Conflict("IncorrectState", "operation " + op_id + " is " + op.state);
    }
    op.state = state::kOpRunning;
    op.attempts += 1;
    op.lease_until = NowMillis() + policy_.lease_ms;
    op.updated_at = NowMillis();
    VBS_ASSIGN_OR_RETURN(bool won, tx.TryTransitionOp(op, state::kOpPending));
    if (!won) return Status::Conflict("IncorrectState", "operation " + op_id + " was claimed");
    return Status::Ok();
  }));
  return op;
}

Result<OperationRecord> WorkService::LoadRunning(Transaction& tx, const std::string& node,
                                                 const std::string& op_id) {
  VBS_ASSIGN_OR_RETURN(auto op, tx.GetOperation(op_id));
  if (!op || op->node != node) return OpNotFound(op_id);
  return *op;
}

Status WorkService::Progress(const std::string& node, const std::string& op_id, int percent) {
  percent = std::clamp(percent, 0, 100);
  return store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto op, LoadRunning(tx, node, op_id));
    if (op.state != state::kOpRunning) {
      return Status::Conflict("IncorrectState", "operation " + op_id + " is " + op.state);
    }
    op.lease_until = NowMillis() + policy_.lease_ms;
    op.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.UpdateOperation(op));
    if (op.kind == opkind::kCreateSnapshot) {
      VBS_ASSIGN_OR_RETURN(auto s, tx.GetSnapshot(op.resource_id));
      if (s && s->state == state::kPending && percent > s->progress) {
        s->progress = std::min(percent, 99);  // 100 only once completed
        s->updated_at = NowMillis();
        VBS_RETURN_IF_ERROR(tx.UpdateSnapshot(*s));
      }
    }
    return Status::Ok();
  });
}

Status WorkService::Complete(const std::string& node, const std::string& op_id, bool ok,
                             const std::string& error, const std::string& result_json) {
  return store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto op, LoadRunning(tx, node, op_id));
    if (op.state == state::kOpDone || op.state == state::kOpFailed) {
      return Status::Ok();  // a repeated report (the first answer was lost): same outcome
    }
    if (op.state != state::kOpRunning) {
      return Status::Conflict("IncorrectState", "operation " + op_id + " is " + op.state);
    }
    const std::string from = op.state;
    op.updated_at = NowMillis();
    if (ok) {
      op.state = state::kOpDone;
      op.error.reset();
    } else if (op.attempts < policy_.max_attempts && error.rfind("retry:", 0) == 0) {
      op.state = state::kOpPending;  // a transient failure the agent asked to retry
      op.error = error;
    } else {
      op.state = state::kOpFailed;
      op.error = error;
    }
    VBS_ASSIGN_OR_RETURN(bool won, tx.TryTransitionOp(op, from));
    if (!won) return Status::Conflict("IncorrectState", "operation " + op_id + " moved on");
    if (op.state == state::kOpDone) return ApplyOperationSuccess(tx, op, result_json);
    if (op.state == state::kOpFailed) return ApplyOperationFailure(tx, op, error);
    return tx.BumpRevision().status();
  });
}

Status WorkService::ReportInstances(const std::string& node,
                                    const std::vector<InstanceRecord>& seen) {
  bool queued = false;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    queued = false;
    const int64_t now = NowMillis();
    std::set<std::string> present;
    for (auto inst : seen) {
      if (!IsValidInstanceId(inst.id)) {
        return Status::InvalidArgument("InvalidInstanceID.Malformed",
                                       "invalid instance id '" + inst.id + "'");
      }
      VBS_ASSIGN_OR_RETURN(auto prior, tx.GetInstance(inst.id));
      if (prior && prior->node != node && prior->state == state::kRunning) {
        return Status::Conflict("InstanceConflict",
                                "instance '" + inst.id + "' runs on node '" + prior->node + "'");
      }
      // The owner file names the owner once; after that only an admin changes it.
      if (prior && !prior->owner.empty()) inst.owner = prior->owner;
      if (inst.kind == "host") inst.owner.clear();
      inst.node = node;
      inst.state = state::kRunning;
      inst.last_seen = now;
      VBS_RETURN_IF_ERROR(tx.UpsertInstance(inst));
      present.insert(inst.id);
    }
    VBS_ASSIGN_OR_RETURN(auto known, tx.ListInstances(node));
    for (auto inst : known) {
      if (present.count(inst.id) || inst.state == state::kGone) continue;
      inst.state = state::kGone;
      inst.last_seen = now;
      VBS_RETURN_IF_ERROR(tx.UpsertInstance(inst));
      AttachmentFilter f;
      f.instance_id = inst.id;
      VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(f));
      for (auto a : live) {
        if (a.state == state::kDetaching) continue;  // already on its way out
        a.state = state::kDetaching;
        a.error = "the instance '" + inst.id + "' is gone";
        a.updated_at = now;
        VBS_RETURN_IF_ERROR(tx.UpdateAttachment(a));
        VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(a.volume_id));
        VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v ? v->pool : ""));
        if (!pool) continue;
        PoolRecord target = *pool;
        target.node = node;
        nlohmann::json params = {{"volume_id", a.volume_id},
                                 {"instance_id", a.instance_id},
                                 {"device", a.device},
                                 {"force", true},
                                 {"instance_gone", true}};
        if (a.export_name) params["export_name"] = *a.export_name;
        VBS_RETURN_IF_ERROR(EnqueueOperation(tx, opkind::kDetach, a.id, target, params.dump()));
        queued = true;
      }
    }
    return Status::Ok();
  }));
  if (queued) notifier_.Notify();
  return Status::Ok();
}

Status WorkService::ReportMounts(const std::string& node, const std::vector<MountReport>& mounts) {
  return store_.Transact([&](Transaction& tx) -> Status {
    const int64_t now = NowMillis();
    for (const auto& m : mounts) {
      AttachmentFilter f;
      f.volume_id = m.volume_id;
      f.node = node;
      VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(f));
      for (auto a : live) {
        if (a.state != state::kAttached || !a.mount_point) continue;
        a.fs_size = m.size;
        a.fs_used = m.used;
        a.fs_free = m.free;
        a.fs_reported_at = now;  // not a change of state: no revision bump
        VBS_RETURN_IF_ERROR(tx.UpdateAttachment(a));
      }
    }
    return Status::Ok();
  });
}

Result<PoolInventory> WorkService::Inventory(const std::string& node, const std::string& pool) {
  PoolInventory inv;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto p, tx.GetPool(pool));
    if (!p || (p->node != node && !p->shared)) {
      return Status::NotFound("InvalidPool.NotFound", "the pool '" + pool + "' is not this node's");
    }
    VolumeFilter vf;
    vf.pool = pool;
    vf.include_deleted = true;
    VBS_ASSIGN_OR_RETURN(auto vols, tx.ListVolumes(vf));
    for (auto& v : vols) inv.volumes[v.id] = v.state;
    SnapshotFilter sf;
    sf.pool = pool;
    sf.include_deleted = true;
    VBS_ASSIGN_OR_RETURN(auto snaps, tx.ListSnapshots(sf));
    for (auto& s : snaps) inv.snapshots[s.id] = s.state;
    return Status::Ok();
  }));
  return inv;
}

}  // namespace vbs

namespace vbs {

Result<std::vector<WorkService::NodeAttachment>> WorkService::NodeAttachments(
    const std::string& node) {
  std::vector<NodeAttachment> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    AttachmentFilter f;
    f.node = node;
    VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(f));
    for (auto& a : live) {
      VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(a.volume_id));
      out.push_back(NodeAttachment{a, v ? v->pool : "", v ? v->iops : 0, v ? v->throughput : 0});
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace vbs
