#include "nbd/admission.h"

namespace vbs::nbd {

bool Admission::Enter(const Peer& peer) {
  std::lock_guard lock(mu_);
  if (total_ >= max_total_) return false;
  if (peer.local) {
    size_t& mine = per_uid_[peer.uid];
    if (mine >= max_per_uid_) return false;
    ++mine;
  }
  ++total_;
  return true;
}

void Admission::Leave(const Peer& peer) {
  std::lock_guard lock(mu_);
  if (total_ > 0) --total_;
  if (!peer.local) return;
  auto it = per_uid_.find(peer.uid);
  if (it == per_uid_.end()) return;
  if (--it->second == 0) per_uid_.erase(it);
}

size_t Admission::in_handshake() {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace vbs::nbd
