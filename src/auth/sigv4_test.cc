// Known-answer tests of the SigV4 verifier. The signatures were made by botocore's own signer
// (tests/ec2/sigv4_vectors.py, Debian's python3-botocore, clock fixed at 2024-01-01T00:00:00Z);
// the first one is also the worked example in reference/ec2-ebs-api.md §7.
#include "auth/sigv4.h"

#include <gtest/gtest.h>

namespace vbs {
namespace {

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr int64_t kSignedAt = 1704067200;  // 2024-01-01T00:00:00Z
constexpr const char* kFormType = "application/x-www-form-urlencoded; charset=utf-8";

SigV4Request HeaderForm(const std::string& host, const std::string& body,
                        const std::string& authorization) {
  SigV4Request r;
  r.method = "POST";
  r.path = "/";
  r.body = body;
  r.headers = {{"host", host},
               {"content-type", kFormType},
               {"x-amz-date", "20240101T000000Z"},
               {"user-agent", "aws-cli/2.9.19"},  // unsigned: ignored
               {"authorization", authorization}};
  return r;
}

SigV4Request Describe() {
  return HeaderForm("127.0.0.1:8443",
                    "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-0123456789abcdef0",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/ec2/aws4_request, "
                    "SignedHeaders=content-type;host;x-amz-date, "
                    "Signature=6198e1252a1c2aaa380cdbf2f154cd86e7e3130387a8360ee8faa890b5558479");
}

SigV4Request Presigned() {
  SigV4Request r;
  r.method = "GET";
  r.path = "/";
  r.headers = {{"host", "127.0.0.1:8443"}};
  r.query = {
      {"Action", "CopySnapshot"},
      {"SourceRegion", "us-east-1"},
      {"SourceSnapshotId", "snap-0123456789abcdef0"},
      {"Description", "a b/c"},
      {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
      {"X-Amz-Credential", "AKIDEXAMPLE/20240101/us-east-1/ec2/aws4_request"},
      {"X-Amz-Date", "20240101T000000Z"},
      {"X-Amz-Expires", "3600"},
      {"X-Amz-SignedHeaders", "host"},
      {"X-Amz-Signature", "0dd5490f3364d523d298225b71e1e7aff37ec8c41d45f68c91913671b513527b"}};
  return r;
}

Status Verify(const SigV4Request& r, int64_t now = kSignedAt, const std::string& secret = kSecret) {
  auto auth = ParseSigV4(r);
  if (!auth.ok()) return auth.status();
  return VerifySigV4(r, *auth, secret, now);
}

TEST(SigV4, ReferenceExampleIntermediateValues) {
  auto r = Describe();
  auto auth = ParseSigV4(r);
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  EXPECT_EQ(auth->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(auth->region, "us-east-1");
  const std::string canonical = SigV4CanonicalRequest(r, *auth);
  EXPECT_EQ(canonical,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\n"
            "host:127.0.0.1:8443\nx-amz-date:20240101T000000Z\n\n"
            "content-type;host;x-amz-date\n"
            "a7e7361b21b98aff49658f62d0a95b34b5a9f93aad93406ec7ae84dbace16fdf");
  EXPECT_EQ(Sha256Hex(canonical),
            "9c0ec9d0befed84b70e313fe4948c87316a5a18a7047fa591b73220a1f598d5c");
  EXPECT_EQ(HexEncode(SigV4SigningKey(kSecret, *auth)),
            "a4324815bffc5042bce3822bc8ab01671477a09d28ac6b64c29e65189802946c");
  EXPECT_TRUE(VerifySigV4(r, *auth, kSecret, kSignedAt).ok());
}

TEST(SigV4, FormEscapesAndAnyRegionName) {
  auto r = HeaderForm(
      "localhost:9443",
      "Action=CreateSnapshot&Version=2016-11-15&Description=a+b%2Bc%2Fd%26e%3Df+%C3%BC~%2A"
      "&VolumeId=vol-0123456789abcdef0",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/mycloud-1/ec2/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date, "
      "Signature=db061a3a0c5686b2b3844d09d7f1f013677761e067dcc14f168aae23de719b5c");
  EXPECT_TRUE(Verify(r).ok()) << Verify(r).ToString();
}

TEST(SigV4, PresignedQueryForm) {
  EXPECT_TRUE(Verify(Presigned()).ok()) << Verify(Presigned()).ToString();
  EXPECT_TRUE(Verify(Presigned(), kSignedAt + 3600).ok());
  EXPECT_EQ(Verify(Presigned(), kSignedAt + 3601).code(), "RequestExpired");
  auto tampered = Presigned();
  tampered.query.find("SourceSnapshotId")->second = "snap-0123456789abcdef1";
  EXPECT_EQ(Verify(tampered).code(), "AuthFailure");
}

TEST(SigV4, AnyChangeBreaksTheSignature) {
  auto body = Describe();
  body.body.back() = '1';
  EXPECT_EQ(Verify(body).code(), "AuthFailure");
  auto host = Describe();
  host.headers["host"] = "127.0.0.1:8444";  // a proxy that rewrites Host breaks signatures
  EXPECT_EQ(Verify(host).code(), "AuthFailure");
  EXPECT_EQ(Verify(Describe(), kSignedAt, "wrong-secret").code(), "AuthFailure");
  auto unsigned_header = Describe();
  unsigned_header.headers["amz-sdk-request"] = "attempt=2";  // not signed: ignored
  EXPECT_TRUE(Verify(unsigned_header).ok());
}

// The body is bound by its own hash: a client-sent x-amz-content-sha256 must be signed and
// match it, and a presigned URL takes no body (its parameters would escape the signature).
TEST(SigV4, PayloadHashAndPresignedBodies) {
  auto r = Describe();
  r.headers["x-amz-content-sha256"] = std::string(64, '0');  // not signed
  EXPECT_EQ(Verify(r).code(), "AuthFailure");
  auto with_body = Presigned();
  with_body.body = "Action=DeleteVolume&VolumeId=vol-0123456789abcdef0";
  EXPECT_EQ(ParseSigV4(with_body).status().code(), "AuthFailure");
  EXPECT_EQ(CredentialsNotValidated().message(),
            Verify(Describe(), kSignedAt, "wrong-secret").message());
}

TEST(SigV4, ClockSkewWindow) {
  EXPECT_TRUE(Verify(Describe(), kSignedAt + 300).ok());
  EXPECT_TRUE(Verify(Describe(), kSignedAt - 300).ok());
  EXPECT_EQ(Verify(Describe(), kSignedAt + 301).code(), "RequestExpired");
  EXPECT_EQ(Verify(Describe(), kSignedAt - 3600).code(), "RequestExpired");
  EXPECT_EQ(HttpStatusFor(Verify(Describe(), kSignedAt + 301).kind()), 400);
}

TEST(SigV4, MissingAndMalformedParts) {
  auto none = Describe();
  none.headers.erase("authorization");
  Status st = Verify(none);
  EXPECT_EQ(st.code(), "MissingAuthenticationToken");
  EXPECT_EQ(HttpStatusFor(st.kind()), 401);

  auto with = [](const std::string& authorization) {
    auto r = Describe();
    r.headers["authorization"] = authorization;
    return Verify(r).code();
  };
  const std::string sig =
      "Signature=6198e1252a1c2aaa380cdbf2f154cd86e7e3130387a8360ee8faa890b5558479";
  const std::string cred = "Credential=AKIDEXAMPLE/20240101/us-east-1/ec2/aws4_request";
  EXPECT_EQ(with("AWS4-HMAC-SHA1 " + cred + ", SignedHeaders=host;x-amz-date, " + sig),
            "IncompleteSignature");
  EXPECT_EQ(with("AWS4-HMAC-SHA256 " + cred + ", " + sig), "IncompleteSignature");
  EXPECT_EQ(with("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=content-type;host;x-amz-date"),
            "IncompleteSignature");
  EXPECT_EQ(with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date, " +
                 sig),
            "IncompleteSignature");
  EXPECT_EQ(with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/ec2/aws4_request, "
                 "SignedHeaders=content-type;host;x-amz-date, " +
                 sig),
            "IncompleteSignature");  // scope date is not the X-Amz-Date's
  EXPECT_EQ(with("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=content-type;x-amz-date, " + sig),
            "IncompleteSignature");  // host unsigned
  EXPECT_EQ(with("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=content-type;host, " + sig),
            "IncompleteSignature");  // x-amz-date unsigned
  EXPECT_EQ(with("AWS4-HMAC-SHA256 " + cred +
                 ", SignedHeaders=content-type;host;x-amz-date, "
                 "Signature=XYZ"),
            "IncompleteSignature");
  // Tolerates other whitespace than botocore's ", ".
  EXPECT_EQ(
      with("AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=content-type;host;x-amz-date,  " + sig),
      "");

  auto bad_date = Describe();
  bad_date.headers["x-amz-date"] = "2024-01-01T00:00:00Z";
  EXPECT_EQ(Verify(bad_date).code(), "IncompleteSignature");
  auto no_date = Describe();
  no_date.headers.erase("x-amz-date");
  EXPECT_EQ(Verify(no_date).code(), "IncompleteSignature");
  auto no_expires = Presigned();
  no_expires.query.erase("X-Amz-Expires");
  EXPECT_EQ(Verify(no_expires).code(), "IncompleteSignature");
}

TEST(SigV4, UriEncodingIsRfc3986) {
  EXPECT_EQ(SigV4UriEncode("a b+c/d~e*", false), "a%20b%2Bc%2Fd~e%2A");
  EXPECT_EQ(SigV4UriEncode("/x y/", true), "/x%20y/");
  EXPECT_EQ(SigV4UriEncode("\xc3\xbc", false), "%C3%BC");
}

TEST(SigV4, AmzDate) {
  auto t = ParseAmzDate("20240101T000000Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, kSignedAt);
  EXPECT_FALSE(ParseAmzDate("20241301T000000Z").ok());
  EXPECT_FALSE(ParseAmzDate("2024010T1000000Z").ok());
}

}  // namespace
}  // namespace vbs
