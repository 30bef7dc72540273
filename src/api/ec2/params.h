// Params: the decoded parameters of one EC2 Query request (form body merged with the URL
// query) and typed access by wire name (reference/ec2-ebs-api.md §2): scalars, flattened
// lists ("VolumeId.1", "VolumeId.2" …), filters ("Filter.N.Name", "Filter.N.Value.M") and
// tags ("Tag.N.Key", "Tag.N.Value", telling an absent Value from an empty one).
//
// Errors: MissingParameter for a required one, InvalidParameterValue for a value of the wrong
// shape (a non-number, a boolean other than true/false, a gap in a list's numbering).
// Unknown keys are ignored: newer SDKs send members older models lack (§9).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/records.h"

namespace vbs::ec2 {

struct Filter {
  std::string name;
  std::vector<std::string> values;
};

struct TagRef {
  std::string key;
  std::optional<std::string> value;  // absent: "any value" (DeleteTags)
};

struct TagSpecification {
  std::string resource_type;
  Tags tags;
};

class Params {
 public:
  explicit Params(std::multimap<std::string, std::string> raw) : raw_(std::move(raw)) {}

  std::optional<std::string> Get(const std::string& name) const;
  Result<std::string> Required(const std::string& name) const;
  Result<std::optional<int64_t>> Int(const std::string& name) const;
  Result<bool> Bool(const std::string& name) const;  // absent: false
  // "Prefix.1", "Prefix.2", … in numeric order.
  Result<std::vector<std::string>> List(const std::string& prefix) const;
  Result<std::vector<Filter>> Filters() const;
  // "Prefix.N.Key" / "Prefix.N.Value".
  Result<std::vector<TagRef>> TagRefs(const std::string& prefix) const;
  // Tags of TagSpecification.N whose ResourceType is `resource_type` (another type is an
  // InvalidParameterValue); several specifications of the type merge.
  Result<Tags> SpecifiedTags(const std::string& resource_type) const;

 private:
  // The indexes N of keys "prefix.N…" (N ≥ 1), sorted; a malformed index is an error.
  Result<std::vector<int>> Indexes(const std::string& prefix) const;
  std::multimap<std::string, std::string> raw_;
};

}  // namespace vbs::ec2
