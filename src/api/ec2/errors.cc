#include "api/ec2/errors.h"

#include "api/ec2/xml_writer.h"
#include "common/ids.h"

namespace vbs::ec2 {

int Ec2HttpStatus(const Status& s) {
  const std::string& code = s.code();
  if (code == "DryRunOperation") return 412;
  if (code == "SignatureDoesNotMatch" || code == "UnauthorizedOperation") return 403;
  if (code == "InsufficientVolumeCapacity") return 503;
  switch (s.kind()) {
    case StatusKind::kOk:
      return 200;
    case StatusKind::kInvalidArgument:
    case StatusKind::kNotFound:
    case StatusKind::kConflict:
    case StatusKind::kAlreadyExists:
    case StatusKind::kMethodNotAllowed:
    case StatusKind::kUnsupportedMediaType:
      return 400;
    case StatusKind::kInsufficientCapacity:
      return 503;
    case StatusKind::kUnauthenticated:
      return 401;
    case StatusKind::kPermissionDenied:
      return 403;
    case StatusKind::kPayloadTooLarge:
      return 413;
    case StatusKind::kUnavailable:
      return 503;
    case StatusKind::kIoError:
    case StatusKind::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse XmlResponse(int status, std::string body, const std::string& request_id) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/xml;charset=UTF-8";
  r.body = std::move(body);
  r.headers.emplace_back("x-amzn-RequestId", request_id);
  return r;
}

HttpResponse Ec2ErrorResponse(const Status& status, const std::string& request_id) {
  XmlWriter x("Response", false);
  x.Open("Errors").Open("Error");
  // Internal details stay in the server's log; the client gets the code and a message.
  x.Text("Code", status.code().empty() ? "InternalError" : status.code());
  x.Text("Message", status.message());
  x.Close().Close();
  x.Text("RequestID", request_id);
  return XmlResponse(Ec2HttpStatus(status), x.Finish(), request_id);
}

Status DryRunAnswer(const Status& check) {
  if (check.ok()) {
    return Status::InvalidArgument("DryRunOperation",
                                   "Request would have succeeded, but DryRun flag is set.");
  }
  if (check.kind() == StatusKind::kNotFound || check.kind() == StatusKind::kPermissionDenied) {
    return Status::PermissionDenied(
        "UnauthorizedOperation",
        "You are not authorized to perform this operation. (" + check.message() + ")");
  }
  return check;
}

}  // namespace vbs::ec2
