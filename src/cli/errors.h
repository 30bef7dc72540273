// How the vbs CLI reports failures: exit codes and the one-line message on stderr.
//
// Exit codes (stable, scripts rely on them):
//   0 ok; 1 the server answered with an error (4xx/5xx); 2 usage error (bad arguments,
//   missing endpoint or credentials); 3 cannot reach the server / TLS failure;
//   4 a --wait timed out or the object ended in state `error`.
// Errors that the CLI itself produces carry a code in the "vbs." namespace so they can never
// be confused with a code the server sent; server codes are printed as "error: CODE: message",
// local ones as "error: message".
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace vbs::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitServerError = 1,
  kExitUsage = 2,
  kExitUnreachable = 3,
  kExitWaitFailed = 4,
};

inline constexpr std::string_view kCodeUsage = "vbs.UsageError";
inline constexpr std::string_view kCodeUnreachable = "vbs.ConnectionFailed";
inline constexpr std::string_view kCodeWaitTimedOut = "vbs.WaitTimedOut";
inline constexpr std::string_view kCodeEndedInError = "vbs.EndedInError";
inline constexpr std::string_view kCodeBadResponse = "vbs.BadResponse";

Status UsageError(std::string message);
Status UnreachableError(std::string message);
Status WaitTimedOutError(std::string message);
Status EndedInError(std::string message);
Status BadResponseError(std::string message);

int ExitCodeFor(const Status& status);

// "error: CODE: message" for server errors, "error: message" for local ones (no newline).
std::string FormatError(const Status& status);

// Turns a non-2xx HTTP answer into a Status carrying the server's code and message; a body
// that is not the documented {"error":{...}} shape still gives a useful message.
Status StatusFromHttpError(int http_status, std::string_view body);

}  // namespace vbs::cli
