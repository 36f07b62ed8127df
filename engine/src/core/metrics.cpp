#include "core/metrics.hpp"

#include <charconv>
#include <cmath>
#include <utility>

namespace carepath::metrics {
namespace {

std::string number(double value) {
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  if (std::isnan(value)) {
    return "NaN";
  }
  std::array<char, 32> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return {buffer.data(), result.ptr};
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// `{a="x",b="y"}`, with an extra label (the histogram's `le`) when given; "" for no labels.
std::string labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i];
    out += "=\"";
    out += escape_label_value(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  if (!out.empty()) {
    out += '}';
  }
  return out;
}

std::vector<std::string> key(const std::vector<std::string>& names,
                             std::initializer_list<std::string_view> values) {
  std::vector<std::string> out;
  out.reserve(names.size());
  auto it = values.begin();
  for (std::size_t i = 0; i < names.size(); ++i) {
    out.emplace_back(it != values.end() ? *it++ : std::string_view());
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
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

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
}

void Counter::add(std::initializer_list<std::string_view> label_values, std::uint64_t by) {
  auto series = key(label_names_, label_values);
  const std::lock_guard lock(mutex_);
  series_[std::move(series)] += by;
}

std::uint64_t Counter::value(std::initializer_list<std::string_view> label_values) const {
  const auto series = key(label_names_, label_values);
  const std::lock_guard lock(mutex_);
  const auto it = series_.find(series);
  return it == series_.end() ? 0 : it->second;
}

void Counter::render(std::string& out) const {
  header(out, name_, help_, "counter");
  const std::lock_guard lock(mutex_);
  for (const auto& [values, count] : series_) {
    out += name_;
    out += labels(label_names_, values);
    out += ' ';
    out += std::to_string(count);
    out += '\n';
  }
}

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {
}

void Histogram::observe(std::initializer_list<std::string_view> label_values, double value) {
  auto series_key = key(label_names_, label_values);
  const std::lock_guard lock(mutex_);
  Series& series = series_[std::move(series_key)];
  if (series.buckets.empty()) {
    series.buckets.assign(bounds_.size(), 0);
  }
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++series.buckets[i];
      break;
    }
  }
  series.sum += value;
  ++series.count;
}

std::uint64_t Histogram::count(std::initializer_list<std::string_view> label_values) const {
  const auto series_key = key(label_names_, label_values);
  const std::lock_guard lock(mutex_);
  const auto it = series_.find(series_key);
  return it == series_.end() ? 0 : it->second.count;
}

double Histogram::sum(std::initializer_list<std::string_view> label_values) const {
  const auto series_key = key(label_names_, label_values);
  const std::lock_guard lock(mutex_);
  const auto it = series_.find(series_key);
  return it == series_.end() ? 0 : it->second.sum;
}

void Histogram::render(std::string& out) const {
  header(out, name_, help_, "histogram");
  const std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += series.buckets[i];
      out += name_;
      out += "_bucket";
      out += labels(label_names_, values, "le", number(bounds_[i]));
      out += ' ';
      out += std::to_string(cumulative);
      out += '\n';
    }
    out += name_;
    out += "_bucket";
    out += labels(label_names_, values, "le", "+Inf");
    out += ' ';
    out += std::to_string(series.count);
    out += '\n';
    out += name_;
    out += "_sum";
    out += labels(label_names_, values);
    out += ' ';
    out += number(series.sum);
    out += '\n';
    out += name_;
    out += "_count";
    out += labels(label_names_, values);
    out += ' ';
    out += std::to_string(series.count);
    out += '\n';
  }
}

void render_gauge(std::string& out, std::string_view name, std::string_view help,
                  const std::vector<std::string>& label_names,
                  const std::vector<GaugeSample>& samples) {
  header(out, name, help, "gauge");
  for (const auto& sample : samples) {
    out += name;
    out += labels(label_names, sample.label_values);
    out += ' ';
    out += number(sample.value);
    out += '\n';
  }
}

std::string EngineMetrics::render() const {
  std::string out;
  http_requests.render(out);
  http_duration.render(out);
  transitions.render(out);
  step_results.render(out);
  plugin_timeouts.render(out);
  plugin_host_failures.render(out);
  db_commit.render(out);
  db_commit_group.render(out);
  db_write_group.render(out);
  db_checkpoint.render(out);
  return out;
}

EngineMetrics& engine() {
  static EngineMetrics metrics;
  return metrics;
}

}  // namespace carepath::metrics
