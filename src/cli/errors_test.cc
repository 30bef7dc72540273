#include "cli/errors.h"

#include <gtest/gtest.h>

namespace vbs::cli {
namespace {

TEST(ExitCode, MapsEachKindOfFailure) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(UsageError("x")), 2);
  EXPECT_EQ(ExitCodeFor(UnreachableError("x")), 3);
  EXPECT_EQ(ExitCodeFor(WaitTimedOutError("x")), 4);
  EXPECT_EQ(ExitCodeFor(EndedInError("x")), 4);
  EXPECT_EQ(ExitCodeFor(BadResponseError("x")), 1);
  // Server answers, whatever their kind, are server errors, including 400 and 503.
  EXPECT_EQ(ExitCodeFor(StatusFromHttpError(400, R"({"error":{"code":"X","message":"m"}})")), 1);
  EXPECT_EQ(ExitCodeFor(StatusFromHttpError(503, "")), 1);
}

TEST(FormatError, ServerCodesAreShownLocalOnesAreNot) {
  EXPECT_EQ(FormatError(StatusFromHttpError(
                404, R"({"error":{"code":"InvalidVolume.NotFound","message":"no vol-1"}})")),
            "error: InvalidVolume.NotFound: no vol-1");
  EXPECT_EQ(FormatError(UsageError("no server endpoint given")), "error: no server endpoint given");
}

TEST(StatusFromHttpError, ParsesTheDocumentedShape) {
  Status s = StatusFromHttpError(
      409, R"({"error":{"code":"InsufficientVolumeCapacity","message":"pool full"}})");
  EXPECT_EQ(s.kind(), StatusKind::kConflict);
  EXPECT_EQ(s.code(), "InsufficientVolumeCapacity");
  EXPECT_EQ(s.message(), "pool full");
  EXPECT_EQ(StatusFromHttpError(401, R"({"error":{"code":"MissingClientCertificate",
            "message":"m"}})")
                .kind(),
            StatusKind::kUnauthenticated);
}

TEST(StatusFromHttpError, SurvivesBodiesThatAreNotOurs) {
  Status html = StatusFromHttpError(502, "<html>\nBad Gateway\n</html>");
  EXPECT_EQ(html.code(), "HTTP502");
  EXPECT_EQ(html.message(), "<html> Bad Gateway </html>");
  EXPECT_EQ(ExitCodeFor(html), 1);
  EXPECT_EQ(StatusFromHttpError(500, "").message(), "(empty response body)");
  // Wrong types inside the error object do not throw.
  Status odd = StatusFromHttpError(400, R"({"error":{"code":5,"message":["x"]}})");
  EXPECT_EQ(odd.code(), "HTTP400");
  EXPECT_EQ(StatusFromHttpError(400, std::string(1000, 'x')).message().size(), 200u);
}

TEST(StatusFromHttpError, TheServerCannotForgeALocalExitCode) {
  Status s = StatusFromHttpError(400, R"({"error":{"code":"vbs.UsageError","message":"m"}})");
  EXPECT_EQ(ExitCodeFor(s), 1);
  EXPECT_EQ(s.code(), "Server.vbs.UsageError");
}

}  // namespace
}  // namespace vbs::cli
