#include "api/ec2/pagination.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "auth/sigv4.h"

namespace vbs::ec2 {
namespace {

Status BadToken() {
  return Status::InvalidArgument("InvalidNextToken", "The specified NextToken is not valid");
}

std::string Seal(const std::string& key, const std::string& scope, const std::string& id) {
  return HexEncode(HmacSha256(key, scope + '\n' + id)).substr(0, 32);
}

}  // namespace

std::string Paginator::MakeToken(const std::string& scope, const std::string& last_id) const {
  return HexEncode(last_id) + "." + Seal(key_, scope, last_id);
}

Result<std::string> Paginator::ReadToken(const std::string& scope, const std::string& token) const {
  const size_t dot = token.find('.');
  if (dot == std::string::npos || dot == 0 || dot % 2 != 0 || dot > 256) return BadToken();
  std::string id;
  for (size_t i = 0; i < dot; i += 2) {
    const std::string pair = token.substr(i, 2);
    if (pair.find_first_not_of("0123456789abcdef") != std::string::npos) return BadToken();
    id.push_back(static_cast<char>(std::stoi(pair, nullptr, 16)));
  }
  const std::string seal = token.substr(dot + 1);
  const std::string expected = Seal(key_, scope, id);
  if (seal.size() != expected.size() ||
      CRYPTO_memcmp(seal.data(), expected.data(), seal.size()) != 0) {
    return BadToken();
  }
  return id;
}

Result<Page> Paginator::Select(const std::vector<std::string>& sorted_ids,
                               std::optional<int64_t> max_results,
                               const std::optional<std::string>& next_token,
                               const std::string& scope, PageLimits limits) const {
  Page page;
  page.end = sorted_ids.size();
  if (max_results && *max_results < limits.min) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "Value ( " + std::to_string(*max_results) +
                                       " ) for parameter maxResults is invalid. Expecting a "
                                       "value of at least " +
                                       std::to_string(limits.min) + ".");
  }
  if (next_token) {
    VBS_ASSIGN_OR_RETURN(std::string last, ReadToken(scope, *next_token));
    page.begin = std::upper_bound(sorted_ids.begin(), sorted_ids.end(), last) - sorted_ids.begin();
  }
  if (!max_results) return page;
  const size_t n = static_cast<size_t>(std::min(*max_results, limits.max));
  if (sorted_ids.size() - page.begin > n) {
    page.end = page.begin + n;
    page.next_token = MakeToken(scope, sorted_ids[page.end - 1]);
  }
  return page;
}

}  // namespace vbs::ec2
