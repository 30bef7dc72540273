#include "common/status.h"

#include <cstring>

namespace vbs {

Status Status::FromErrno(const std::string& what, int err) {
  return IoError(what + ": " + std::strerror(err));
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return code_ + ": " + message_;
}

int HttpStatusFor(StatusKind kind) {
  switch (kind) {
    case StatusKind::kOk: return 200;
    case StatusKind::kInvalidArgument: return 400;
    case StatusKind::kUnauthenticated: return 401;
    case StatusKind::kPermissionDenied: return 403;
    case StatusKind::kNotFound: return 404;
    case StatusKind::kConflict: return 409;
    case StatusKind::kAlreadyExists: return 409;
    case StatusKind::kInsufficientCapacity: return 409;
    case StatusKind::kMethodNotAllowed: return 405;
    case StatusKind::kPayloadTooLarge: return 413;
    case StatusKind::kUnsupportedMediaType: return 415;
    case StatusKind::kUnavailable: return 503;
    case StatusKind::kIoError: return 500;
    case StatusKind::kInternal: return 500;
  }
  return 500;
}

}  // namespace vbs
