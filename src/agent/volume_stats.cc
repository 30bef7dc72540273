#include "agent/volume_stats.h"

namespace vbs {

std::shared_ptr<nbd::ExportStats> VolumeStats::For(const std::string& volume_id) {
  std::lock_guard lock(mu_);
  auto& s = volumes_[volume_id];
  if (!s) s = std::make_shared<nbd::ExportStats>();
  return s;
}

void VolumeStats::Forget(const std::string& volume_id) {
  std::lock_guard lock(mu_);
  volumes_.erase(volume_id);
}

void VolumeStats::Write(MetricsWriter& w) const {
  std::map<std::string, std::shared_ptr<nbd::ExportStats>> volumes;
  {
    std::lock_guard lock(mu_);
    volumes = volumes_;
  }
  const std::vector<std::string> vn = {"volume", "node"};
  const std::vector<std::string> vno = {"volume", "node", "op"};
  // Every op of every volume, through `value`.
  auto per_op = [&](const char* name, const char* help, MetricType type, auto value) {
    w.Begin(name, help, type);
    for (const auto& [id, s] : volumes) {
      for (const nbd::ExportStats::Op* op :
           {&s->read, &s->write, &s->flush, &s->trim, &s->zero, &s->other}) {
        value(name, std::vector<std::string>{id, node_, nbd::ExportStats::OpName(*op, *s)}, *op);
      }
    }
  };
  per_op("vbs_volume_operations_total", "NBD requests answered.", MetricType::kCounter,
         [&](const char* n, const auto& l, const nbd::ExportStats::Op& op) {
           w.Sample(n, vno, l, static_cast<double>(op.requests.value()));
         });
  per_op("vbs_volume_operation_errors_total", "NBD requests answered with an error.",
         MetricType::kCounter, [&](const char* n, const auto& l, const nbd::ExportStats::Op& op) {
           w.Sample(n, vno, l, static_cast<double>(op.errors.value()));
         });
  per_op("vbs_volume_bytes_total", "Bytes read or written (trims and zeroes: their range).",
         MetricType::kCounter, [&](const char* n, const auto& l, const nbd::ExportStats::Op& op) {
           w.Sample(n, vno, l, static_cast<double>(op.bytes.value()));
         });
  per_op("vbs_volume_operation_duration_seconds",
         "Time from an NBD request's arrival to its answer.", MetricType::kHistogram,
         [&](const char* n, const auto& l, const nbd::ExportStats::Op& op) {
           w.Histogram(n, vno, l, LatencyBuckets(), op.latency.Read());
         });
  w.Begin("vbs_volume_operations_in_flight", "NBD requests received and not yet answered.",
          MetricType::kGauge);
  for (const auto& [id, s] : volumes) {
    w.Sample("vbs_volume_operations_in_flight", vn, {id, node_},
             static_cast<double>(s->in_flight.value()));
  }
  w.Begin("vbs_volume_throttled_seconds_total",
          "Time requests waited for the volume's IOPS and throughput limits.",
          MetricType::kCounter);
  for (const auto& [id, s] : volumes) {
    w.Sample("vbs_volume_throttled_seconds_total", vn, {id, node_},
             static_cast<double>(s->throttled_ns.value()) / 1e9);
  }
  w.Begin("vbs_nbd_connections", "NBD clients connected, past the handshake.", MetricType::kGauge);
  for (const auto& [id, s] : volumes) {
    w.Sample("vbs_nbd_connections", vn, {id, node_}, static_cast<double>(s->connections.value()));
  }
}

}  // namespace vbs
