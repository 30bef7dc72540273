#include "nbd/export_stats.h"

#include "nbd/protocol.h"

namespace vbs::nbd {

ExportStats::Op& ExportStats::For(uint16_t type) {
  switch (type) {
    case kCmdRead:
      return read;
    case kCmdWrite:
      return write;
    case kCmdFlush:
      return flush;
    case kCmdTrim:
      return trim;
    case kCmdWriteZeroes:
      return zero;
    default:
      return other;
  }
}

void ExportStats::Answered(const Request& r, uint32_t error,
                           std::chrono::steady_clock::time_point now) {
  Op& op = For(r.type);
  op.requests.Add();
  if (error != 0) {
    op.errors.Add();
  } else if (r.type != kCmdFlush && &op != &other) {
    op.bytes.Add(r.length);
  }
  if (r.received.time_since_epoch().count() != 0) {
    op.latency.Observe(std::chrono::duration<double>(now - r.received).count());
  }
  in_flight.Add(-1);
}

const char* ExportStats::OpName(const Op& op, const ExportStats& s) {
  if (&op == &s.read) return "read";
  if (&op == &s.write) return "write";
  if (&op == &s.flush) return "flush";
  if (&op == &s.trim) return "trim";
  if (&op == &s.zero) return "write_zeroes";
  return "other";
}

}  // namespace vbs::nbd
