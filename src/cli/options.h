// Global options of the vbs CLI and how they resolve into Settings.
//
// Each option can come from the command line or from the environment; the command line wins:
//   --endpoint URL   VBS_ENDPOINT  repeatable and/or comma-separated; tried in order (failover)
//   --ca FILE        VBS_CA        CA certificate the server's certificate must chain to
//   --cert FILE      VBS_CERT      client certificate (identifies the user)
//   --key FILE       VBS_KEY       its private key
//   --output FORMAT  VBS_OUTPUT    table (default) | json
//   --timeout SECS                 per request (capped at 30 s) and for --wait (default 600 s)
// Resolution is pure (the environment is a lookup function) so it is unit-tested; a missing
// value yields a usage error naming both the option and the variable to set.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vbs::cli {

enum class OutputFormat { kTable, kJson };

// Raw values as CLI11 parsed them; empty / zero means "not given".
struct GlobalFlags {
  std::vector<std::string> endpoints;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string output;
  double timeout_seconds = 0;
};

struct Settings {
  std::vector<std::string> endpoints;  // normalized "https://host[:port]"
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  OutputFormat output = OutputFormat::kTable;
  std::optional<std::chrono::milliseconds> timeout;

  std::chrono::milliseconds RequestTimeout() const;  // min(--timeout, 30 s)
  std::chrono::milliseconds WaitTimeout() const;     // --timeout, or 600 s
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The real process environment; unset and empty variables both read as "not set".
EnvLookup ProcessEnv();

// Output format alone: needed to print even when the rest cannot be resolved.
Result<OutputFormat> ResolveOutput(const GlobalFlags& flags, const EnvLookup& env);

// Everything needed to call the server.
Result<Settings> ResolveSettings(const GlobalFlags& flags, const EnvLookup& env);

// Splits comma-separated entries, trims blanks, adds "https://" when no scheme is given,
// drops a trailing '/', and rejects http:// (the API is HTTPS only) and anything with a path.
Result<std::vector<std::string>> NormalizeEndpoints(const std::vector<std::string>& raw);

// Each file must exist and be readable; the message names the option that pointed at it.
Status CheckCredentialFiles(const Settings& settings);

}  // namespace vbs::cli
