// Admission: bounds how many clients may be in the NBD handshake at once — before they have
// opened an export, clients are unauthenticated as far as the server knows, and each one holds
// a thread and a socket. A total bound, and a smaller one per local uid, so that one tenant's
// process flooding the socket cannot keep another tenant's QEMU from reconnecting. A client
// refused here is closed at once; time (the handshake deadline) and work (options per
// handshake, no device opened for a client that is not the consumer) are bounded elsewhere.
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <mutex>

#include "nbd/peer.h"

namespace vbs::nbd {

class Admission {
 public:
  Admission(size_t max_total, size_t max_per_uid)
      : max_total_(max_total), max_per_uid_(max_per_uid) {}

  // A slot for `peer`'s handshake, or false when the bounds are reached.
  bool Enter(const Peer& peer);
  // Gives back the slot Enter(peer) took.
  void Leave(const Peer& peer);
  size_t in_handshake();

 private:
  const size_t max_total_;
  const size_t max_per_uid_;
  std::mutex mu_;
  size_t total_ = 0;
  std::map<uid_t, size_t> per_uid_;  // local peers only
};

}  // namespace vbs::nbd
