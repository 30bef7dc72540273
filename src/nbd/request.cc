#include "nbd/request.h"

namespace vbs::nbd {

HeaderStatus ParseRequestHeader(const uint8_t* p, Request* out) {
  if (Load32(p) != kRequestMagic) return HeaderStatus::kBadMagic;
  out->flags = Load16(p + 4);
  out->type = Load16(p + 6);
  out->handle = Load64(p + 8);
  out->offset = Load64(p + 16);
  out->length = Load32(p + 24);
  if (out->type == kCmdWrite && out->length > kMaxPayload) return HeaderStatus::kPayloadTooLarge;
  return HeaderStatus::kOk;
}

uint32_t ValidateRequest(const Request& r, const SessionParams& s) {
  // Flags each command may carry; FUA is accepted everywhere as the spec asks.
  uint16_t allowed = kCmdFlagFua;
  switch (r.type) {
    case kCmdRead:
      if (s.structured) allowed |= kCmdFlagDf;
      break;
    case kCmdWriteZeroes:
      allowed |= kCmdFlagNoHole | kCmdFlagFastZero;
      break;
    case kCmdBlockStatus:
      allowed |= kCmdFlagReqOne;
      break;
    case kCmdWrite:
    case kCmdDisc:
    case kCmdFlush:
    case kCmdTrim:
    case kCmdCache:
      break;
    default:
      return kEINVAL;  // unknown command
  }
  if (r.flags & ~allowed) return kEINVAL;

  const bool writes = r.type == kCmdWrite || r.type == kCmdTrim || r.type == kCmdWriteZeroes;
  if (writes && s.read_only) return kEPERM;
  if (r.type == kCmdBlockStatus && !s.base_allocation) return kEINVAL;
  if (r.type == kCmdRead && r.length > kMaxPayload) return kEINVAL;
  if (r.type == kCmdFlush || r.type == kCmdDisc) return 0;  // offset/length are ignored

  // Overflow-safe "offset + length <= size".
  if (r.offset > s.size || r.length > s.size - r.offset) return writes ? kENOSPC : kEINVAL;
  if (r.type == kCmdBlockStatus && r.length == 0) return kEINVAL;
  return 0;
}

}  // namespace vbs::nbd
