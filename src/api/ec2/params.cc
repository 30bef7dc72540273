#include "api/ec2/params.h"

#include <set>

namespace vbs::ec2 {
namespace {

Status Invalid(const std::string& message) {
  return Status::InvalidArgument("InvalidParameterValue", message);
}

}  // namespace

std::optional<std::string> Params::Get(const std::string& name) const {
  auto it = raw_.find(name);
  if (it == raw_.end()) return std::nullopt;
  return it->second;
}

Result<std::string> Params::Required(const std::string& name) const {
  auto v = Get(name);
  if (!v || v->empty()) {
    return Status::InvalidArgument("MissingParameter",
                                   "The request must contain the parameter " + name);
  }
  return *v;
}

Result<std::optional<int64_t>> Params::Int(const std::string& name) const {
  auto v = Get(name);
  if (!v) return std::optional<int64_t>();
  bool digits = !v->empty() && v->size() <= 18;
  for (size_t i = 0; i < v->size(); ++i) {
    const char c = (*v)[i];
    if (!(c >= '0' && c <= '9') && !(i == 0 && c == '-' && v->size() > 1)) digits = false;
  }
  if (!digits)
    return Invalid("Value (" + *v + ") for parameter " + name +
                   " is invalid. "
                   "Expected an integer");
  return std::optional<int64_t>(std::stoll(*v));
}

Result<bool> Params::Bool(const std::string& name) const {
  auto v = Get(name);
  if (!v || *v == "false") return false;
  if (*v == "true") return true;
  return Invalid("Value (" + *v + ") for parameter " + name +
                 " is invalid. Expected true or false");
}

Result<std::vector<int>> Params::Indexes(const std::string& prefix) const {
  std::set<int> found;
  const std::string head = prefix + ".";
  for (auto it = raw_.lower_bound(head); it != raw_.end() && it->first.rfind(head, 0) == 0; ++it) {
    std::string rest = it->first.substr(head.size());
    std::string digits = rest.substr(0, rest.find('.'));
    bool ok = !digits.empty() && digits.size() <= 4 && digits[0] != '0';
    for (char c : digits) ok = ok && c >= '0' && c <= '9';
    if (!ok) return Invalid("the parameter " + it->first + " has a malformed index");
    found.insert(std::stoi(digits));
  }
  return std::vector<int>(found.begin(), found.end());
}

Result<std::vector<std::string>> Params::List(const std::string& prefix) const {
  VBS_ASSIGN_OR_RETURN(auto indexes, Indexes(prefix));
  std::vector<std::string> out;
  for (int i : indexes) {
    auto v = Get(prefix + "." + std::to_string(i));
    if (!v) return Invalid("the parameter " + prefix + "." + std::to_string(i) + " is malformed");
    out.push_back(*v);
  }
  return out;
}

Result<std::vector<Filter>> Params::Filters() const {
  VBS_ASSIGN_OR_RETURN(auto indexes, Indexes("Filter"));
  std::vector<Filter> out;
  for (int i : indexes) {
    const std::string base = "Filter." + std::to_string(i);
    Filter f;
    VBS_ASSIGN_OR_RETURN(f.name, Required(base + ".Name"));
    VBS_ASSIGN_OR_RETURN(f.values, List(base + ".Value"));
    if (f.values.empty()) {
      return Status::InvalidArgument("MissingParameter",
                                     "The filter '" + f.name + "' needs at least one value");
    }
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<TagRef>> Params::TagRefs(const std::string& prefix) const {
  VBS_ASSIGN_OR_RETURN(auto indexes, Indexes(prefix));
  std::vector<TagRef> out;
  for (int i : indexes) {
    const std::string base = prefix + "." + std::to_string(i);
    TagRef t;
    VBS_ASSIGN_OR_RETURN(t.key, Required(base + ".Key"));
    t.value = Get(base + ".Value");
    out.push_back(std::move(t));
  }
  return out;
}

Result<Tags> Params::SpecifiedTags(const std::string& resource_type) const {
  VBS_ASSIGN_OR_RETURN(auto indexes, Indexes("TagSpecification"));
  Tags tags;
  for (int i : indexes) {
    const std::string base = "TagSpecification." + std::to_string(i);
    VBS_ASSIGN_OR_RETURN(std::string type, Required(base + ".ResourceType"));
    if (type != resource_type) {
      return Invalid("'" + type +
                     "' is not a valid taggable resource type for this operation; "
                     "use '" +
                     resource_type + "'");
    }
    VBS_ASSIGN_OR_RETURN(auto refs, TagRefs(base + ".Tag"));
    for (auto& t : refs) tags[t.key] = t.value.value_or("");
  }
  return tags;
}

}  // namespace vbs::ec2
