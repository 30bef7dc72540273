// Operations: how a workflow step is queued for an agent and how its outcome moves the
// resource it belongs to to its next state. Used inside store transactions by the services,
// the agent work protocol and the reconciler, so each transition is written once.
#pragma once

#include <string>

#include "store/metadata_store.h"

namespace vbs {

// Queues `kind` for `resource_id` on the node that owns `pool`; bumps the revision.
Status EnqueueOperation(Transaction& tx, const std::string& kind, const std::string& resource_id,
                        const PoolRecord& pool, const std::string& params_json);

// Ends attachment `a` now, without its node: `detached` with `error`, its pending steps
// failed, and the volume released once nothing else is attached. For a forced detach from a
// node that is down (its agent, which served the export, is gone; a restarted agent
// re-exports only live attachments).
Status EndAttachmentWithoutNode(Transaction& tx, AttachmentRecord& a, const std::string& error);

// The agent reported success: moves the resource on (creating → available, …). `result` is
// what the agent reported with it (a JSON object; for attach: export_name, nbd_uri). A
// completed snapshot also starts the volumes made from it that waited for it
// (CreateVolumeRequest::after_snapshot): their create_volume goes to the node that took it.
Status ApplyOperationSuccess(Transaction& tx, const OperationRecord& op,
                             const std::string& result_json = "{}");
// The step failed for good: the resource goes to `error` with `message` (and a volume that
// never came to be gives its reservation back); volumes waiting for a failed snapshot fail.
Status ApplyOperationFailure(Transaction& tx, const OperationRecord& op,
                             const std::string& message);

}  // namespace vbs
