#include "auth/pki.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>

namespace vbs {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr Parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(x);
}

// Verifies `leaf` against `ca` with `purpose` (X509_PURPOSE_SSL_SERVER / _CLIENT); returns the
// verify error (0 = ok).
int Verify(const std::string& ca, const std::string& leaf, int purpose,
           const std::string& host = "", const std::string& ip = "") {
  X509Ptr ca_x = Parse(ca), leaf_x = Parse(leaf);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_x.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf_x.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  if (!host.empty()) X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  if (!ip.empty()) X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
  int rc = X509_verify_cert(ctx);
  int err = rc == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "/pki_test.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Pki, RolesRoundTrip) {
  for (auto r : {CertRole::kAdmin, CertRole::kUser, CertRole::kNode, CertRole::kServer}) {
    EXPECT_EQ(*ParseRole(RoleName(r)), r);
  }
  EXPECT_FALSE(ParseRole("root").ok());
  EXPECT_FALSE(ParseRole("").ok());
}

TEST(Pki, CaIsSelfSignedCa) {
  auto ca = CertificateAuthority::Create("VBS test CA");
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  X509Ptr x = Parse(ca->cert_pem());
  ASSERT_TRUE(x);
  EXPECT_EQ(X509_check_ca(x.get()), 1);
  EXPECT_EQ(Verify(ca->cert_pem(), ca->cert_pem(), X509_PURPOSE_ANY), 0);
  uint32_t ku = X509_get_key_usage(x.get());
  EXPECT_TRUE(ku & KU_KEY_CERT_SIGN);
  EXPECT_TRUE(ku & KU_CRL_SIGN);
}

TEST(Pki, IssuesServerAndClientCerts) {
  auto ca = CertificateAuthority::Create("VBS test CA");
  ASSERT_TRUE(ca.ok());
  auto server = ca->Issue("vbs.example", CertRole::kServer, {"127.0.0.1", "::1", "localhost"});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_SERVER), 0);
  EXPECT_EQ(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_SERVER, "localhost"), 0);
  EXPECT_EQ(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_SERVER, "", "127.0.0.1"), 0);
  EXPECT_EQ(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_SERVER, "", "::1"), 0);
  EXPECT_NE(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_SERVER, "other.example"), 0);
  EXPECT_NE(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_SERVER, "", "10.0.0.1"), 0);
  // A server certificate is not a client certificate.
  EXPECT_NE(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_CLIENT), 0);

  auto user = ca->Issue("alice", CertRole::kUser);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(Verify(ca->cert_pem(), user->cert_pem, X509_PURPOSE_SSL_CLIENT), 0);
  EXPECT_NE(Verify(ca->cert_pem(), user->cert_pem, X509_PURPOSE_SSL_SERVER), 0);
  auto id = IdentityFromPem(user->cert_pem);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->common_name, "alice");
  EXPECT_EQ(id->role, CertRole::kUser);

  auto sid = IdentityFromPem(server->cert_pem);
  ASSERT_TRUE(sid.ok());
  EXPECT_EQ(sid->role, CertRole::kServer);
  EXPECT_EQ(sid->common_name, "vbs.example");

  // Another CA's certificates do not verify.
  auto other = CertificateAuthority::Create("other CA");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(Verify(other->cert_pem(), user->cert_pem, X509_PURPOSE_SSL_CLIENT), 0);
}

TEST(Pki, ServerWithoutSanGetsCn) {
  auto ca = CertificateAuthority::Create("CA");
  ASSERT_TRUE(ca.ok());
  auto server = ca->Issue("localhost", CertRole::kServer);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(Verify(ca->cert_pem(), server->cert_pem, X509_PURPOSE_SSL_SERVER, "localhost"), 0);
}

TEST(Pki, RejectsBadInput) {
  auto ca = CertificateAuthority::Create("CA");
  ASSERT_TRUE(ca.ok());
  EXPECT_FALSE(ca->Issue("", CertRole::kUser).ok());
  EXPECT_FALSE(ca->Issue("s", CertRole::kServer, {"bad name,DNS:evil"}).ok());
  EXPECT_FALSE(ca->Issue("alice", CertRole::kUser, {"localhost"}).ok());
  EXPECT_FALSE(ca->Issue("alice", CertRole::kUser, {}, 0).ok());
  EXPECT_FALSE(IdentityFromPem("not a cert").ok());
  // The CA itself has a CN but no OU: not an identity.
  auto id = IdentityFromPem(ca->cert_pem());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().kind(), StatusKind::kUnauthenticated);
  EXPECT_NE(id.status().message().find("OU"), std::string::npos);
}

TEST(Pki, SerialsDiffer) {
  auto ca = CertificateAuthority::Create("CA");
  ASSERT_TRUE(ca.ok());
  auto a = ca->Issue("a", CertRole::kUser), b = ca->Issue("a", CertRole::kUser);
  ASSERT_TRUE(a.ok() && b.ok());
  X509Ptr xa = Parse(a->cert_pem), xb = Parse(b->cert_pem);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(xa.get()), X509_get0_serialNumber(xb.get())),
            0);
  EXPECT_NE(a->key_pem, b->key_pem);
}

TEST(Pki, IdentityCarriesSerialAndIssueTime) {
  auto ca = CertificateAuthority::Create("CA");
  ASSERT_TRUE(ca.ok());
  const int64_t before = static_cast<int64_t>(std::time(nullptr));
  auto a = ca->Issue("amy", CertRole::kUser, {}, 10);
  ASSERT_TRUE(a.ok());
  auto id = IdentityFromPem(a->cert_pem);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  X509Ptr x = Parse(a->cert_pem);
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x.get()), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string expected(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  for (char& c : expected) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(id->serial, expected);
  EXPECT_EQ(id->serial.size(), 32u);
  // notBefore is backdated; issued_at is the moment of issue again.
  EXPECT_GE(id->issued_at, before);
  EXPECT_LE(id->issued_at, before + 2);
  EXPECT_NEAR(static_cast<double>(id->expires_at - id->issued_at), 10 * 86400.0, 2.0);
}

TEST(Pki, SaveLoadWithModes) {
  TempDir dir;
  auto ca = CertificateAuthority::Create("CA");
  ASSERT_TRUE(ca.ok());
  std::string crt = dir.path() + "/ca.crt", key = dir.path() + "/ca.key";
  ASSERT_TRUE(ca->Save(crt, key).ok());
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(crt.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  auto loaded = CertificateAuthority::Load(crt, key);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->cert_pem(), ca->cert_pem());
  auto user = loaded->Issue("bob", CertRole::kAdmin);
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(Verify(ca->cert_pem(), user->cert_pem, X509_PURPOSE_SSL_CLIENT), 0);

  // Mismatched key is refused.
  auto other = CertificateAuthority::Create("other");
  ASSERT_TRUE(other.ok());
  std::string okey = dir.path() + "/o.key", ocrt = dir.path() + "/o.crt";
  ASSERT_TRUE(other->Save(ocrt, okey).ok());
  EXPECT_FALSE(CertificateAuthority::Load(crt, okey).ok());
  // A leaf is not a CA.
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/leaf.crt", user->cert_pem, 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/leaf.key", user->key_pem, 0600).ok());
  EXPECT_FALSE(CertificateAuthority::Load(dir.path() + "/leaf.crt", dir.path() + "/leaf.key").ok());
  auto missing = CertificateAuthority::Load(dir.path() + "/nope.crt", key);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().kind(), StatusKind::kNotFound);
}

TEST(Pki, WriteFileAtomicReplaces) {
  TempDir dir;
  std::string p = dir.path() + "/f";
  ASSERT_TRUE(WriteFileAtomic(p, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(p, "two", 0640).ok());
  EXPECT_EQ(*ReadFile(p), "two");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // No temp files left behind.
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++n;
  }
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(WriteFileAtomic(dir.path() + "/no/such/dir/f", "x", 0600).ok());
}

}  // namespace
}  // namespace vbs
