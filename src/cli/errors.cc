#include "cli/errors.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace vbs::cli {
namespace {

StatusKind KindForHttp(int http_status) {
  switch (http_status) {
    case 400:
      return StatusKind::kInvalidArgument;
    case 401:
      return StatusKind::kUnauthenticated;
    case 403:
      return StatusKind::kPermissionDenied;
    case 404:
      return StatusKind::kNotFound;
    case 409:
      return StatusKind::kConflict;
    case 413:
      return StatusKind::kPayloadTooLarge;
    case 415:
      return StatusKind::kUnsupportedMediaType;
    case 503:
      return StatusKind::kUnavailable;
    default:
      return http_status >= 500 ? StatusKind::kInternal : StatusKind::kInvalidArgument;
  }
}

bool IsLocalCode(std::string_view code) {
  return code.starts_with("vbs.");
}

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Status UsageError(std::string message) {
  return {StatusKind::kInvalidArgument, std::string(kCodeUsage), std::move(message)};
}
Status UnreachableError(std::string message) {
  return {StatusKind::kUnavailable, std::string(kCodeUnreachable), std::move(message)};
}
Status WaitTimedOutError(std::string message) {
  return {StatusKind::kUnavailable, std::string(kCodeWaitTimedOut), std::move(message)};
}
Status EndedInError(std::string message) {
  return {StatusKind::kIoError, std::string(kCodeEndedInError), std::move(message)};
}
Status BadResponseError(std::string message) {
  return {StatusKind::kInternal, std::string(kCodeBadResponse), std::move(message)};
}

int ExitCodeFor(const Status& status) {
  if (status.ok()) return kExitOk;
  const std::string& code = status.code();
  if (code == kCodeUsage) return kExitUsage;
  if (code == kCodeUnreachable) return kExitUnreachable;
  if (code == kCodeWaitTimedOut || code == kCodeEndedInError) return kExitWaitFailed;
  return kExitServerError;  // anything the server said, and answers we could not understand
}

std::string FormatError(const Status& status) {
  if (IsLocalCode(status.code()) || status.code().empty()) {
    return fmt::format("error: {}", status.message());
  }
  return fmt::format("error: {}: {}", status.code(), status.message());
}

Status StatusFromHttpError(int http_status, std::string_view body) {
  StatusKind kind = KindForHttp(http_status);
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const auto& e = doc["error"];
    std::string code = StringField(e, "code");
    std::string message = StringField(e, "message");
    if (!code.empty()) {
      if (IsLocalCode(code)) code = "Server." + code;  // never let the server fake an exit code
      return {kind, std::move(code), message.empty() ? "(no message)" : std::move(message)};
    }
  }
  // Not our server's error shape (a proxy, a load balancer): show the start of the body.
  std::string snippet(body.substr(0, 200));
  for (char& c : snippet) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return {kind, fmt::format("HTTP{}", http_status),
          snippet.empty() ? "(empty response body)" : snippet};
}

}  // namespace vbs::cli
