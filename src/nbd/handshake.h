// Handshake: the NBD fixed-newstyle option negotiation as a pure state machine over bytes.
//
// It does no I/O: the caller feeds what the client sent and writes out what the machine
// appends to `out`. That keeps it testable and fuzzable from a byte buffer. Feed() stops at a
// step the caller must act on:
//   kNeedMore      read more bytes from the client;
//   kStartTls      send `out`, then run the TLS handshake and call OnTlsStarted();
//   kTransmission  send `out`, then serve negotiated() (bytes after `used` belong to it);
//   kClose         send `out` (may be empty) and drop the connection; reason() says why.
// Unknown options get NBD_REP_ERR_UNSUP; malformed ones NBD_REP_ERR_INVALID; a client that
// breaks a MUST (bad magic, unknown client flags, EXPORT_NAME it cannot have) is disconnected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "nbd/export_catalog.h"

namespace vbs::nbd {

struct HandshakeOptions {
  bool tls_available = false;  // STARTTLS is offered
  bool tls_required = false;   // FORCEDTLS: every option but STARTTLS/ABORT needs TLS first
  size_t max_options = 10000;  // a client haggling longer than this is cut off
  // NBD_OPT_LIST answers the exports the peer may open; false: NBD_REP_ERR_POLICY (agents:
  // one socket serves many tenants, and nobody learns another's export names).
  bool allow_list = true;
};

struct Negotiated {
  OpenedExport exp;
  bool structured = false;       // NBD_OPT_STRUCTURED_REPLY acknowledged
  bool base_allocation = false;  // base:allocation selected for this export
  uint16_t flags = 0;            // transmission flags sent to the client
};

class Handshake {
 public:
  enum class Step { kNeedMore, kStartTls, kTransmission, kClose };

  Handshake(ExportCatalog* catalog, HandshakeOptions options, Peer peer = {});

  // The server's greeting (NBDMAGIC, IHAVEOPT, handshake flags).
  void Start(std::string* out);
  // Consumes bytes of [data, data+len) up to the next step; *used tells how many.
  Step Feed(const uint8_t* data, size_t len, size_t* used, std::string* out);
  // TLS is up: option state from before it is forgotten, as the spec asks. `tls_role` is the
  // verified client certificate's role ("" without one).
  void OnTlsStarted(std::string tls_role = {});
  // The client may not open anything here: every later option but ABORT is answered
  // NBD_REP_ERR_POLICY with `why` (NBD_OPT_EXPORT_NAME, which has no error reply, closes).
  void Refuse(std::string why) { refusal_ = std::move(why); }

  bool tls_active() const { return tls_active_; }
  Negotiated& negotiated() { return neg_; }
  const std::string& reason() const { return reason_; }

 private:
  enum class State { kClientFlags, kOptHeader, kOptData, kOptDiscard, kDone };

  Step ProcessOption(std::string* out);
  Step DoExportName(std::string* out);
  void DoList(std::string* out);
  Step DoInfoOrGo(std::string* out);
  void DoMetaContext(std::string* out);
  void Reply(std::string* out, uint32_t type, const std::string& payload = {});
  void ReplyError(std::string* out, uint32_t type, const std::string& message);
  Step Close(std::string reason);

  ExportCatalog* catalog_;
  HandshakeOptions options_;
  Peer peer_;
  State state_ = State::kClientFlags;
  bool no_zeroes_ = false;
  bool tls_active_ = false;
  size_t options_seen_ = 0;
  uint32_t opt_ = 0;
  uint64_t opt_remaining_ = 0;  // bytes of the current option still to come
  std::string opt_data_;
  std::string meta_export_;  // export the base:allocation selection was made for
  Negotiated neg_;
  std::string reason_;
  std::string refusal_;  // Refuse()
};

}  // namespace vbs::nbd
