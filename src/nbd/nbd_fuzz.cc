// libFuzzer target: the NBD handshake and the transmission request path from raw bytes.
//
// Input layout: byte 0 picks listener mode (TLS offered/required) and byte 1 the chunking
// of the rest, which is fed to Handshake exactly as a connection would (partial reads
// included). Once transmission starts, the remaining bytes are framed into requests (header
// + WRITE payload), checked and executed against an in-memory device like the connection
// does, and every reply is checked for well-formedness.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "nbd/executor.h"
#include "nbd/export_registry.h"
#include "nbd/handshake.h"
#include "nbd/mem_device_testing.h"

using namespace vbs;       // NOLINT
using namespace vbs::nbd;  // NOLINT

namespace {

void CheckReply(const Reply& r, bool structured) {
  if (r.len < kSimpleReplyHeaderSize) std::abort();
  uint32_t magic = Load32(r.buf.data());
  if (magic == kSimpleReplyMagic) return;
  if (!structured || magic != kStructuredReplyMagic) std::abort();
  // Walk the chunks: lengths must add up exactly and the last one must say DONE.
  size_t pos = 0;
  bool done = false;
  while (pos < r.len) {
    if (done || r.len - pos < kChunkHeaderSize) std::abort();
    const uint8_t* h = r.buf.data() + pos;
    if (Load32(h) != kStructuredReplyMagic) std::abort();
    done = Load16(h + 4) & kReplyFlagDone;
    pos += kChunkHeaderSize + Load32(h + 16);
  }
  if (pos != r.len || !done) std::abort();
}

void Transmit(const uint8_t* p, size_t n, Negotiated& neg) {
  BufferPool pool;
  ExecContext ctx;
  ctx.dev = neg.exp.device.get();
  ctx.pool = &pool;
  ctx.params = {neg.exp.size, neg.exp.read_only, neg.structured, neg.base_allocation};
  size_t pos = 0;
  while (n - pos >= kRequestHeaderSize) {
    Request req;
    if (ParseRequestHeader(p + pos, &req) != HeaderStatus::kOk) return;  // hard disconnect
    pos += kRequestHeaderSize;
    if (n - pos < req.payload_length()) return;  // client vanished mid-payload
    const uint8_t* payload = p + pos;
    pos += req.payload_length();
    if (req.type == kCmdDisc) return;
    Reply reply;
    uint32_t err = ValidateRequest(req, ctx.params);
    if (err != 0) {
      EncodeError(req, ctx.params.structured, err, "invalid", &pool, &reply);
    } else {
      Execute(req, payload, ctx, /*on_loop=*/false, &reply);
    }
    CheckReply(reply, ctx.params.structured);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  ExportRegistry registry;
  ExportRegistry::Spec spec;
  spec.name = "disk";
  spec.description = "fuzz";
  spec.device = std::make_shared<MemDevice>(256 * 1024);
  (void)registry.Add(spec);
  spec.name = "ro";
  spec.read_only = true;
  (void)registry.Add(spec);
  registry.SetDefault("disk");

  HandshakeOptions opts;
  opts.tls_available = data[0] & 1;
  opts.tls_required = opts.tls_available && (data[0] & 2);
  opts.max_options = 200;
  const size_t chunk = 1 + data[1] % 64;
  data += 2;
  size -= 2;

  Handshake hs(&registry, opts);
  std::string out;
  hs.Start(&out);
  std::string pending;  // bytes received but not consumed, as a connection buffers them
  size_t pos = 0;
  for (;;) {
    size_t used = 0;
    Handshake::Step step =
        hs.Feed(reinterpret_cast<const uint8_t*>(pending.data()), pending.size(), &used, &out);
    if (used > pending.size()) std::abort();
    pending.erase(0, used);
    if (step == Handshake::Step::kClose) return 0;
    if (step == Handshake::Step::kStartTls) {
      hs.OnTlsStarted();  // pretend the TLS handshake succeeded
      continue;
    }
    if (step == Handshake::Step::kTransmission) {
      std::string rest =
          pending + std::string(reinterpret_cast<const char*>(data + pos), size - pos);
      Transmit(reinterpret_cast<const uint8_t*>(rest.data()), rest.size(), hs.negotiated());
      return 0;
    }
    if (pos >= size) return 0;
    size_t n = std::min(chunk, size - pos);
    pending.append(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    if (pending.size() > 1 << 20) std::abort();  // the machine must never hoard input
  }
}
