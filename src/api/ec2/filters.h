// EC2 filters (reference/ec2-ebs-api.md §5): different filters are ANDed, the values of one
// filter ORed; values are case-sensitive and may use the wildcards * (any run) and ? (any one
// character), with \ escaping them. "tag:KEY" matches resources with that tag whose value
// matches; "tag-key" matches a tag key. A name the operation does not know is
// InvalidParameterValue ("The filter 'x' is invalid"), so a typo never means "no filter".
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "api/ec2/params.h"
#include "common/status.h"
#include "store/records.h"

namespace vbs::ec2 {

bool WildcardMatch(const std::string& pattern, const std::string& text);

// `allowed`: the plain names the operation knows; `with_tags`: tag:KEY and tag-key too.
Status CheckFilterNames(const std::vector<Filter>& filters, const std::set<std::string>& allowed,
                        bool with_tags);

// The values a resource has for a plain filter name (several for e.g. attachment.* of a
// volume with several attachments; none when it has no such attribute).
using FieldValues = std::function<std::vector<std::string>(const std::string& name)>;

bool MatchesFilters(const std::vector<Filter>& filters, const FieldValues& fields,
                    const Tags& tags);

}  // namespace vbs::ec2
