// Pagination of Describe* answers (reference/ec2-ebs-api.md §5): items are ordered by id and
// a page ends with a NextToken naming the last id shown, sealed with an HMAC (server key) over
// that id and the request's scope (caller, action, filters and ids). A token that was altered,
// made for another caller or another query, or is not ours is InvalidNextToken; tokens always
// move forward, so botocore never sees the same token twice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs::ec2 {

struct PageLimits {
  int64_t min = 5;
  int64_t max = 1000;  // larger MaxResults are capped here, as AWS does
};

struct Page {
  size_t begin = 0;  // [begin, end) of the sorted ids
  size_t end = 0;
  std::optional<std::string> next_token;
};

class Paginator {
 public:
  explicit Paginator(std::string key) : key_(std::move(key)) {}

  std::string MakeToken(const std::string& scope, const std::string& last_id) const;
  // The last id shown, or InvalidNextToken.
  Result<std::string> ReadToken(const std::string& scope, const std::string& token) const;

  // Picks the page of `sorted_ids`. Without MaxResults and NextToken: everything.
  Result<Page> Select(const std::vector<std::string>& sorted_ids,
                      std::optional<int64_t> max_results,
                      const std::optional<std::string>& next_token, const std::string& scope,
                      PageLimits limits = {}) const;

 private:
  std::string key_;
};

}  // namespace vbs::ec2
