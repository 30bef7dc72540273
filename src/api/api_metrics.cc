#include "api/api_metrics.h"

namespace vbs {

ApiMetrics::ApiMetrics(MetricsRegistry& registry)
    : requests_(registry.AddCounter("vbs_api_requests_total",
                                    "API requests answered, by face, action and HTTP status.",
                                    {"face", "action", "code"})),
      latency_(registry.AddHistogram("vbs_api_request_duration_seconds",
                                     "Time to answer an API request.", {"face", "action"})) {}

void ApiMetrics::Record(const std::string& face, const std::string& action, int status,
                        double seconds) {
  requests_.With({face, action, std::to_string(status)}).Add();
  latency_.With({face, action}).Observe(seconds);
}

}  // namespace vbs
