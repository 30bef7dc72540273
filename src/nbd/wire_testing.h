// Client-side NBD message builders and reply readers for tests (header only, not shipped).
#pragma once

#include <string>

#include "nbd/protocol.h"

namespace vbs::nbd::testing {

inline void Put16(std::string* s, uint16_t v) {
  uint8_t b[2];
  Store16(b, v);
  s->append(reinterpret_cast<char*>(b), 2);
}
inline void Put32(std::string* s, uint32_t v) {
  uint8_t b[4];
  Store32(b, v);
  s->append(reinterpret_cast<char*>(b), 4);
}
inline void Put64(std::string* s, uint64_t v) {
  uint8_t b[8];
  Store64(b, v);
  s->append(reinterpret_cast<char*>(b), 8);
}

inline std::string ClientFlags(uint32_t flags = kClientFixedNewstyle | kClientNoZeroes) {
  std::string s;
  Put32(&s, flags);
  return s;
}

inline std::string Option(uint32_t opt, const std::string& data = {}) {
  std::string s;
  Put64(&s, kIHaveOpt);
  Put32(&s, opt);
  Put32(&s, static_cast<uint32_t>(data.size()));
  return s + data;
}

// NBD_OPT_GO / NBD_OPT_INFO data.
inline std::string GoData(const std::string& name, std::initializer_list<uint16_t> infos = {}) {
  std::string s;
  Put32(&s, static_cast<uint32_t>(name.size()));
  s += name;
  Put16(&s, static_cast<uint16_t>(infos.size()));
  for (uint16_t i : infos) Put16(&s, i);
  return s;
}

// NBD_OPT_{LIST,SET}_META_CONTEXT data.
inline std::string MetaData(const std::string& name, std::initializer_list<std::string> queries) {
  std::string s;
  Put32(&s, static_cast<uint32_t>(name.size()));
  s += name;
  Put32(&s, static_cast<uint32_t>(queries.size()));
  for (const auto& q : queries) {
    Put32(&s, static_cast<uint32_t>(q.size()));
    s += q;
  }
  return s;
}

inline std::string RequestBytes(uint16_t type, uint64_t handle, uint64_t offset, uint32_t length,
                                uint16_t flags = 0, const std::string& payload = {}) {
  std::string s;
  Put32(&s, kRequestMagic);
  Put16(&s, flags);
  Put16(&s, type);
  Put64(&s, handle);
  Put64(&s, offset);
  Put32(&s, length);
  return s + payload;
}

// One option reply parsed from the front of `s` (consumed); false if incomplete.
struct OptReply {
  uint32_t opt = 0, type = 0;
  std::string data;
};
inline bool TakeOptReply(std::string* s, OptReply* r) {
  if (s->size() < 20) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(s->data());
  if (Load64(p) != kOptReplyMagic) return false;
  uint32_t len = Load32(p + 16);
  if (s->size() < 20 + len) return false;
  r->opt = Load32(p + 8);
  r->type = Load32(p + 12);
  r->data = s->substr(20, len);
  s->erase(0, 20 + len);
  return true;
}

}  // namespace vbs::nbd::testing
