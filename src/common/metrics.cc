#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace vbs {
namespace {

// Label values escape backslash, double quote and newline (the text format's rules).
std::string Escaped(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra_name = "", const std::string& extra_value = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + Escaped(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += (out.empty() ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
  }
  return out.empty() ? out : "{" + out + "}";
}

// Numbers as Prometheus reads them: integers without a fraction, +Inf, shortest round trip.
std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double seconds) {
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), seconds);
  buckets_[static_cast<size_t>(it - bounds_->begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (seconds > 0) {
    sum_ns_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e9)),
                      std::memory_order_relaxed);
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.buckets.resize(bounds_->size() + 1);
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  s.count = count_.load(std::memory_order_relaxed);
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                              0.5,     1,      2.5,     5,      10};
  return kBounds;
}

void MetricsWriter::Begin(const std::string& name, const std::string& help, MetricType type) {
  out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + TypeName(type) + "\n";
}

void MetricsWriter::Sample(const std::string& name, const std::vector<std::string>& label_names,
                           const std::vector<std::string>& values, double value) {
  out_ += name + Labels(label_names, values) + " " + Number(value) + "\n";
}

void MetricsWriter::Histogram(const std::string& name, const std::vector<std::string>& label_names,
                              const std::vector<std::string>& values,
                              const std::vector<double>& bounds, const Histogram::Snapshot& s) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += s.buckets[i];
    out_ += name + "_bucket" + Labels(label_names, values, "le", Number(bounds[i])) + " " +
            std::to_string(cumulative) + "\n";
  }
  out_ += name + "_bucket" + Labels(label_names, values, "le", "+Inf") + " " +
          std::to_string(s.count) + "\n";
  out_ += name + "_sum" + Labels(label_names, values) + " " + Number(s.sum) + "\n";
  out_ += name + "_count" + Labels(label_names, values) + " " + std::to_string(s.count) + "\n";
}

Family<Counter>& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                             std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  counters_.push_back(std::make_unique<Family<Counter>>(name, help, std::move(label_names)));
  return *counters_.back();
}

Family<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                         std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(label_names)));
  return *gauges_.back();
}

Family<vbs::Histogram>& MetricsRegistry::AddHistogram(const std::string& name,
                                                      const std::string& help,
                                                      std::vector<std::string> label_names,
                                                      const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(
      std::make_unique<Family<vbs::Histogram>>(name, help, std::move(label_names), bounds));
  return *histograms_.back();
}

void MetricsRegistry::AddCollector(std::function<void(MetricsWriter&)> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mu_);
  MetricsWriter w;
  for (const auto& f : counters_) {
    w.Begin(f->name(), f->help(), MetricType::kCounter);
    f->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
      w.Sample(f->name(), f->label_names(), values, static_cast<double>(c.value()));
    });
  }
  for (const auto& f : gauges_) {
    w.Begin(f->name(), f->help(), MetricType::kGauge);
    f->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
      w.Sample(f->name(), f->label_names(), values, static_cast<double>(g.value()));
    });
  }
  for (const auto& f : histograms_) {
    w.Begin(f->name(), f->help(), MetricType::kHistogram);
    f->ForEach([&](const std::vector<std::string>& values, const vbs::Histogram& h) {
      w.Histogram(f->name(), f->label_names(), values, f->bounds(), h.Read());
    });
  }
  for (const auto& fn : collectors_) fn(w);
  return w.text();
}

}  // namespace vbs
