// Metrics: counters, gauges and histograms for Prometheus (its text exposition format 0.0.4).
//
// The hot paths (an NBD request, an API call) touch only atomics: a labelled series is looked
// up once (Family::With, under a mutex) and then updated with relaxed atomic adds. Values that
// are state rather than events (pool capacity, the age of the oldest pending operation, a
// node's heartbeat age) are read at scrape time by collectors. Names follow Prometheus'
// conventions (base units, `_total` for counters, `_seconds`, `_bytes`); label values are ids
// and fixed words, never what users typed, so that label sets stay bounded.
// Debian 12 packages no C++ Prometheus client, hence this file (docs/decisions.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

namespace vbs {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations in seconds, counted into fixed upper bounds (cumulative when rendered).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double seconds);
  struct Snapshot {
    std::vector<uint64_t> buckets;  // per bound, not cumulative; last: above every bound
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};  // nanoseconds: integral, so adds stay atomic
};

// Latency buckets from 50 µs (an NBD read from the page cache) to 10 s (a stuck backend).
const std::vector<double>& LatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric name with its label names; a series per distinct label values.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}
  // The series for `values` (as many as label names), made on first use. The reference stays
  // valid until Remove(values) or the family's end.
  T& With(const std::vector<std::string>& values);
  // Forgets a series (e.g. a volume deleted): it is no longer rendered.
  void Remove(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }
  // Calls fn(values, series) for each series in label order, under the family's lock.
  template <typename Fn>
  void ForEach(Fn fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [values, series] : series_) fn(values, *series);
  }

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
};

template <typename T>
T& Family<T>::With(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  auto& slot = series_[values];
  if (!slot) {
    if constexpr (std::is_same_v<T, Histogram>) {
      slot = std::make_unique<T>(&bounds_);
    } else {
      slot = std::make_unique<T>();
    }
  }
  return *slot;
}

template <typename T>
void Family<T>::Remove(const std::vector<std::string>& values) {
  std::lock_guard lock(mu_);
  series_.erase(values);
}

// Writes metrics in the text format: what collectors produce at scrape time.
class MetricsWriter {
 public:
  // One metric's header; then its samples.
  void Begin(const std::string& name, const std::string& help, MetricType type);
  void Sample(const std::string& name, const std::vector<std::string>& label_names,
              const std::vector<std::string>& values, double value);
  void Histogram(const std::string& name, const std::vector<std::string>& label_names,
                 const std::vector<std::string>& values, const std::vector<double>& bounds,
                 const Histogram::Snapshot& s);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// All of a process's metrics. Families live as long as the registry.
class MetricsRegistry {
 public:
  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<vbs::Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names = {},
                                       const std::vector<double>& bounds = LatencyBuckets());
  // fn writes metrics computed at scrape time (it calls Begin and Sample).
  void AddCollector(std::function<void(MetricsWriter&)> fn);
  // The whole exposition, text format 0.0.4.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<vbs::Histogram>>> histograms_;
  std::vector<std::function<void(MetricsWriter&)>> collectors_;
};

// The content type of Render()'s text.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace vbs
