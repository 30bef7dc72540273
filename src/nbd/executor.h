// Executor: runs one checked request against a BlockDevice and encodes its complete reply.
//
// The connection thread first tries a request "on the loop" (no blocking allowed): reads of
// cached data (preadv2 RWF_NOWAIT) or of a memory-backed file, and plain writes. If that
// would block, Execute returns kWouldBlock with no side effect and the request goes to a
// worker, which runs it with on_loop=false. The reply is the exact wire bytes (simple reply,
// or structured chunks with hole chunks for sparse reads), so sending is one writev.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "backend/block_device.h"
#include "nbd/buffer.h"
#include "nbd/request.h"
#include "nbd/write_lease.h"

namespace vbs::nbd {

struct Reply {
  Buffer buf;
  size_t len = 0;  // wire bytes in buf
  // Read data sent right after buf's bytes, ext_len of them:
  //  - from_file: left in the device's file at ext_off, and read when sent: spliced from the
  //    file (zero-copy; unix sockets and plain TCP) or copied from ext, the device's mapping
  //    (memory-backed devices). ext is null when there is no mapping: the data is then read
  //    into `data` if it cannot be spliced after all. Reading when sent is what the spec
  //    allows for a read that is in flight with an overlapping write.
  //  - otherwise: at ext, in `data` (a separate, aligned buffer for direct I/O).
  const uint8_t* ext = nullptr;
  size_t ext_len = 0;
  uint64_t ext_off = 0;
  bool from_file = false;
  Buffer data;
  size_t total() const { return len + ext_len; }
  Charge charge;       // the request's, given back once the reply is sent
  uint32_t error = 0;  // the NBD error answered (EncodeError), 0 for success
};

// How requests may run on the connection thread, from the device's capabilities.
enum class InlineMode {
  kNever,   // every request goes to a worker (no fd, direct I/O, remote backends)
  kNoWait,  // reads via preadv2(RWF_NOWAIT) (cached data only), non-FUA writes
  // Reads whose pages Resident() says are all cached (a page cache without RWF_NOWAIT, as
  // FUSE's): writes may wait for the file system's daemon, so they go to workers.
  kResident,
  kAlways,  // memory-backed device: nothing ever waits for a disk
};

InlineMode ChooseInlineMode(const DeviceCapabilities& caps);

// Reads at least this long are checked for holes and answered with hole chunks.
inline constexpr uint32_t kHoleProbeMin = 64 * 1024;
// The smallest request served without the pread/pwrite copy: reads sent from the file
// (spliced, or from the mapping), writes received in place. Below this the extra system
// calls, and for the mapping the fault on the first touch of each page, cost more than the
// copy saves.
inline constexpr uint32_t kMapMin = 64 * 1024;

struct ExecContext {
  BlockDevice* dev = nullptr;
  DeviceCapabilities caps;  // dev's
  SessionParams params;
  BufferPool* pool = nullptr;
  InlineMode inline_mode = InlineMode::kNever;
  // Large reads of data the device says is resident are left in its file and spliced when
  // the reply is sent (the transport can splice, the device has a page cache).
  bool splice_resident = false;
  // Reads ask the device for holes while that stays cheap. Some file systems (tmpfs) scan
  // every page up to the next hole, so one probe of a big allocated file can take tens of
  // milliseconds: after one slow probe this connection stops probing on reads (BLOCK_STATUS
  // still asks, since there the client wants the answer).
  mutable std::atomic<bool> probe_holes{true};
  // Memory-backed devices only: the whole device mapped (MAP_SHARED), so large reads over TCP or
  // TLS are sent from the page cache without a pread copy, and large write payloads are received
  // straight into their place once madvise made those pages present. Null: none.
  uint8_t* map = nullptr;
  // Write-type requests fail with EIO unless this lease is valid when they run (null: none).
  const WriteLease* lease = nullptr;
};

enum class ExecResult { kDone, kWouldBlock };

// Runs `r` (ValidateRequest passed; `payload` holds r.payload_length() bytes for a WRITE, or
// is null for a WRITE whose data was already written as it arrived).
ExecResult Execute(const Request& r, const uint8_t* payload, const ExecContext& c, bool on_loop,
                   Reply* out);

// Asynchronous devices (DeviceCapabilities::async_reads/writes): reads or writes started by the
// connection thread, and the device's completion builds the reply, so no worker waits on the
// backend. RunsAsync: whether `r` goes this way (a WRITE needs its payload in a buffer).
bool RunsAsync(const Request& r, const uint8_t* payload, const ExecContext& c);
// Starts `r`; `done` gets its complete reply, on the device's thread or before this returns.
// A WRITE's payload stays valid until then (the caller holds it).
void StartAsync(const Request& r, const uint8_t* payload, const ExecContext& c,
                std::function<void(Reply)> done);

// The reply carrying NBD error `err` (a structured error chunk when negotiated).
void EncodeError(const Request& r, bool structured, uint32_t err, std::string_view message,
                 BufferPool* pool, Reply* out);

// NBD error value for a failed device call.
uint32_t NbdErrorFor(const Status& s);

}  // namespace vbs::nbd
