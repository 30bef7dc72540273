#include "agent/storage_role.h"

#include <spdlog/spdlog.h>

namespace vbs {

Result<BlockBackend*> StorageRole::Backend(const std::string& pool) {
  auto it = pools_->find(pool);
  if (it == pools_->end()) {
    return Status::NotFound("InvalidPool.NotFound", "this agent has no pool '" + pool + "'");
  }
  return it->second.backend.get();
}

// A copy of a snapshot with the backend's own operations: a scratch volume made from the
// source (named after the new snapshot, so a re-run after a crash finds and reuses it), a
// snapshot of that, and the scratch volume removed again. With reflinks (dir on XFS/btrfs)
// and native clones (rbd) each step shares blocks instead of copying them.
Status StorageRole::CopySnapshot(BlockBackend& backend, const AgentOp& op,
                                 const ProgressFn& progress) {
  if (!op.params["source_snapshot_id"].is_string() || !op.params.contains("size") ||
      !op.params["size"].is_number_unsigned() || op.resource_id.rfind("snap-", 0) != 0) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "copy of a snapshot without a source or a size");
  }
  const std::string scratch = "vol-" + op.resource_id.substr(5);
  auto half = [&progress](int p) {
    if (progress) progress(p / 2);
  };
  Status st = backend.CreateVolumeFromSnapshot(op.params["source_snapshot_id"].get<std::string>(),
                                               scratch, op.params["size"].get<uint64_t>(), half);
  if (st.ok()) {
    st = backend.CreateSnapshot(scratch, op.resource_id, [&progress](int p) {
      if (progress) progress(50 + p / 2);
    });
  }
  Status removed = backend.DeleteVolume(scratch);
  if (!removed.ok()) {
    spdlog::warn("copy {}: scratch volume {} not removed: {}", op.resource_id, scratch,
                 removed.ToString());
  }
  return st;
}

Status StorageRole::Execute(const AgentOp& op, const ProgressFn& progress) {
  VBS_ASSIGN_OR_RETURN(BlockBackend * backend, Backend(op.pool));
  Status st;
  if (op.kind == "create_volume") {
    if (!op.params.contains("size") || !op.params["size"].is_number_unsigned()) {
      return Status::InvalidArgument("InvalidParameterValue", "create_volume without a size");
    }
    uint64_t size = op.params["size"].get<uint64_t>();
    if (op.params.contains("snapshot_id") && op.params["snapshot_id"].is_string()) {
      st = backend->CreateVolumeFromSnapshot(op.params["snapshot_id"].get<std::string>(),
                                             op.resource_id, size, progress);
    } else {
      st = backend->CreateVolume(op.resource_id, size);
    }
  } else if (op.kind == "delete_volume") {
    st = backend->DeleteVolume(op.resource_id);
  } else if (op.kind == "create_snapshot" && op.params.contains("source_snapshot_id")) {
    st = CopySnapshot(*backend, op, progress);
  } else if (op.kind == "create_snapshot") {
    if (!op.params.contains("volume_id") || !op.params["volume_id"].is_string()) {
      return Status::InvalidArgument("InvalidParameterValue", "create_snapshot without a volume");
    }
    st = backend->CreateSnapshot(op.params["volume_id"].get<std::string>(), op.resource_id,
                                 progress);
  } else if (op.kind == "resize_volume") {
    if (!op.params.contains("size") || !op.params["size"].is_number_unsigned() ||
        !op.params.contains("volume_id") || !op.params["volume_id"].is_string()) {
      return Status::InvalidArgument("InvalidParameterValue", "resize_volume without a volume");
    }
    // Idempotent: a re-run after a crash finds the volume already grown.
    st = backend->ResizeVolume(op.params["volume_id"].get<std::string>(),
                               op.params["size"].get<uint64_t>());
  } else if (op.kind == "delete_snapshot") {
    st = backend->DeleteSnapshot(op.resource_id);
  } else if (op.kind == "fence_client" || op.kind == "unfence_client") {
    // Another node's storage client (design.md §4): fenced before its volume moves, let in
    // again once that node is back. resource_id: the volume (fence) or the client (unfence).
    if (!op.params.contains("client") || !op.params["client"].is_string()) {
      return Status::InvalidArgument("InvalidParameterValue", op.kind + " without a client");
    }
    const std::string client = op.params["client"].get<std::string>();
    st = op.kind == "fence_client" ? backend->FenceClient(client, op.resource_id)
                                   : backend->UnfenceClient(client);
    spdlog::warn("pool {}: {} {} ({}): {}", op.pool, op.kind, client, op.resource_id,
                 st.ToString());
  } else {
    return Status::InvalidArgument("UnknownOperation", "unknown operation kind '" + op.kind + "'");
  }
  if (!st.ok() && st.kind() == StatusKind::kUnavailable) {
    return Status(st.kind(), st.code(), "retry: " + st.message());
  }
  return st;
}

void StorageRole::Reconcile(const std::string& pool, const AgentInventory& inventory) {
  auto backend = Backend(pool);
  if (!backend.ok()) return;
  auto objects = (*backend)->List();
  if (!objects.ok()) {
    spdlog::error("pool {}: cannot list objects: {}", pool, objects.status().ToString());
    return;
  }
  for (const auto& name : objects->partials) {
    Status st = (*backend)->RemovePartial(name);
    spdlog::info("pool {}: removed half-made {}: {}", pool, name, st.ToString());
  }
  // Objects the server has deleted (e.g. forced by an admin) are removed; objects it does not
  // know at all are left alone and reported: never delete data on a guess.
  for (const auto& id : objects->volumes) {
    auto it = inventory.volumes.find(id);
    auto copy = inventory.snapshots.find("snap-" + id.substr(4));
    if (it == inventory.volumes.end() && copy != inventory.snapshots.end() &&
        copy->second != "pending") {
      // The scratch volume of a finished snapshot copy (CopySnapshot) that a crash left.
      Status st = (*backend)->DeleteVolume(id);
      spdlog::info("pool {}: removed scratch volume {} of {}: {}", pool, id, copy->first,
                   st.ToString());
    } else if (it == inventory.volumes.end()) {
      spdlog::warn("pool {}: volume {} is not in the metadata store; left alone", pool, id);
    } else if (it->second == "deleted") {
      Status st = (*backend)->DeleteVolume(id);
      spdlog::info("pool {}: removed deleted volume {}: {}", pool, id, st.ToString());
    }
  }
  for (const auto& id : objects->snapshots) {
    auto it = inventory.snapshots.find(id);
    if (it == inventory.snapshots.end()) {
      spdlog::warn("pool {}: snapshot {} is not in the metadata store; left alone", pool, id);
    } else if (it->second == "deleted") {
      Status st = (*backend)->DeleteSnapshot(id);
      spdlog::info("pool {}: removed deleted snapshot {}: {}", pool, id, st.ToString());
    }
  }
}

}  // namespace vbs
