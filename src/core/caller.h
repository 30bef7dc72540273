// Caller: who is asking, as established by auth/ (certificate or access key).
#pragma once

#include <string>

namespace vbs {

struct Caller {
  std::string user;
  bool admin = false;

  // True when this caller may see and act on an object owned by `owner`.
  bool Owns(const std::string& owner) const { return admin || owner == user; }
};

}  // namespace vbs
