#include "nbd/handover.h"

#include <openssl/evp.h>

namespace vbs::nbd {
namespace {

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(n);
  return out;
}

Result<std::string> Unbase64(const std::string& in) {
  if (in.empty()) return std::string();
  if (in.size() % 4 != 0) return Status::InvalidArgument("InvalidParameterValue", "bad base64");
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return Status::InvalidArgument("InvalidParameterValue", "bad base64");
  size_t pad = 0;
  if (in.size() >= 1 && in[in.size() - 1] == '=') ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace

nlohmann::json HandoverToJson(const ServerHandover& h) {
  nlohmann::json j = {{"listeners", nlohmann::json::array()},
                      {"connections", nlohmann::json::array()}};
  for (const auto& l : h.listeners) j["listeners"].push_back({{"fd", l.fd}, {"path", l.path}});
  for (const auto& c : h.connections) {
    j["connections"].push_back({{"fd", c.fd},
                                {"export", c.export_name},
                                {"structured", c.structured},
                                {"base_allocation", c.base_allocation},
                                {"pending", Base64(c.pending)}});
  }
  return j;
}

Result<ServerHandover> HandoverFromJson(const nlohmann::json& j) {
  ServerHandover h;
  try {
    for (const auto& l : j.at("listeners")) {
      h.listeners.push_back({l.at("fd").get<int>(), l.value("path", "")});
    }
    for (const auto& c : j.at("connections")) {
      HandedConnection x;
      x.fd = c.at("fd").get<int>();
      x.export_name = c.at("export").get<std::string>();
      x.structured = c.at("structured").get<bool>();
      x.base_allocation = c.at("base_allocation").get<bool>();
      VBS_ASSIGN_OR_RETURN(x.pending, Unbase64(c.at("pending").get<std::string>()));
      h.connections.push_back(std::move(x));
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   std::string("malformed NBD handover: ") + e.what());
  }
  return h;
}

}  // namespace vbs::nbd
