// Writing a new user's credentials (vbs admin user create) to disk, safely.
//
// NAME.crt, NAME.key and ca.crt go into one directory, and NAME.aws-credentials (mode 0600,
// the aws CLI's credentials-file format, profile [default]) holds the EC2 access key. Existing
// files are never overwritten unless `force` (checked before the server is asked to create the
// user, so a refusal costs nothing); an existing ca.crt is fine when it already holds the same CA,
// so several users can be enrolled into one directory. Each file is written to a temporary name and
// then linked (or, with force, renamed) into place, so a crash never leaves half a key; the key is
// created with mode 0600 from the start.
#pragma once

#include <string>

#include "common/status.h"

namespace vbs::cli {

struct CredentialPaths {
  std::string dir;  // absolute
  std::string cert;
  std::string key;
  std::string ca;
  std::string aws;  // NAME.aws-credentials
};

// Validates the name (it becomes a file name), resolves the directory (creating it, mode
// 0700, when missing) and checks that the files may be written. `expected_ca_pem` is the CA the
// caller trusts (its --ca file): an existing ca.crt with that content is not a conflict.
Result<CredentialPaths> PlanCredentialFiles(const std::string& dir, const std::string& name,
                                            bool force, const std::string& expected_ca_pem);

Status WriteCredentialFiles(const CredentialPaths& paths, const std::string& cert_pem,
                            const std::string& key_pem, const std::string& ca_pem, bool force);

// The EC2 access key as an aws credentials file: use it with
// AWS_SHARED_CREDENTIALS_FILE=<paths.aws>. Mode 0600 from the start: the secret is in it.
Status WriteAwsCredentialsFile(const CredentialPaths& paths, const std::string& access_key_id,
                               const std::string& secret, bool force);

// The whole file (for comparing CA certificates).
Result<std::string> ReadWholeFile(const std::string& path);

// `s` quoted for a POSIX shell when it needs to be ("export VBS_CA=...").
std::string ShellQuote(const std::string& s);

}  // namespace vbs::cli
