// The text exposition as Prometheus reads it: headers, label escaping, cumulative buckets,
// and counters that lose nothing under concurrent adds.
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace vbs {
namespace {

TEST(Metrics, CountersAndGaugesRenderWithTheirLabels) {
  MetricsRegistry r;
  auto& bytes =
      r.AddCounter("vbs_nbd_written_bytes_total", "Bytes written through NBD.", {"volume", "node"});
  auto& up = r.AddGauge("vbs_nbd_connections", "Open NBD connections.");
  bytes.With({"vol-2", "n1"}).Add(4096);
  bytes.With({"vol-1", "n1"}).Add(512);
  bytes.With({"vol-1", "n1"}).Add(512);
  up.With({}).Set(3);
  EXPECT_EQ(r.Render(),
            "# HELP vbs_nbd_written_bytes_total Bytes written through NBD.\n"
            "# TYPE vbs_nbd_written_bytes_total counter\n"
            "vbs_nbd_written_bytes_total{volume=\"vol-1\",node=\"n1\"} 1024\n"
            "vbs_nbd_written_bytes_total{volume=\"vol-2\",node=\"n1\"} 4096\n"
            "# HELP vbs_nbd_connections Open NBD connections.\n"
            "# TYPE vbs_nbd_connections gauge\n"
            "vbs_nbd_connections 3\n");
  bytes.Remove({"vol-2", "n1"});
  EXPECT_EQ(r.Render().find("vol-2"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
  MetricsRegistry r;
  r.AddCounter("x_total", "X.", {"v"}).With({"a\"b\\c\nd"}).Add();
  EXPECT_NE(r.Render().find("x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << r.Render();
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry r;
  auto& h =
      r.AddHistogram("vbs_request_duration_seconds", "Request latency.", {"op"}, {0.001, 0.01});
  auto& reads = h.With({"read"});
  reads.Observe(0.0005);
  reads.Observe(0.001);  // on a bound: counted in it (le)
  reads.Observe(0.005);
  reads.Observe(3);
  EXPECT_EQ(r.Render(),
            "# HELP vbs_request_duration_seconds Request latency.\n"
            "# TYPE vbs_request_duration_seconds histogram\n"
            "vbs_request_duration_seconds_bucket{op=\"read\",le=\"0.001\"} 2\n"
            "vbs_request_duration_seconds_bucket{op=\"read\",le=\"0.01\"} 3\n"
            "vbs_request_duration_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
            "vbs_request_duration_seconds_sum{op=\"read\"} 3.0065\n"
            "vbs_request_duration_seconds_count{op=\"read\"} 4\n");
}

TEST(Metrics, CollectorsWriteAtScrapeTime) {
  MetricsRegistry r;
  int scrapes = 0;
  r.AddCollector([&](MetricsWriter& w) {
    ++scrapes;
    w.Begin("vbs_pool_capacity_bytes", "Provisionable bytes.", MetricType::kGauge);
    w.Sample("vbs_pool_capacity_bytes", {"pool"}, {"default"}, 1099511627776.0);
  });
  const std::string text = r.Render();
  EXPECT_EQ(scrapes, 1);
  EXPECT_NE(text.find("vbs_pool_capacity_bytes{pool=\"default\"} 1099511627776\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, ConcurrentAddsLoseNothing) {
  MetricsRegistry r;
  auto& c = r.AddCounter("ops_total", "Ops.", {"kind"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Counter& mine = c.With({"read"});
      for (int i = 0; i < 100000; ++i) mine.Add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.With({"read"}).value(), 400000u);
}

}  // namespace
}  // namespace vbs
