// Reconciler: the server's background sweep that makes every transitional state end.
//
// - A running operation whose lease ran out (its agent died or hung) goes back to pending,
//   or fails (and its resource goes to `error`) once it has used up its attempts.
// - A pending operation whose node has been down longer than op_timeout fails with a message
//   naming the node, so nothing waits forever on a machine that is gone.
// Each step is one transaction with conditional updates, so several servers may sweep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "core/revision_notifier.h"
#include "core/scheduler.h"
#include "core/work_service.h"
#include "store/metadata_store.h"

namespace vbs {

struct ReconcilePolicy {
  int64_t op_timeout_ms = 10 * 60 * 1000;
  int64_t interval_ms = 1000;
};

class Reconciler {
 public:
  Reconciler(MetadataStore& store, RevisionNotifier& notifier, WorkPolicy work,
             PlacementPolicy placement, ReconcilePolicy policy)
      : store_(store), notifier_(notifier), work_(work), placement_(placement), policy_(policy) {}
  ~Reconciler() { Stop(); }

  // One sweep; returns how many operations it moved.
  Result<int> SweepOnce();
  void Start();
  void Stop();

 private:
  MetadataStore& store_;
  RevisionNotifier& notifier_;
  WorkPolicy work_;
  PlacementPolicy placement_;
  ReconcilePolicy policy_;
  const int64_t started_ms_ = NowMillis();
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace vbs
