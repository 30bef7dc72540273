#include "auth/pki.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

namespace vbs {
namespace {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using NamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using Asn1OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;

// The OpenSSL error queue, drained into one line (and cleared so it cannot leak into the
// next caller's diagnostics).
std::string OpenSslError(const std::string& what) {
  std::string out = what;
  unsigned long e;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

Status SslFailure(const std::string& what) {
  return Status::Internal(OpenSslError(what));
}

Result<PKeyPtr> NewEcKey() {
  PKeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return SslFailure("EC P-256 key generation failed");
  return key;
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslFailure("cannot encode private key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(n));
  // Scrub the BIO's copy of the key before it goes back to the allocator.
  OPENSSL_cleanse(data, static_cast<size_t>(n));
  return pem;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return SslFailure("cannot encode certificate");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<X509Ptr> CertFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return Status::InvalidArgument("InvalidCertificate", OpenSslError("not a PEM certificate"));
  }
  return cert;
}

Result<PKeyPtr> KeyFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    // Do not echo key material; OpenSSL's messages do not contain it.
    return Status::InvalidArgument("InvalidKey", OpenSslError("not a PEM private key"));
  }
  return key;
}

// Random positive 128-bit serial (RFC 5280 allows up to 20 octets; top bit cleared so the
// DER INTEGER stays positive without a padding byte).
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return SslFailure("RAND_bytes failed");
  bytes[0] &= 0x7f;
  bytes[0] |= 0x40;  // never a short/zero serial
  BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
    return SslFailure("cannot set serial");
  return Status::Ok();
}

Status AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   OpenSslError(std::string("invalid subject ") + field));
  }
  return Status::Ok();
}

// Adds a v3 extension given in OpenSSL's config syntax. Only called with constant values, never
// with user input (SANs are built structurally below, so a name cannot inject extra entries).
Status AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return SslFailure(std::string("cannot add extension ") + OBJ_nid2sn(nid));
  return Status::Ok();
}

bool IsDnsName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*';
    if (!ok) return false;
  }
  return true;
}

Status AddSubjectAltNames(X509* cert, const std::vector<std::string>& san) {
  NamesPtr names(GENERAL_NAMES_new());
  if (!names) return SslFailure("out of memory");
  for (const std::string& entry : san) {
    NamePtr gn(GENERAL_NAME_new());
    if (!gn) return SslFailure("out of memory");
    // a2i_IPADDRESS accepts exactly IPv4 dotted quads and IPv6 text forms.
    Asn1OctetPtr ip(a2i_IPADDRESS(entry.c_str()));
    ERR_clear_error();  // a failed IP parse is expected for DNS names
    if (ip) {
      GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip.release());
    } else if (IsDnsName(entry)) {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (!dns || ASN1_STRING_set(dns, entry.data(), static_cast<int>(entry.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        return SslFailure("out of memory");
      }
      GENERAL_NAME_set0_value(gn.get(), GEN_DNS, dns);
    } else {
      return Status::InvalidArgument("InvalidParameterValue", "subjectAltName '" + entry +
                                                                  "' is neither an IP address "
                                                                  "nor a DNS name");
    }
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return SslFailure("out of memory");
    gn.release();
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    return SslFailure("cannot add subjectAltName");
  return Status::Ok();
}

// Validity starts a few minutes in the past so a peer whose clock is slightly behind still
// accepts a certificate issued just now.
constexpr long kBackdateSeconds = 300;

Status SetValidity(X509* cert, int days) {
  if (days <= 0 || days > 36500)
    return Status::InvalidArgument("InvalidParameterValue", "validity days out of range");
  if (!X509_gmtime_adj(X509_getm_notBefore(cert), -kBackdateSeconds) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, nullptr))
    return SslFailure("cannot set validity");
  return Status::Ok();
}

Result<std::string> NameEntry(X509_NAME* name, int nid, const char* what) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) {
    return Status::Unauthenticated("AuthFailure",
                                   std::string("certificate subject has no ") + what);
  }
  // Two CNs or OUs would make the identity ambiguous: refuse rather than pick one.
  if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0) {
    return Status::Unauthenticated("AuthFailure",
                                   std::string("certificate subject has more than one ") + what);
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) {
    ERR_clear_error();
    return Status::Unauthenticated("AuthFailure",
                                   std::string("certificate ") + what + " is not valid text");
  }
  std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Status::Unauthenticated(
          "AuthFailure", std::string("certificate ") + what + " contains control characters");
    }
  }
  if (value.empty()) {
    return Status::Unauthenticated("AuthFailure", std::string("certificate ") + what + " is empty");
  }
  return value;
}

}  // namespace

std::string RoleName(CertRole role) {
  switch (role) {
    case CertRole::kAdmin:
      return "admin";
    case CertRole::kUser:
      return "user";
    case CertRole::kNode:
      return "node";
    case CertRole::kServer:
      return "server";
    case CertRole::kMonitor:
      return "monitor";
  }
  return "user";
}

Result<CertRole> ParseRole(const std::string& name) {
  for (CertRole r : {CertRole::kAdmin, CertRole::kUser, CertRole::kNode, CertRole::kServer,
                     CertRole::kMonitor}) {
    if (name == RoleName(r)) return r;
  }
  return Status::InvalidArgument(
      "InvalidParameterValue", "unknown role '" + name + "' (admin, user, node, server, monitor)");
}

Result<CertificateAuthority> CertificateAuthority::Create(const std::string& common_name) {
  if (common_name.empty())
    return Status::InvalidArgument("InvalidParameterValue", "CA common name is empty");
  VBS_ASSIGN_OR_RETURN(PKeyPtr key, NewEcKey());
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return SslFailure("X509_new");
  VBS_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  VBS_RETURN_IF_ERROR(SetValidity(cert.get(), 3653));
  X509_NAME* name = X509_get_subject_name(cert.get());
  VBS_RETURN_IF_ERROR(AddNameEntry(name, "CN", common_name));
  if (X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), key.get()) != 1)
    return SslFailure("cannot set CA names");
  VBS_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  VBS_RETURN_IF_ERROR(
      AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  VBS_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return SslFailure("cannot sign CA");
  CertificateAuthority ca;
  VBS_ASSIGN_OR_RETURN(ca.cert_pem_, CertToPem(cert.get()));
  VBS_ASSIGN_OR_RETURN(ca.key_pem_, KeyToPem(key.get()));
  return ca;
}

Result<CertificateAuthority> CertificateAuthority::Load(const std::string& cert_file,
                                                        const std::string& key_file) {
  CertificateAuthority ca;
  VBS_ASSIGN_OR_RETURN(ca.cert_pem_, ReadFile(cert_file));
  VBS_ASSIGN_OR_RETURN(ca.key_pem_, ReadFile(key_file));
  VBS_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(ca.cert_pem_));
  VBS_ASSIGN_OR_RETURN(PKeyPtr key, KeyFromPem(ca.key_pem_));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("InvalidKey",
                                   key_file + " is not the private key of " + cert_file);
  }
  if (X509_check_ca(cert.get()) != 1) {
    return Status::InvalidArgument("InvalidCertificate", cert_file + " is not a CA certificate");
  }
  return ca;
}

Status CertificateAuthority::Save(const std::string& cert_file, const std::string& key_file) const {
  // Key first: a crash in between leaves no certificate pointing at a missing key.
  VBS_RETURN_IF_ERROR(WriteFileAtomic(key_file, key_pem_, 0600));
  return WriteFileAtomic(cert_file, cert_pem_, 0644);
}

Result<IssuedCert> CertificateAuthority::Issue(const std::string& common_name, CertRole role,
                                               const std::vector<std::string>& san,
                                               int days) const {
  if (common_name.empty())
    return Status::InvalidArgument("InvalidParameterValue", "certificate common name is empty");
  VBS_ASSIGN_OR_RETURN(X509Ptr ca_cert, CertFromPem(cert_pem_));
  VBS_ASSIGN_OR_RETURN(PKeyPtr ca_key, KeyFromPem(key_pem_));
  VBS_ASSIGN_OR_RETURN(PKeyPtr key, NewEcKey());

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return SslFailure("X509_new");
  VBS_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  VBS_RETURN_IF_ERROR(SetValidity(cert.get(), days));
  X509_NAME* name = X509_get_subject_name(cert.get());
  VBS_RETURN_IF_ERROR(AddNameEntry(name, "OU", RoleName(role)));
  VBS_RETURN_IF_ERROR(AddNameEntry(name, "CN", common_name));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1)
    return SslFailure("cannot set certificate names");

  X509* c = cert.get();
  X509* ca = ca_cert.get();
  VBS_RETURN_IF_ERROR(AddExt(c, ca, NID_basic_constraints, "critical,CA:FALSE"));
  VBS_RETURN_IF_ERROR(AddExt(c, ca, NID_key_usage, "critical,digitalSignature,keyAgreement"));
  // A server certificate without SANs would fail every hostname check, so default to its CN.
  std::vector<std::string> names = san;
  if (role == CertRole::kServer && names.empty()) names.push_back(common_name);
  const char* eku = "clientAuth";
  if (role == CertRole::kServer) {
    eku = "serverAuth";
  } else if (role == CertRole::kNode && !names.empty()) {
    // A node that lists SANs also serves TLS (NBD over TCP) under its own certificate.
    eku = "serverAuth,clientAuth";
  } else if (!names.empty()) {
    return Status::InvalidArgument("InvalidParameterValue",
                                   "subjectAltNames only apply to server and node certificates");
  }
  VBS_RETURN_IF_ERROR(AddExt(c, ca, NID_ext_key_usage, eku));
  if (!names.empty()) VBS_RETURN_IF_ERROR(AddSubjectAltNames(c, names));
  VBS_RETURN_IF_ERROR(AddExt(c, ca, NID_subject_key_identifier, "hash"));
  VBS_RETURN_IF_ERROR(AddExt(c, ca, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(c, ca_key.get(), EVP_sha256()) <= 0) return SslFailure("cannot sign certificate");

  IssuedCert out;
  VBS_ASSIGN_OR_RETURN(out.cert_pem, CertToPem(c));
  VBS_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

Result<CertIdentity> IdentityFromX509(const void* x509) {
  if (x509 == nullptr) return Status::Unauthenticated("AuthFailure", "no client certificate");
  // X509_get_subject_name takes const X509* in OpenSSL 3.
  X509_NAME* name = X509_get_subject_name(static_cast<const X509*>(x509));
  if (name == nullptr) return Status::Unauthenticated("AuthFailure", "certificate has no subject");
  CertIdentity id;
  VBS_ASSIGN_OR_RETURN(id.common_name, NameEntry(name, NID_commonName, "CN"));
  VBS_ASSIGN_OR_RETURN(std::string ou, NameEntry(name, NID_organizationalUnitName, "OU (role)"));
  Result<CertRole> role = ParseRole(ou);
  if (!role.ok()) {
    return Status::Unauthenticated("AuthFailure", "certificate OU '" + ou + "' is not a VBS role");
  }
  id.role = *role;
  const X509* cert = static_cast<const X509*>(x509);
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  char* hex = serial ? BN_bn2hex(serial.get()) : nullptr;
  if (hex == nullptr) return Status::Unauthenticated("AuthFailure", "certificate has no serial");
  id.serial = hex;
  OPENSSL_free(hex);
  for (char& ch : id.serial) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  struct tm not_before = {}, not_after = {};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &not_before) != 1 ||
      ASN1_TIME_to_tm(X509_get0_notAfter(cert), &not_after) != 1) {
    return Status::Unauthenticated("AuthFailure", "certificate validity cannot be read");
  }
  id.issued_at = static_cast<int64_t>(timegm(&not_before)) + kBackdateSeconds;
  id.expires_at = static_cast<int64_t>(timegm(&not_after));
  return id;
}

Result<CertIdentity> IdentityFromPem(const std::string& cert_pem) {
  VBS_ASSIGN_OR_RETURN(X509Ptr cert, CertFromPem(cert_pem));
  return IdentityFromX509(cert.get());
}

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode) {
  std::string tmpl = path + ".tmp.XXXXXX";
  // mkstemp creates the file 0600, so a secret is never readable by others, not even briefly.
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return Status::FromErrno("create temp file for " + path, errno);
  auto fail = [&](const std::string& what) {
    int err = errno;
    close(fd);
    unlink(tmpl.c_str());
    return Status::FromErrno(what + " " + path, err);
  };
  if (fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("chmod");
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("fsync");
  if (close(fd) != 0) {
    int err = errno;
    unlink(tmpl.c_str());
    return Status::FromErrno("close " + path, err);
  }
  if (rename(tmpl.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmpl.c_str());
    return Status::FromErrno("rename to " + path, err);
  }
  // Make the rename itself durable.
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash + 1);
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("FileNotFound", path + ": no such file");
    return Status::FromErrno("open " + path, err);
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Status::FromErrno("read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace vbs
