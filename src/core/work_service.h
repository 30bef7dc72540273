// WorkService: the server side of the agent protocol (design.md §4).
//
// An agent says Hello at start (its pools are registered, and whatever this node had
// running is requeued, because a restarted agent is running nothing; the node gets a new
// epoch and a fresh lease), renews its lease with Heartbeat on a thread and a connection of
// its own (design.md §4: a heartbeat never waits behind work), long-polls for
// pending operations addressed to its node, Claims one (pending → running with a lease,
// exactly one claimer wins), reports Progress (renews the lease) and Completes it, which
// moves the resource on in the same transaction. The Reconciler ends work whose lease ran
// out.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/revision_notifier.h"
#include "core/scheduler.h"
#include "store/metadata_store.h"

namespace vbs {

struct WorkPolicy {
  int64_t lease_ms = 30000;  // an agent must report a running op this often
  int max_attempts = 5;      // then the op fails and its resource goes to error
};

struct PoolAnnouncement {
  std::string name;
  std::string type;
  bool shared = false;
  uint64_t capacity = 0;
  std::string client = "";  // the agent's identity in the pool's storage, "" for none
};

struct WorkBatch {
  int64_t revision = 0;
  std::vector<OperationRecord> ops;
};

// What Hello and Heartbeat grant: the node's registration and its lease (scheduler.h).
struct NodeLease {
  int64_t epoch = 0;
  int64_t lease_ms = 0;           // the agent writes for this long after it sent the request
  int64_t renew_interval_ms = 0;  // how often the agent should renew
};

struct PoolInventory {
  std::map<std::string, std::string> volumes;    // id → state
  std::map<std::string, std::string> snapshots;  // id → state
};

class WorkService {
 public:
  WorkService(MetadataStore& store, RevisionNotifier& notifier, WorkPolicy policy = {},
              PlacementPolicy liveness = {})
      : store_(store), notifier_(notifier), policy_(policy), liveness_(liveness) {}

  Result<NodeLease> Hello(const std::string& node, const std::vector<PoolAnnouncement>& pools);
  // Renews the lease of `node` in registration `epoch`. Conflict "LeaseExpired" when the node
  // has been silent past node_timeout (it may have been taken over) or registered again since,
  // and NotFound "UnknownNode" for a node that never said hello: the agent must say Hello
  // again (which ends nothing by itself; its attachments may have ended meanwhile).
  Result<NodeLease> Heartbeat(const std::string& node, int64_t epoch);
  // Pending ops for `node`; waits up to `wait` for some to appear. Liveness is Heartbeat's
  // alone: a node whose workers are all busy, or whose polls queue, is not taken for dead.
  Result<WorkBatch> Poll(const std::string& node, std::chrono::milliseconds wait);
  Result<OperationRecord> Claim(const std::string& node, const std::string& op_id);
  Status Progress(const std::string& node, const std::string& op_id, int percent);
  Status Complete(const std::string& node, const std::string& op_id, bool ok,
                  const std::string& error, const std::string& result_json = "{}");
  // The instances the node's agent sees now. Instances of this node that are no longer seen
  // are gone, and their attachments are ended (the export removed by a detach operation).
  Status ReportInstances(const std::string& node, const std::vector<InstanceRecord>& seen);
  // The file systems the node's agent has mounted (VBSFS): recorded on the volume's live
  // attachment to that node, if it has one with a mount point; others are ignored.
  struct MountReport {
    std::string volume_id;
    int64_t size = 0;
    int64_t used = 0;
    int64_t free = 0;
  };
  Status ReportMounts(const std::string& node, const std::vector<MountReport>& mounts);
  Result<PoolInventory> Inventory(const std::string& node, const std::string& pool);
  // Live attachments served by `node`, with the pool and QoS limits of each volume (what an
  // agent needs to re-export them at start).
  struct NodeAttachment {
    AttachmentRecord attachment;
    std::string pool;
    int64_t iops = 0;        // 0: unlimited
    int64_t throughput = 0;  // MiB/s; 0: unlimited
  };
  Result<std::vector<NodeAttachment>> NodeAttachments(const std::string& node);

  const WorkPolicy& policy() const { return policy_; }

 private:
  Result<OperationRecord> LoadRunning(Transaction& tx, const std::string& node,
                                      const std::string& op_id);
  NodeLease LeaseOf(int64_t epoch) const;
  static Status RecordStorageClients(Transaction& tx, const std::string& node,
                                     const std::vector<PoolAnnouncement>& pools, int64_t now);
  MetadataStore& store_;
  RevisionNotifier& notifier_;
  WorkPolicy policy_;
  PlacementPolicy liveness_;
};

}  // namespace vbs
