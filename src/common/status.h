// Status and Result<T>: how errors cross module boundaries (no exceptions across modules).
//
// A Status carries a kind (what went wrong, which decides the HTTP status), an error code
// shared by the REST and EC2 faces (e.g. "InvalidVolume.NotFound", "InsufficientVolumeCapacity")
// and a human message. Result<T> is either a value or a non-OK Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace vbs {

enum class StatusKind {
  kOk,
  kInvalidArgument,     // malformed input: 400
  kUnauthenticated,     // no or bad credentials: 401
  kPermissionDenied,    // authenticated but not allowed: 403
  kNotFound,            // 404
  kConflict,            // wrong state for the operation: 409
  kAlreadyExists,       // 409
  kInsufficientCapacity,  // 409 (EC2 answers 500-ish; we answer 409 on the native face)
  kMethodNotAllowed,    // 405
  kPayloadTooLarge,     // 413
  kUnsupportedMediaType,  // 415
  kUnavailable,         // try again later: 503
  kIoError,             // storage failed: 500
  kInternal,            // bug: 500
};

class Status {
 public:
  Status() = default;  // OK
  Status(StatusKind kind, std::string code, std::string message)
      : kind_(kind), code_(std::move(code)), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string code, std::string msg) {
    return {StatusKind::kInvalidArgument, std::move(code), std::move(msg)};
  }
  static Status NotFound(std::string code, std::string msg) {
    return {StatusKind::kNotFound, std::move(code), std::move(msg)};
  }
  static Status Conflict(std::string code, std::string msg) {
    return {StatusKind::kConflict, std::move(code), std::move(msg)};
  }
  static Status AlreadyExists(std::string code, std::string msg) {
    return {StatusKind::kAlreadyExists, std::move(code), std::move(msg)};
  }
  static Status PermissionDenied(std::string code, std::string msg) {
    return {StatusKind::kPermissionDenied, std::move(code), std::move(msg)};
  }
  static Status Unauthenticated(std::string code, std::string msg) {
    return {StatusKind::kUnauthenticated, std::move(code), std::move(msg)};
  }
  static Status Unavailable(std::string msg) {
    return {StatusKind::kUnavailable, "ServiceUnavailable", std::move(msg)};
  }
  static Status IoError(std::string msg) {
    return {StatusKind::kIoError, "IoError", std::move(msg)};
  }
  static Status Internal(std::string msg) {
    return {StatusKind::kInternal, "InternalError", std::move(msg)};
  }
  // errno-based I/O failure: "what: strerror(err)".
  static Status FromErrno(const std::string& what, int err);

  bool ok() const { return kind_ == StatusKind::kOk; }
  StatusKind kind() const { return kind_; }
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;  // "code: message" or "OK"

 private:
  StatusKind kind_ = StatusKind::kOk;
  std::string code_;
  std::string message_;
};

// HTTP status that a StatusKind maps to (shared by both API faces).
int HttpStatusFor(StatusKind kind);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace vbs

// Return early from a function returning Status or Result<T> when `expr` fails.
#define VBS_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::vbs::Status _vbs_st = (expr);            \
    if (!_vbs_st.ok()) return _vbs_st;         \
  } while (0)

#define VBS_CONCAT_INNER(a, b) a##b
#define VBS_CONCAT(a, b) VBS_CONCAT_INNER(a, b)
// Declare `lhs` from a Result<T> expression, or return its Status.
#define VBS_ASSIGN_OR_RETURN(lhs, expr) \
  VBS_ASSIGN_OR_RETURN_IMPL(VBS_CONCAT(_vbs_res_, __LINE__), lhs, expr)
#define VBS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
