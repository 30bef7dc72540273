#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include "common/log_context.h"

namespace vbs {

Agent::Agent(AgentOptions options, std::map<std::string, AgentPool> pools)
    : options_(std::move(options)),
      pools_(std::move(pools)),
      server_(options_.server),
      storage_(&pools_),
      host_(HostRoleOptions{options_.node, options_.nbd_socket, options_.qmp_dir,
                            options_.libvirt_uri, options_.libvirt_pid_dir, options_.home_root,
                            options_.mount_state_dir, options_.public_root},
            &pools_) {}

Agent::~Agent() {
  Stop();
}

Status Agent::Start(const nlohmann::json* handover) {
  VBS_RETURN_IF_ERROR(host_.Start(handover));
  loop_thread_ = std::thread([this] { Loop(); });
  progress_thread_ = std::thread([this] { ReportProgressLoop(); });
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  return Status::Ok();
}

void Agent::Stop() {
  StopWork();
  host_.Stop();
}

Result<nlohmann::json> Agent::Handover(std::chrono::milliseconds timeout) {
  StopWork();  // no new work; running operations finish first (their outcome is reported)
  return host_.Handover(timeout);
}

void Agent::StopWork() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_ && !loop_thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (loop_thread_.joinable()) loop_thread_.join();
  if (progress_thread_.joinable()) progress_thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  std::map<std::string, std::thread> workers;
  {
    std::lock_guard<std::mutex> l(mu_);
    workers.swap(workers_);
    finished_.clear();
  }
  for (auto& [id, t] : workers) t.join();
}

void Agent::ReapFinished() {
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& id : finished_) {
      auto it = workers_.find(id);
      if (it == workers_.end()) continue;
      done.push_back(std::move(it->second));
      workers_.erase(it);
    }
    finished_.clear();
  }
  for (auto& t : done) t.join();
}

bool Agent::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, d, [&] { return stop_; });
  return !stop_;
}

bool Agent::Register() {
  std::vector<AgentPoolInfo> infos;
  for (const auto& [name, pool] : pools_) infos.push_back(pool.info);
  const auto sent = std::chrono::steady_clock::now();
  auto lease = server_.Hello(options_.node, infos);
  if (!lease.ok()) {
    spdlog::warn("agent {}: hello failed: {}", options_.node, lease.status().ToString());
    return false;
  }
  need_hello_ = false;
  Granted(*lease, sent);
  spdlog::info("agent {}: registered (epoch {}, {} pools, lease {} ms)", options_.node,
               lease->epoch, infos.size(), lease->lease.count());
  for (const auto& [name, pool] : pools_) {
    auto inv = server_.Inventory(name);
    if (!inv.ok()) {
      spdlog::warn("agent {}: inventory of pool {} failed: {}", options_.node, name,
                   inv.status().ToString());
      continue;
    }
    storage_.Reconcile(name, *inv);
  }
  Status st = server_.ReportInstances(host_.Instances());
  if (!st.ok()) spdlog::warn("agent {}: instance report failed: {}", options_.node, st.ToString());
  auto attachments = server_.Attachments();
  if (attachments.ok()) {
    host_.Reconcile(*attachments);
  } else {
    spdlog::warn("agent {}: attachments: {}", options_.node, attachments.status().ToString());
  }
  return true;
}

void Agent::Loop() {
  std::chrono::milliseconds backoff(200);
  bool registered = false;
  while (true) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
    }
    if (need_hello_) registered = false;  // the heartbeat lost the lease
    if (!registered) {
      registered = Register();
      if (!registered) {
        if (!Sleep(backoff)) return;
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
      backoff = std::chrono::milliseconds(200);
    }
    ReapFinished();
    {  // wait for a free worker slot before taking more work
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] {
        return stop_ || static_cast<int>(in_flight_.size()) < options_.max_parallel_ops;
      });
      if (stop_) return;
    }
    auto work = server_.Poll(options_.poll_wait);
    if (!work.ok()) {
      spdlog::warn("agent {}: poll failed: {}", options_.node, work.status().ToString());
      // The server forgot us (e.g. a new database) or restarted: say hello again.
      if (work.status().code() == "UnknownNode") registered = false;
      if (!Sleep(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = std::chrono::milliseconds(200);
    bool started = false;
    for (const auto& op : work->ops) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stop_) return;
        if (in_flight_.count(op.id) ||
            static_cast<int>(in_flight_.size()) >= options_.max_parallel_ops) {
          continue;
        }
      }
      auto claimed = server_.Claim(op.id);
      if (!claimed.ok()) continue;  // another agent took it, or it was cancelled
      std::unique_lock<std::mutex> l(mu_);
      if (auto old = workers_.find(claimed->id); old != workers_.end()) {
        // The same op ran here before (it was requeued): its worker has finished its work
        // (it left in_flight_) and only needs joining.
        std::thread t = std::move(old->second);
        workers_.erase(old);
        l.unlock();
        t.join();
        l.lock();
      }
      in_flight_.insert(claimed->id);
      progress_[claimed->id] = 0;
      workers_[claimed->id] = std::thread([this, op = *claimed] { RunOp(op); });
      started = true;
    }
    // Pending ops we could not take (all slots busy, or claimed elsewhere meanwhile) would
    // come back at once: pause briefly instead of spinning.
    if (!started && !work->ops.empty() && !Sleep(std::chrono::milliseconds(200))) return;
  }
}

void Agent::RunOp(const AgentOp& op) {
  // Lines about this op carry its id, its object and the request that queued it.
  LogScope scope({{"request_id", op.params.is_object() ? op.params.value("request_id", "") : ""},
                  {"op", op.id},
                  {ObjectIdKey(op.resource_id), op.resource_id}});
  spdlog::info("agent {}: {} {} (op {})", options_.node, op.kind, op.resource_id, op.id);
  if (options_.fault_op_delay.count() > 0 && !Sleep(options_.fault_op_delay)) return;
  nlohmann::json result = nlohmann::json::object();
  Status st;
  if (op.kind == "attach" || op.kind == "detach" || op.kind == "resize_attachments" ||
      op.kind == "qos_attachments") {
    st = host_.Execute(op, &result);
  } else if (op.kind == "create_snapshot") {
    st = Snapshot(op);
  } else {
    st = storage_.Execute(op, [this, id = op.id](int percent) {
      std::lock_guard<std::mutex> l(mu_);
      progress_[id] = percent;
    });
  }
  if (!st.ok()) {
    spdlog::warn("agent {}: {} {} failed: {}", options_.node, op.kind, op.resource_id,
                 st.ToString());
  }
  // Report until the server has it: the work is done and must not be redone for nothing.
  std::chrono::milliseconds backoff(200);
  while (true) {
    Status rep = server_.Complete(op.id, st.ok(), st.ok() ? "" : st.message(), result);
    // Only an unreachable or busy server is worth asking again; any other answer is final.
    if (rep.kind() != StatusKind::kUnavailable) {
      if (!rep.ok())
        spdlog::warn("agent {}: op {} outcome not taken: {}", options_.node, op.id, rep.ToString());
      break;
    }
    if (!Sleep(backoff)) break;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  std::lock_guard<std::mutex> l(mu_);
  in_flight_.erase(op.id);
  progress_.erase(op.id);
  finished_.push_back(op.id);
  cv_.notify_all();
}

Status Agent::Snapshot(const AgentOp& op) {
  const std::string volume_id = op.params.value("volume_id", "");
  // Crash-consistent (design.md §5): the exports this node serves of the volume hold new
  // writes and flush while the backend takes the snapshot; the guest keeps running.
  // A VBSFS file system mounted here is frozen first, so the snapshot is consistent as a
  // file system too (vbs home snapshot; the public volume's publish).
  auto frozen = host_.FreezeHome(volume_id);
  if (!frozen.ok()) return frozen.status();
  const auto start = std::chrono::steady_clock::now();
  auto hold = host_.HoldWrites(volume_id);
  if (!hold.ok()) {
    if (*frozen) host_.ThawHome(volume_id);
    return hold.status();
  }
  Status st = storage_.Execute(op, [this, id = op.id](int percent) {
    std::lock_guard<std::mutex> l(mu_);
    progress_[id] = percent;
  });
  const size_t held = (*hold)->exports();
  hold->reset();
  if (*frozen) {
    host_.ThawHome(volume_id);
    spdlog::info("agent {}: snapshot {} of {} with its file system frozen", options_.node,
                 op.resource_id, volume_id);
  }
  if (held > 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count() /
                    1000.0;
    spdlog::info("agent {}: snapshot {} of {} held the writes of {} export(s) for {:.1f} ms",
                 options_.node, op.resource_id, volume_id, held, ms);
  }
  return st;
}

void Agent::Granted(const AgentLease& lease, std::chrono::steady_clock::time_point sent) {
  // From before the request left: the server stamped the renewal later than that, so its
  // count of the lease ends after ours whatever happened on the way (scheduler.h).
  host_.ExtendLease(sent + lease.lease);
  renew_interval_ms_ = lease.renew_interval.count();
  epoch_ = lease.epoch;
}

void Agent::HeartbeatLoop() {
  bool failing = false;
  std::chrono::milliseconds wait(0);
  while (Sleep(wait)) {
    const std::chrono::milliseconds interval(renew_interval_ms_.load());
    wait = interval;
    const int64_t epoch = epoch_.load();
    if (epoch == 0) {  // not registered (yet, or again)
      wait = std::chrono::milliseconds(100);
      continue;
    }
    const auto sent = std::chrono::steady_clock::now();
    // Bounded so that a hung server leaves time for tries at another one within the lease.
    auto lease = server_.Heartbeat(epoch, std::max(2 * interval, std::chrono::milliseconds(1000)));
    if (lease.ok()) {
      if (epoch_.load() == epoch) Granted(*lease, sent);
      renewals_ok_.fetch_add(1, std::memory_order_relaxed);
      if (failing) spdlog::info("agent {}: lease renewed again", options_.node);
      failing = false;
      continue;
    }
    const Status& st = lease.status();
    if (st.code() == "LeaseExpired" || st.code() == "UnknownNode") {
      spdlog::error("agent {}: lease renewal refused: {}", options_.node, st.ToString());
      renewals_refused_.fetch_add(1, std::memory_order_relaxed);
      int64_t expected = epoch;
      if (epoch_.compare_exchange_strong(expected, 0)) {
        leases_lost_.fetch_add(1, std::memory_order_relaxed);
        host_.LoseLease();
        need_hello_ = true;
        cv_.notify_all();
      }
      failing = false;
      continue;
    }
    renewals_failed_.fetch_add(1, std::memory_order_relaxed);
    // The servers are unreachable or busy: try again soon. Writes stop by themselves when
    // the lease runs out (the check is in the NBD server, on this process's clock).
    if (!failing) {
      spdlog::warn("agent {}: lease renewal failed: {}", options_.node, st.ToString());
    }
    failing = true;
    wait = std::min(interval, std::chrono::milliseconds(250));
  }
}

void Agent::ReportProgressLoop() {
  int ticks = 0;
  while (Sleep(options_.progress_interval)) {
    if (++ticks % 5 == 0) {  // instances come and go (VMs start and exit): keep the server told
      Status st = server_.ReportInstances(host_.Instances());
      if (!st.ok()) spdlog::debug("agent {}: instance report: {}", options_.node, st.ToString());
    }
    // What the users' files take on the VBSFS mounts here (vbs home show): sent when it
    // changed, so that idle homes cost the database nothing (an attach's result has it too).
    if (auto mounts = host_.MountUsages(); !mounts.empty() && mounts != reported_mounts_) {
      Status st = server_.ReportMounts(mounts);
      if (st.ok()) {
        reported_mounts_ = std::move(mounts);
      } else {
        spdlog::debug("agent {}: mount report: {}", options_.node, st.ToString());
      }
    }
    std::map<std::string, int> snapshot;
    {
      std::lock_guard<std::mutex> l(mu_);
      snapshot = progress_;
    }
    for (const auto& [id, percent] : snapshot) {
      Status st = server_.Progress(id, percent);
      if (!st.ok()) spdlog::debug("agent {}: progress of {}: {}", options_.node, id, st.ToString());
    }
  }
}

}  // namespace vbs
