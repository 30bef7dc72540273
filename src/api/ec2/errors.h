// The EC2 error envelope (reference/ec2-ebs-api.md §6): the HTTP status for a Status on this
// face, and <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
// Unlike the REST face, EC2 answers lookups and state conflicts with 400, DryRun with 412 and
// a full pool with a 5xx (botocore retries it).
#pragma once

#include <string>

#include "api/http_server.h"
#include "common/status.h"

namespace vbs::ec2 {

int Ec2HttpStatus(const Status& status);
HttpResponse Ec2ErrorResponse(const Status& status, const std::string& request_id);
HttpResponse XmlResponse(int status, std::string body, const std::string& request_id);

// "DryRunOperation" (412) when `check` passed; UnauthorizedOperation (403) when the caller
// may not act on what it named (missing and other users' objects alike); else `check`.
Status DryRunAnswer(const Status& check);

}  // namespace vbs::ec2
