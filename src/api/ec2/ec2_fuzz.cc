// libFuzzer target for what the EC2 face parses before anyone is authenticated: the form
// body (parameters, lists, filters, tags), the SigV4 Authorization header and presigned query,
// pagination tokens and filter wildcards. Input: "header\nbody" (the first line is the
// Authorization header value). Built with -DVBS_FUZZ=ON (clang); run by tests/ec2/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/ec2/filters.h"
#include "api/ec2/pagination.h"
#include "api/ec2/params.h"
#include "api/http_server.h"
#include "auth/sigv4.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string header = input.substr(0, nl);
  const std::string body = nl == std::string::npos ? std::string() : input.substr(nl + 1);

  auto form = vbs::ParseQuery(body);
  if (form.ok()) {
    vbs::ec2::Params p(*form);
    (void)p.Int("Size");
    (void)p.Bool("DryRun");
    (void)p.List("VolumeId");
    (void)p.TagRefs("Tag");
    (void)p.SpecifiedTags("volume");
    auto filters = p.Filters();
    if (filters.ok()) {
      vbs::Tags tags = {{"Name", body.substr(0, 8)}};
      (void)vbs::ec2::CheckFilterNames(*filters, {"status"}, true);
      (void)vbs::ec2::MatchesFilters(
          *filters, [&](const std::string&) { return std::vector<std::string>{header}; }, tags);
    }
    vbs::SigV4Request req{
        "POST",
        "/",
        *form,
        {{"authorization", header}, {"host", "127.0.0.1:8443"}, {"x-amz-date", "20240101T000000Z"}},
        body};
    auto auth = vbs::ParseSigV4(req);
    if (auth.ok()) (void)vbs::VerifySigV4(req, *auth, "secret", 1704067200);
    req.headers.erase("authorization");
    auth = vbs::ParseSigV4(req);  // the presigned form, when the body has X-Amz-* keys
    if (auth.ok()) (void)vbs::VerifySigV4(req, *auth, "secret", 1704067200);
  }
  vbs::ec2::Paginator pages("key");
  (void)pages.Select({"a", "b", "c", "d", "e", "f"}, 5, header, "scope");
  (void)vbs::ec2::WildcardMatch(header, body);
  return 0;
}
