#include "auth/deployment_pki.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>

namespace vbs {
namespace {

bool Exists(const std::string& p) {
  return std::filesystem::exists(p);
}

std::string SanList(const std::vector<std::string>& san) {
  std::string out;
  for (const auto& name : san) out += name + "\n";
  return out;
}

}  // namespace

Result<std::optional<CertificateAuthority>> DeploymentPki::LoadCa() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::IoError("cannot create " + dir_ + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
  const std::string crt = dir_ + "/ca.crt", key = dir_ + "/ca.key";
  if (Exists(crt) && Exists(key)) {
    VBS_ASSIGN_OR_RETURN(auto loaded, CertificateAuthority::Load(crt, key));
    return std::optional<CertificateAuthority>(std::move(loaded));
  }
  if (Exists(crt)) return std::optional<CertificateAuthority>();  // the key is kept offline
  if (Exists(key)) {
    return Status::InvalidArgument("InvalidConfiguration",
                                   key + " exists without " + crt + ": restore the CA certificate");
  }
  VBS_ASSIGN_OR_RETURN(auto ca, CertificateAuthority::Create("VBS CA"));
  VBS_RETURN_IF_ERROR(ca.Save(crt, key));
  return std::optional<CertificateAuthority>(std::move(ca));
}

Result<CertificateAuthority> DeploymentPki::EnsureCa() {
  VBS_ASSIGN_OR_RETURN(auto ca, LoadCa());
  if (!ca) {
    return Status::InvalidArgument("CertificateAuthorityOffline",
                                   dir_ + " holds ca.crt but not ca.key: certificates are " +
                                       "issued where the CA key is kept (vbsd pki issue)");
  }
  return std::move(*ca);
}

Result<PkiPaths> DeploymentPki::Ensure(const std::string& stem, const std::string& cn,
                                       CertRole role, const std::vector<std::string>& san) {
  PkiPaths p{dir_ + "/ca.crt", dir_ + "/ca.key", dir_ + "/" + stem + ".crt",
             dir_ + "/" + stem + ".key"};
  const bool present = Exists(p.cert) && Exists(p.key);
  bool fresh = present;
  if (fresh && !san.empty()) {
    // Reissue when the server is now reached by names its certificate was not made for
    // (server.crt.san records them).
    auto marker = ReadFile(p.cert + ".san");
    if (!marker.ok() || *marker != SanList(san)) fresh = false;
  }
  if (fresh) return p;
  // The CA (and its key) is read only when something must be issued.
  VBS_ASSIGN_OR_RETURN(auto held, LoadCa());
  if (!held) {
    // Without the CA key the files are used as the operator made them (offline).
    if (present) return p;
    return Status::InvalidArgument(
        "CertificateAuthorityOffline",
        p.cert + " is missing and " + dir_ + " holds no ca.key to issue it: issue it where the " +
            "CA key is kept (vbsd pki issue --role " + RoleName(role) + " --name " + cn +
            (san.empty() ? std::string() : " --san NAMES") + ") and copy it here as " + stem +
            ".crt and " + stem + ".key");
  }
  CertificateAuthority& ca = *held;
  VBS_ASSIGN_OR_RETURN(auto issued, ca.Issue(cn, role, san));
  VBS_RETURN_IF_ERROR(WriteFileAtomic(p.key, issued.key_pem, 0600));
  VBS_RETURN_IF_ERROR(WriteFileAtomic(p.cert, issued.cert_pem, 0644));
  if (!san.empty()) VBS_RETURN_IF_ERROR(WriteFileAtomic(p.cert + ".san", SanList(san), 0644));
  return p;
}

Result<PkiPaths> DeploymentPki::EnsureServer(const std::vector<std::string>& san,
                                             const std::string& id) {
  if (id.empty()) return Ensure("server", "vbs-server", CertRole::kServer, san);
  return Ensure("server-" + id, "vbs-server-" + id, CertRole::kServer, san);
}

Result<PkiPaths> DeploymentPki::EnsureAdmin(const std::string& name) {
  return Ensure(name, name, CertRole::kAdmin, {});
}

Result<PkiPaths> DeploymentPki::EnsureNode(const std::string& node) {
  return Ensure("node-" + node, node, CertRole::kNode, {});
}

}  // namespace vbs
