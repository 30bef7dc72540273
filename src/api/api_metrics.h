// ApiMetrics: the API's requests by face (rest, ec2), action and HTTP status, and their
// latency, for the server's /metrics. Actions are route patterns ("GET /v1/volumes/{id}") or
// EC2 action names the API knows, so the label set stays bounded whatever clients send.
#pragma once

#include <string>

#include "common/metrics.h"

namespace vbs {

class ApiMetrics {
 public:
  explicit ApiMetrics(MetricsRegistry& registry);
  void Record(const std::string& face, const std::string& action, int status, double seconds);

 private:
  Family<Counter>& requests_;
  Family<Histogram>& latency_;
};

}  // namespace vbs
