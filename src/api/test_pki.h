// Test helper: a throwaway deployment PKI in a temporary directory.
//   ca.crt/ca.key, server.crt/key (SANs 127.0.0.1, ::1, localhost), alice.crt/key (user),
//   root.crt/key (admin), node1.crt/key (node), other_ca.crt, mallory.crt/key (user, signed by the
//   other CA).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "auth/pki.h"

namespace vbs {

class TestPki {
 public:
  TestPki() = default;
  TestPki(const TestPki&) = delete;
  ~TestPki() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  bool Init() {
    std::string tmpl = std::filesystem::temp_directory_path().string() + "/vbs_pki.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return false;
    dir_ = tmpl;
    auto ca = CertificateAuthority::Create("VBS test CA");
    auto other = CertificateAuthority::Create("Other CA");
    if (!ca.ok() || !other.ok()) return false;
    if (!ca->Save(Path("ca.crt"), Path("ca.key")).ok()) return false;
    if (!other->Save(Path("other_ca.crt"), Path("other_ca.key")).ok()) return false;
    return Issue(*ca, "server", "vbs-server", CertRole::kServer,
                 {"127.0.0.1", "::1", "localhost"}) &&
           Issue(*ca, "alice", "alice", CertRole::kUser) &&
           Issue(*ca, "root", "root", CertRole::kAdmin) &&
           Issue(*ca, "node1", "node1", CertRole::kNode) &&
           Issue(*other, "mallory", "mallory", CertRole::kUser);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  bool Issue(const CertificateAuthority& ca, const std::string& file, const std::string& cn,
             CertRole role, const std::vector<std::string>& san = {}) {
    auto c = ca.Issue(cn, role, san);
    return c.ok() && WriteFileAtomic(Path(file + ".crt"), c->cert_pem, 0644).ok() &&
           WriteFileAtomic(Path(file + ".key"), c->key_pem, 0600).ok();
  }
  std::string dir_;
};

}  // namespace vbs
