// TagService: tags of volumes and snapshots changed after creation (EC2 CreateTags /
// DeleteTags / DescribeTags). A call names resources by id ("vol-…", "snap-…"); it applies to
// all of them in one transaction or to none: an id that is malformed, not the caller's or
// gone answers as on every other call (…Malformed / …NotFound), and the resulting tags must
// pass ValidateTags (at most 50, key and value lengths, no "vbs:" keys).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/caller.h"
#include "store/metadata_store.h"

namespace vbs {

struct TagRemoval {
  std::string key;
  std::optional<std::string> value;  // unset: whatever the value; set: only that value
};

struct TaggedResource {
  std::string id;
  std::string type;  // volume, snapshot
  std::string owner;
  Tags tags;
};

class TagService {
 public:
  explicit TagService(MetadataStore& store) : store_(store) {}

  // Adds the tags, overwriting the values of keys already there.
  Status AddTags(const Caller& caller, const std::vector<std::string>& ids, const Tags& tags);
  // Removes the named tags; with no removals at all, every tag of the resources.
  Status RemoveTags(const Caller& caller, const std::vector<std::string>& ids,
                    const std::vector<TagRemoval>& removals);
  // The caller's live volumes and snapshots with their tags (every owner's for admins).
  Result<std::vector<TaggedResource>> List(const Caller& caller);

 private:
  Status Update(const Caller& caller, const std::vector<std::string>& ids,
                const std::function<void(Tags&)>& change);
  MetadataStore& store_;
};

}  // namespace vbs
