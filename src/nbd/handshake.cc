#include "nbd/handshake.h"

#include <algorithm>

#include "nbd/protocol.h"

namespace vbs::nbd {
namespace {

// Option payloads VBS accepts in full; a longer option is skipped and answered ERR_TOO_BIG
// (names and queries are at most 4 KiB by the spec, so only garbage is this large).
constexpr size_t kMaxOptionData = 64 * 1024;

void Put16(std::string* s, uint16_t v) {
  uint8_t b[2];
  Store16(b, v);
  s->append(reinterpret_cast<char*>(b), 2);
}
void Put32(std::string* s, uint32_t v) {
  uint8_t b[4];
  Store32(b, v);
  s->append(reinterpret_cast<char*>(b), 4);
}
void Put64(std::string* s, uint64_t v) {
  uint8_t b[8];
  Store64(b, v);
  s->append(reinterpret_cast<char*>(b), 8);
}

// A cursor over option data that fails softly when the client lied about lengths.
class Reader {
 public:
  explicit Reader(const std::string& s)
      : p_(reinterpret_cast<const uint8_t*>(s.data())), n_(s.size()) {}
  bool U16(uint16_t* v) {
    if (n_ - pos_ < 2) return false;
    *v = Load16(p_ + pos_);
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    if (n_ - pos_ < 4) return false;
    *v = Load32(p_ + pos_);
    pos_ += 4;
    return true;
  }
  bool Str(uint32_t len, std::string* out) {
    if (len > kMaxStringSize || n_ - pos_ < len) return false;
    out->assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return true;
  }
  bool done() const { return pos_ == n_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

}  // namespace

uint16_t TransmissionFlags(const OpenedExport& e, bool structured) {
  uint16_t f = kFlagHasFlags | kFlagSendFlush | kFlagSendFua | kFlagSendCache;
  if (e.read_only) {
    f |= kFlagReadOnly;
  } else {
    f |= kFlagSendTrim | kFlagSendWriteZeroes | kFlagSendFastZero;
  }
  if (structured) f |= kFlagSendDf;
  if (e.multi_conn) f |= kFlagCanMultiConn;
  return f;
}

Handshake::Handshake(ExportCatalog* catalog, HandshakeOptions options, Peer peer)
    : catalog_(catalog), options_(options), peer_(std::move(peer)) {}

void Handshake::Start(std::string* out) {
  Put64(out, kNbdMagic);
  Put64(out, kIHaveOpt);
  Put16(out, kFlagFixedNewstyle | kFlagNoZeroes);
}

void Handshake::OnTlsStarted(std::string tls_role) {
  tls_active_ = true;
  peer_.tls_role = std::move(tls_role);
  neg_.structured = false;
  neg_.base_allocation = false;
  meta_export_.clear();
}

Handshake::Step Handshake::Close(std::string reason) {
  state_ = State::kDone;
  reason_ = std::move(reason);
  return Step::kClose;
}

Handshake::Step Handshake::Feed(const uint8_t* data, size_t len, size_t* used, std::string* out) {
  size_t pos = 0;
  Step step = Step::kNeedMore;
  while (step == Step::kNeedMore) {
    const size_t avail = len - pos;
    switch (state_) {
      case State::kClientFlags: {
        if (avail < 4) goto out;
        uint32_t flags = Load32(data + pos);
        pos += 4;
        if (flags & ~(kClientFixedNewstyle | kClientNoZeroes)) {
          step = Close("unknown client flags");
          break;
        }
        no_zeroes_ = flags & kClientNoZeroes;
        state_ = State::kOptHeader;
        break;
      }
      case State::kOptHeader: {
        if (avail < 16) goto out;
        if (Load64(data + pos) != kIHaveOpt) {
          pos += 16;
          step = Close("bad option magic");
          break;
        }
        opt_ = Load32(data + pos + 8);
        opt_remaining_ = Load32(data + pos + 12);
        pos += 16;
        if (++options_seen_ > options_.max_options) {
          step = Close("too many options");
          break;
        }
        opt_data_.clear();
        if (opt_remaining_ > kMaxOptionData) {
          if (opt_ == kOptExportName) {
            step = Close("export name too long");
            break;
          }
          state_ = State::kOptDiscard;
        } else {
          state_ = State::kOptData;
          opt_data_.reserve(opt_remaining_);
        }
        break;
      }
      case State::kOptData: {
        size_t n = std::min<uint64_t>(avail, opt_remaining_);
        opt_data_.append(reinterpret_cast<const char*>(data + pos), n);
        pos += n;
        opt_remaining_ -= n;
        if (opt_remaining_ > 0) goto out;
        state_ = State::kOptHeader;
        step = ProcessOption(out);
        break;
      }
      case State::kOptDiscard: {
        size_t n = std::min<uint64_t>(avail, opt_remaining_);
        pos += n;
        opt_remaining_ -= n;
        if (opt_remaining_ > 0) goto out;
        state_ = State::kOptHeader;
        ReplyError(out, kRepErrTooBig, "option data too large");
        break;
      }
      case State::kDone:
        step = Close(reason_.empty() ? "handshake already finished" : reason_);
        break;
    }
  }
out:
  *used = pos;
  return step;
}

void Handshake::Reply(std::string* out, uint32_t type, const std::string& payload) {
  Put64(out, kOptReplyMagic);
  Put32(out, opt_);
  Put32(out, type);
  Put32(out, static_cast<uint32_t>(payload.size()));
  out->append(payload);
}

void Handshake::ReplyError(std::string* out, uint32_t type, const std::string& message) {
  Reply(out, type, message);
}

Handshake::Step Handshake::ProcessOption(std::string* out) {
  if (options_.tls_required && !tls_active_ && opt_ != kOptStartTls && opt_ != kOptAbort) {
    if (opt_ == kOptExportName) return Close("EXPORT_NAME before TLS");
    ReplyError(out, kRepErrTlsReqd, "TLS is required on this connection");
    return Step::kNeedMore;
  }
  if (!refusal_.empty() && opt_ != kOptAbort) {
    if (opt_ == kOptExportName) return Close(refusal_);
    ReplyError(out, kRepErrPolicy, refusal_);
    return Step::kNeedMore;
  }
  switch (opt_) {
    case kOptExportName:
      return DoExportName(out);
    case kOptAbort:
      Reply(out, kRepAck);
      return Close("client aborted");
    case kOptList:
      if (!opt_data_.empty()) {
        ReplyError(out, kRepErrInvalid, "NBD_OPT_LIST takes no data");
      } else if (!options_.allow_list) {
        ReplyError(out, kRepErrPolicy, "listing exports is not allowed");
      } else {
        DoList(out);
      }
      return Step::kNeedMore;
    case kOptStartTls:
      if (!opt_data_.empty()) {
        ReplyError(out, kRepErrInvalid, "NBD_OPT_STARTTLS takes no data");
      } else if (tls_active_) {
        ReplyError(out, kRepErrInvalid, "TLS is already active");
      } else if (!options_.tls_available) {
        ReplyError(out, kRepErrPolicy, "TLS is not configured on this listener");
      } else {
        Reply(out, kRepAck);
        return Step::kStartTls;
      }
      return Step::kNeedMore;
    case kOptInfo:
    case kOptGo:
      return DoInfoOrGo(out);
    case kOptStructuredReply:
      if (!opt_data_.empty()) {
        ReplyError(out, kRepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
      } else {
        neg_.structured = true;
        Reply(out, kRepAck);
      }
      return Step::kNeedMore;
    case kOptListMetaContext:
    case kOptSetMetaContext:
      DoMetaContext(out);
      return Step::kNeedMore;
    default:
      ReplyError(out, kRepErrUnsup, "option not supported");
      return Step::kNeedMore;
  }
}

Handshake::Step Handshake::DoExportName(std::string* out) {
  if (opt_data_.size() > kMaxStringSize) return Close("export name too long");
  auto opened = catalog_->Open(opt_data_, peer_);
  if (!opened.ok()) return Close("EXPORT_NAME: " + opened.status().message());
  neg_.exp = std::move(opened).value();
  if (meta_export_ != neg_.exp.name) neg_.base_allocation = false;
  neg_.flags = TransmissionFlags(neg_.exp, neg_.structured);
  Put64(out, neg_.exp.size);
  Put16(out, neg_.flags);
  if (!no_zeroes_) out->append(124, '\0');
  state_ = State::kDone;
  return Step::kTransmission;
}

void Handshake::DoList(std::string* out) {
  for (const auto& [name, description] : catalog_->List(peer_)) {
    std::string payload;
    Put32(&payload, static_cast<uint32_t>(name.size()));
    payload += name;
    Reply(out, kRepServer, payload);
  }
  Reply(out, kRepAck);
}

Handshake::Step Handshake::DoInfoOrGo(std::string* out) {
  Reader r(opt_data_);
  uint32_t name_len = 0;
  uint16_t nreq = 0;
  std::string name;
  if (!r.U32(&name_len) || !r.Str(name_len, &name) || !r.U16(&nreq)) {
    ReplyError(out, kRepErrInvalid, "malformed NBD_OPT_INFO/GO");
    return Step::kNeedMore;
  }
  bool want_name = false, want_description = false;
  for (uint16_t i = 0; i < nreq; ++i) {
    uint16_t type = 0;
    if (!r.U16(&type)) {
      ReplyError(out, kRepErrInvalid, "malformed NBD_OPT_INFO/GO");
      return Step::kNeedMore;
    }
    want_name |= type == kInfoName;
    want_description |= type == kInfoDescription;
  }
  if (!r.done()) {
    ReplyError(out, kRepErrInvalid, "trailing bytes in NBD_OPT_INFO/GO");
    return Step::kNeedMore;
  }
  auto opened = catalog_->Open(name, peer_);
  if (!opened.ok()) {
    ReplyError(out, kRepErrUnknown, "no such export");
    return Step::kNeedMore;
  }
  OpenedExport exp = std::move(opened).value();
  const bool meta = neg_.base_allocation && meta_export_ == exp.name;
  const uint16_t flags = TransmissionFlags(exp, neg_.structured);

  std::string p;
  Put16(&p, kInfoExport);
  Put64(&p, exp.size);
  Put16(&p, flags);
  Reply(out, kRepInfo, p);
  if (want_name) {
    p.clear();
    Put16(&p, kInfoName);
    p += exp.name;
    Reply(out, kRepInfo, p);
  }
  if (want_description && !exp.description.empty()) {
    p.clear();
    Put16(&p, kInfoDescription);
    p += exp.description.substr(0, kMaxStringSize);
    Reply(out, kRepInfo, p);
  }
  // Always sent: our minimum is 1, so no client is constrained by it, and clients learn the
  // 32 MiB payload limit we enforce.
  p.clear();
  Put16(&p, kInfoBlockSize);
  Put32(&p, kMinBlockSize);
  Put32(&p, kPreferredBlockSize);
  Put32(&p, kMaxPayload);
  Reply(out, kRepInfo, p);
  Reply(out, kRepAck);
  if (opt_ == kOptInfo) return Step::kNeedMore;

  neg_.exp = std::move(exp);
  neg_.base_allocation = meta;
  neg_.flags = flags;
  state_ = State::kDone;
  return Step::kTransmission;
}

void Handshake::DoMetaContext(std::string* out) {
  const bool set = opt_ == kOptSetMetaContext;
  if (!neg_.structured) {
    ReplyError(out, kRepErrInvalid, "negotiate structured replies first");
    return;
  }
  Reader r(opt_data_);
  uint32_t name_len = 0, nq = 0;
  std::string name;
  if (!r.U32(&name_len) || !r.Str(name_len, &name) || !r.U32(&nq)) {
    ReplyError(out, kRepErrInvalid, "malformed meta context option");
    return;
  }
  bool match = !set && nq == 0;  // LIST with no query lists everything
  for (uint32_t i = 0; i < nq; ++i) {
    uint32_t qlen = 0;
    std::string q;
    if (!r.U32(&qlen) || !r.Str(qlen, &q)) {
      ReplyError(out, kRepErrInvalid, "malformed meta context query");
      return;
    }
    if (q == kBaseAllocation || (!set && q == "base:")) match = true;
  }
  if (!r.done()) {
    ReplyError(out, kRepErrInvalid, "trailing bytes in meta context option");
    return;
  }
  if (!catalog_->Admits(name, peer_)) {
    ReplyError(out, kRepErrUnknown, "no such export");
    return;
  }
  if (match) {
    std::string p;
    Put32(&p, set ? kBaseAllocationId : 0);
    p += kBaseAllocation;
    Reply(out, kRepMetaContext, p);
  }
  if (set) {
    neg_.base_allocation = match;
    meta_export_ = name;
  }
  Reply(out, kRepAck);
}

}  // namespace vbs::nbd
