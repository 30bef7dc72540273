// Small helpers shared by the per-resource handler files.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "api/ec2/ec2_api.h"
#include "api/ec2/errors.h"
#include "api/ec2/filters.h"

namespace vbs::ec2 {

// The ids of a Describe call ("VolumeId.N"), checked not to come with MaxResults (AWS's rule:
// an explicit list is answered whole).
inline Result<std::vector<std::string>> DescribeIds(const Ec2Request& r,
                                                    const std::string& prefix) {
  VBS_ASSIGN_OR_RETURN(auto ids, r.params.List(prefix));
  if (!ids.empty() && r.params.Get("MaxResults")) {
    return Status::InvalidArgument(
        "InvalidParameterCombination",
        "The parameter " + prefix + " cannot be used with the parameter maxResults");
  }
  return ids;
}

// The filters of the call, their names checked against what the operation knows.
inline Result<std::vector<Filter>> CheckedFilters(const Ec2Request& r,
                                                  const std::set<std::string>& allowed,
                                                  bool with_tags) {
  VBS_ASSIGN_OR_RETURN(auto filters, r.params.Filters());
  VBS_RETURN_IF_ERROR(CheckFilterNames(filters, allowed, with_tags));
  return filters;
}

// Selects the page of `items` (sorted by `id_of` here) that the call asks for.
template <typename T, typename IdOf>
Result<std::pair<std::vector<T>, std::optional<std::string>>> PageOf(std::vector<T> items,
                                                                     IdOf id_of,
                                                                     const Ec2Request& r,
                                                                     const Paginator& pages,
                                                                     PageLimits limits = {}) {
  std::sort(items.begin(), items.end(),
            [&](const T& a, const T& b) { return id_of(a) < id_of(b); });
  std::vector<std::string> ids;
  for (const auto& i : items) ids.push_back(id_of(i));
  VBS_ASSIGN_OR_RETURN(auto max_results, r.params.Int("MaxResults"));
  VBS_ASSIGN_OR_RETURN(
      Page page, pages.Select(ids, max_results, r.params.Get("NextToken"), r.page_scope, limits));
  std::vector<T> out(std::make_move_iterator(items.begin() + page.begin),
                     std::make_move_iterator(items.begin() + page.end));
  return std::make_pair(std::move(out), page.next_token);
}

inline void WriteNextToken(XmlWriter& x, const std::optional<std::string>& token) {
  if (token) x.Text("nextToken", *token);
}

inline Status ReturnTrue(XmlWriter& x) {
  x.Text("return", "true");
  return Status::Ok();
}

}  // namespace vbs::ec2
