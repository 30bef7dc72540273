// CreateTags, DeleteTags, DescribeTags (reference/ec2-ebs-api.md §4.12) over TagService.
#include "api/ec2/handler_util.h"

namespace vbs::ec2 {
namespace {

Status CheckResourcesVisible(const Ec2Request& r, const std::vector<std::string>& ids,
                             VolumeService& volumes, SnapshotService& snapshots) {
  for (const auto& id : ids) {
    if (id.rfind("vol-", 0) == 0) {
      VBS_RETURN_IF_ERROR(volumes.Get(r.caller, id).status());
    } else {
      VBS_RETURN_IF_ERROR(snapshots.Get(r.caller, id).status());
    }
  }
  return Status::Ok();
}

Status CreateTags(const Ec2Request& r, XmlWriter& x, const Ec2Services& s) {
  VBS_ASSIGN_OR_RETURN(auto ids, r.params.List("ResourceId"));
  VBS_ASSIGN_OR_RETURN(auto refs, r.params.TagRefs("Tag"));
  if (ids.empty()) {
    return Status::InvalidArgument("MissingParameter",
                                   "The request must contain the parameter ResourceId");
  }
  if (refs.empty()) {
    return Status::InvalidArgument("MissingParameter",
                                   "The request must contain the parameter Tag");
  }
  Tags tags;
  for (const auto& t : refs) tags[t.key] = t.value.value_or("");
  if (r.dry_run) return DryRunAnswer(CheckResourcesVisible(r, ids, *s.volumes, *s.snapshots));
  VBS_RETURN_IF_ERROR(s.tags->AddTags(r.caller, ids, tags));
  return ReturnTrue(x);
}

Status DeleteTags(const Ec2Request& r, XmlWriter& x, const Ec2Services& s) {
  VBS_ASSIGN_OR_RETURN(auto ids, r.params.List("ResourceId"));
  VBS_ASSIGN_OR_RETURN(auto refs, r.params.TagRefs("Tag"));
  if (ids.empty()) {
    return Status::InvalidArgument("MissingParameter",
                                   "The request must contain the parameter ResourceId");
  }
  std::vector<TagRemoval> removals;
  for (auto& t : refs) removals.push_back({t.key, t.value});
  if (r.dry_run) return DryRunAnswer(CheckResourcesVisible(r, ids, *s.volumes, *s.snapshots));
  VBS_RETURN_IF_ERROR(s.tags->RemoveTags(r.caller, ids, removals));
  return ReturnTrue(x);
}

struct TagRow {
  std::string id;
  std::string type;
  std::string key;
  std::string value;
  std::string sort_key() const { return id + '\n' + key; }
};

Status DescribeTags(const Ec2Request& r, XmlWriter& x, const Ec2Services& s,
                    const Paginator& pages) {
  static const std::set<std::string> kFilters = {"key", "resource-id", "resource-type", "value"};
  VBS_ASSIGN_OR_RETURN(auto filters, CheckedFilters(r, kFilters, true));
  if (r.dry_run) return DryRunAnswer(Status::Ok());
  VBS_ASSIGN_OR_RETURN(auto resources, s.tags->List(r.caller));
  std::vector<TagRow> rows;
  for (const auto& res : resources) {
    for (const auto& [k, v] : res.tags) {
      TagRow row{res.id, res.type, k, v};
      auto field = [&row](const std::string& n) -> std::vector<std::string> {
        if (n == "key") return {row.key};
        if (n == "value") return {row.value};
        if (n == "resource-id") return {row.id};
        if (n == "resource-type") return {row.type};
        return {};
      };
      if (MatchesFilters(filters, field, res.tags)) rows.push_back(std::move(row));
    }
  }
  VBS_ASSIGN_OR_RETURN(
      auto page, PageOf(
                     std::move(rows), [](const TagRow& t) { return t.sort_key(); }, r, pages));
  x.Open("tagSet");
  for (const auto& t : page.first) {
    x.Open("item")
        .Text("resourceId", t.id)
        .Text("resourceType", t.type)
        .Text("key", t.key)
        .Text("value", t.value)
        .Close();
  }
  x.Close();
  WriteNextToken(x, page.second);
  return Status::Ok();
}

}  // namespace

void AddTagHandlers(Ec2Handlers& h, const Ec2Services& s, const Paginator& pages) {
  h["CreateTags"] = [&s](const Ec2Request& r, XmlWriter& x) { return CreateTags(r, x, s); };
  h["DeleteTags"] = [&s](const Ec2Request& r, XmlWriter& x) { return DeleteTags(r, x, s); };
  h["DescribeTags"] = [&s, &pages](const Ec2Request& r, XmlWriter& x) {
    return DescribeTags(r, x, s, pages);
  };
}

}  // namespace vbs::ec2
