#include "core/attachment_service.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/ids.h"
#include "core/admin_service.h"
#include "core/operations.h"
#include "core/states.h"
#include "core/validation.h"
#include "core/volume_service.h"

namespace vbs {
namespace {

Status InstanceNotFound(const std::string& id) {
  return Status::NotFound("InvalidInstanceID.NotFound", "the instance '" + id + "' does not exist");
}

Status VolumeInUse(const std::string& message) {
  return Status::Conflict("VolumeInUse", message);
}

bool IsValidDevice(const std::string& d) {
  if (d.empty() || d.size() > 32) return false;
  for (char c : d) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

bool IsValidInstanceId(const std::string& id) {
  if (id.rfind("host-", 0) == 0) return IsValidName(id.substr(5));
  return IsValidId(id, "i");
}

std::string HostInstanceId(const std::string& node) {
  return "host-" + node;
}

Result<AttachmentRecord> AttachmentService::Attach(const Caller& caller, const AttachRequest& req) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(req.volume_id));
  if (!IsValidInstanceId(req.instance_id)) {
    return Status::InvalidArgument("InvalidInstanceID.Malformed",
                                   "invalid instance id '" + req.instance_id +
                                       "': expected i- and 17 hex digits, or host-NODE");
  }
  if (req.mode != "rw" && req.mode != "ro") {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "mode is rw or ro, not '" + req.mode + "'");
  }
  if (req.device && !IsValidDevice(*req.device)) {
    return Status::InvalidArgument("InvalidParameterValue", "device names are 1-32 of a-z 0-9 - _");
  }
  if (req.uid && (*req.uid < 0 || *req.uid > kMaxUid)) {
    return Status::InvalidArgument("InvalidParameterValue", "uid is a local user id from 0 to " +
                                                                std::to_string(kMaxUid) + ", not " +
                                                                std::to_string(*req.uid));
  }
  AttachmentRecord a;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(req.volume_id));
    if (!v || !caller.Owns(v->owner)) return VolumeNotFound(req.volume_id);
    if (v->state != state::kAvailable && v->state != state::kInUse) {
      return IncorrectState("the volume '" + v->id + "' is " + v->state +
                            "; only available or in-use volumes can be attached");
    }
    // A published version of VBSFS's public volume is sealed (core/public_service.h).
    if (auto pub = v->tags.find(kPublicTag);
        req.mode == "rw" && pub != v->tags.end() && pub->second != "draft") {
      return Status::InvalidArgument("InvalidParameterCombination",
                                     "the volume '" + v->id + "' is version " + pub->second +
                                         " of the public volume: it is attached read-only");
    }
    VBS_ASSIGN_OR_RETURN(auto inst, tx.GetInstance(req.instance_id));
    if (!inst) return InstanceNotFound(req.instance_id);
    VBS_ASSIGN_OR_RETURN(bool mine, MayUse(tx, caller, *inst));
    if (!mine) return InstanceNotFound(req.instance_id);  // as if it did not exist
    if (inst->state != state::kRunning) {
      return IncorrectState("the instance '" + inst->id + "' is " + inst->state);
    }
    if ((req.home_of || req.public_mount) && (inst->kind != "host" || req.uid)) {
      return Status::InvalidArgument("InvalidParameterCombination",
                                     "a home is mounted by a node's agent: it attaches to a "
                                     "node (host-NODE) without a uid");
    }
    if (req.uid && inst->kind != "host") {
      return Status::InvalidArgument("InvalidParameterCombination",
                                     "uid names the consumer of a host target; a VM's consumer "
                                     "is its own QEMU process");
    }
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v->pool));
    if (!pool) return Status::Internal("volume " + v->id + " is in unknown pool " + v->pool);
    if (!pool->shared && pool->node != inst->node) {
      return IncorrectState("the volume '" + v->id + "' is in pool '" + pool->name +
                            "', local to node '" + pool->node + "'; the instance runs on node '" +
                            inst->node + "'");
    }
    if (pool->shared) {  // the instance's host opens the volume itself: it must reach the pool
      VBS_ASSIGN_OR_RETURN(auto declarers, tx.PoolNodes(pool->name));
      if (std::find(declarers.begin(), declarers.end(), inst->node) == declarers.end()) {
        return IncorrectState("the volume '" + v->id + "' is in shared pool '" + pool->name +
                              "', which node '" + inst->node + "' (the instance's host) does " +
                              "not declare");
      }
    }
    VBS_ASSIGN_OR_RETURN(const int64_t clock, tx.ClockMillis());
    if (!NodeIsUp(tx, inst->node, clock, policy_)) {
      return NodeUnavailable(inst->node, "attaching to instance '" + inst->id + "'");
    }
    VBS_RETURN_IF_ERROR(CheckFenced(tx, v->id));
    AttachmentFilter f;
    f.volume_id = v->id;
    VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(f));
    for (const auto& other : live) {
      if (other.instance_id == inst->id) {
        return VolumeInUse("the volume '" + v->id + "' is already attached to '" + inst->id + "'");
      }
      if (req.mode == "rw" || other.mode == "rw") {
        return VolumeInUse("the volume '" + v->id + "' is attached " + other.mode + " to '" +
                           other.instance_id +
                           "'; a read-write attachment excludes every other attachment");
      }
    }
    a = AttachmentRecord{};
    a.id = NewId("att");
    a.volume_id = v->id;
    a.instance_id = inst->id;
    a.node = inst->node;
    a.owner = v->owner;
    a.mode = req.mode;
    a.device = req.device.value_or("vbs-" + v->id.substr(4));
    a.state = state::kAttaching;
    if (inst->kind == "host") a.consumer_uid = req.uid.value_or(0);
    a.created_at = a.updated_at = NowMillis();
    Status ins = tx.InsertAttachment(a);
    if (ins.kind() == StatusKind::kAlreadyExists) {
      return VolumeInUse("the volume '" + v->id + "' was attached concurrently");
    }
    VBS_RETURN_IF_ERROR(ins);
    if (v->state != state::kInUse) {
      v->state = state::kInUse;
      v->updated_at = a.created_at;
      VBS_RETURN_IF_ERROR(tx.UpdateVolume(*v));
    }
    PoolRecord target = *pool;
    target.node = inst->node;  // the host of the instance exports and plugs the volume
    nlohmann::json params = {{"volume_id", v->id},          {"instance_id", inst->id},
                             {"instance_kind", inst->kind}, {"mode", a.mode},
                             {"device", a.device},          {"size", v->size}};
    if (a.consumer_uid) params["uid"] = *a.consumer_uid;
    params["iops"] = v->iops;
    params["throughput"] = v->throughput;
    if (req.home_of) params["mount"] = {{"kind", "home"}, {"user", *req.home_of}};
    if (req.public_mount) params["mount"] = {{"kind", *req.public_mount}};
    return EnqueueOperation(tx, opkind::kAttach, a.id, target, params.dump());
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return a;
}

Result<AttachmentRecord> AttachmentService::Detach(const Caller& caller,
                                                   const std::string& volume_id,
                                                   const std::optional<std::string>& instance_id,
                                                   bool force) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(volume_id));
  if (instance_id && !IsValidInstanceId(*instance_id)) {
    return Status::InvalidArgument("InvalidInstanceID.Malformed",
                                   "invalid instance id '" + *instance_id + "'");
  }
  AttachmentRecord a;
  Status st = store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(volume_id));
    if (!v || !caller.Owns(v->owner)) return VolumeNotFound(volume_id);
    AttachmentFilter f;
    f.volume_id = volume_id;
    f.instance_id = instance_id;
    VBS_ASSIGN_OR_RETURN(auto live, tx.ListAttachments(f));
    if (live.empty()) {
      return IncorrectState("the volume '" + volume_id + "' is not attached" +
                            (instance_id ? " to '" + *instance_id + "'" : std::string()));
    }
    if (live.size() > 1) {
      return Status::InvalidArgument("InvalidParameterCombination",
                                     "the volume '" + volume_id + "' is attached to " +
                                         std::to_string(live.size()) +
                                         " instances; name the one to detach from");
    }
    a = live[0];
    if (a.state == state::kDetaching && !force) return Status::Ok();
    VBS_ASSIGN_OR_RETURN(const int64_t clock, tx.ClockMillis());
    if (force && !NodeIsUp(tx, a.node, clock, policy_)) {
      // Nobody is left to run a detach there; waiting for one would keep the volume bound to
      // a dead machine (and, for a shared pool, away from the nodes that could serve it).
      return EndAttachmentWithoutNode(tx, a, "force-detached while node '" + a.node + "' was down");
    }
    a.state = state::kDetaching;
    a.updated_at = NowMillis();
    VBS_RETURN_IF_ERROR(tx.UpdateAttachment(a));
    VBS_ASSIGN_OR_RETURN(auto pool, tx.GetPool(v->pool));
    if (!pool) return Status::Internal("volume " + v->id + " is in unknown pool " + v->pool);
    PoolRecord target = *pool;
    target.node = a.node;
    nlohmann::json params = {{"volume_id", a.volume_id},
                             {"instance_id", a.instance_id},
                             {"device", a.device},
                             {"force", force}};
    if (a.export_name) params["export_name"] = *a.export_name;
    return EnqueueOperation(tx, opkind::kDetach, a.id, target, params.dump());
  });
  if (!st.ok()) return st;
  notifier_.Notify();
  return a;
}

// A volume taken over from a node that lost its lease moves only once that node's storage
// client is fenced (reconciler.h): until its newest fence_client step is done, attach waits.
Status AttachmentService::CheckFenced(Transaction& tx, const std::string& volume_id) {
  OperationFilter f;
  f.resource_id = volume_id;
  VBS_ASSIGN_OR_RETURN(auto ops, tx.ListOperations(f));
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
    if (it->kind != opkind::kFenceClient) continue;
    if (it->state == state::kOpDone) return Status::Ok();
    const std::string why = it->state == state::kOpFailed
                                ? "failed (" + it->error.value_or("") + "); an admin must look"
                                : "is under way; try again shortly";
    return VolumeInUse("the volume '" + volume_id + "' was taken over from a node that lost its " +
                       "lease; fencing that node out of the storage " + why);
  }
  return Status::Ok();
}

Result<std::vector<AttachmentRecord>> AttachmentService::List(
    const Caller& caller, const std::optional<std::string>& volume_id) {
  if (volume_id) VBS_RETURN_IF_ERROR(ValidateVolumeId(*volume_id));
  std::vector<AttachmentRecord> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    AttachmentFilter f;
    f.volume_id = volume_id;
    VBS_ASSIGN_OR_RETURN(out, tx.ListAttachments(f));
    return Status::Ok();
  }));
  std::erase_if(out, [&](const AttachmentRecord& a) { return !caller.Owns(a.owner); });
  return out;
}

Result<std::optional<AttachmentRecord>> AttachmentService::LastFailedAttach(
    const Caller& caller, const std::string& volume_id) {
  VBS_RETURN_IF_ERROR(ValidateVolumeId(volume_id));
  std::optional<AttachmentRecord> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.reset();
    VBS_ASSIGN_OR_RETURN(auto v, tx.GetVolume(volume_id));
    if (!v || !caller.Owns(v->owner)) return VolumeNotFound(volume_id);
    AttachmentFilter f;
    f.volume_id = volume_id;
    f.include_detached = true;
    VBS_ASSIGN_OR_RETURN(auto all, tx.ListAttachments(f));  // oldest first
    if (all.empty()) return Status::Ok();
    const AttachmentRecord& last = all.back();
    if (last.state == state::kDetached && last.error && !last.error->empty()) {
      out = last;
    }
    return Status::Ok();
  }));
  return out;
}

Result<bool> MayUse(Transaction& tx, const Caller& caller, const InstanceRecord& inst) {
  if (caller.admin) return true;
  if (inst.kind != "host") return !inst.owner.empty() && inst.owner == caller.user;
  VBS_ASSIGN_OR_RETURN(auto allowed, tx.NodeUsers(inst.node));
  return std::find(allowed.begin(), allowed.end(), caller.user) != allowed.end();
}

Result<std::vector<InstanceRecord>> AttachmentService::ListInstances(const Caller& caller) {
  std::vector<InstanceRecord> out;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    out.clear();
    VBS_ASSIGN_OR_RETURN(auto all, tx.ListInstances(std::nullopt));
    for (auto& inst : all) {
      VBS_ASSIGN_OR_RETURN(bool mine, MayUse(tx, caller, inst));
      if (mine) out.push_back(std::move(inst));
    }
    return Status::Ok();
  }));
  return out;
}

Result<InstanceRecord> AttachmentService::AssignInstance(const Caller& caller,
                                                         const std::string& instance_id,
                                                         const std::string& owner) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  InstanceRecord inst;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto found, tx.GetInstance(instance_id));
    if (!found) return InstanceNotFound(instance_id);
    if (found->kind == "host") {
      return Status::InvalidArgument("InvalidParameterValue",
                                     "a node's own instance has no owner; allow users on the "
                                     "node instead (vbs admin node allow)");
    }
    VBS_RETURN_IF_ERROR(LiveUser(tx, owner).status());
    inst = *found;
    inst.owner = owner;
    return tx.UpsertInstance(inst);
  }));
  return inst;
}

Result<std::vector<std::string>> AttachmentService::AllowOnNode(const Caller& caller,
                                                                const std::string& node,
                                                                const std::string& user,
                                                                bool allowed) {
  VBS_RETURN_IF_ERROR(RequireAdmin(caller));
  std::vector<std::string> users;
  VBS_RETURN_IF_ERROR(store_.Transact([&](Transaction& tx) -> Status {
    VBS_ASSIGN_OR_RETURN(auto n, tx.GetNode(node));
    if (!n) return Status::NotFound("InvalidNode.NotFound", "no node '" + node + "'");
    if (allowed) VBS_RETURN_IF_ERROR(LiveUser(tx, user).status());
    VBS_RETURN_IF_ERROR(tx.SetNodeUser(node, user, allowed));
    VBS_ASSIGN_OR_RETURN(users, tx.NodeUsers(node));
    return Status::Ok();
  }));
  return users;
}

}  // namespace vbs
