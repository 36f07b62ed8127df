// Counters and histograms in memory, rendered in the Prometheus text exposition format (0.0.4)
// for GET /metrics. No I/O: the server asks for the text and writes it.
//
// Label values are names (routes as templates, workflows, events, step types), never case ids,
// users or field values: every distinct value is a series kept for the life of the process.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace carepath::metrics {

// Seconds: from 1 ms (a cached read) to 5 s (a request stuck behind a long commit).
inline constexpr std::array<double, 12> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

// A family of counters sharing a name and label names, one series per distinct label values.
//
// Thread-safety: every member may be called concurrently (one mutex, held for one map lookup).
class Counter {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names);

  // Requires: as many values as label names (extra ones are dropped, missing ones are "").
  void add(std::initializer_list<std::string_view> label_values, std::uint64_t by = 1);
  std::uint64_t value(std::initializer_list<std::string_view> label_values) const;
  void render(std::string& out) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::uint64_t> series_;  // GUARDED_BY(mutex_)
};

// A family of histograms (cumulative buckets, sum and count) with fixed upper bounds.
//
// Thread-safety: as Counter.
class Histogram {
 public:
  // Requires: `bounds` ascending; +Inf is added when rendering.
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds);

  void observe(std::initializer_list<std::string_view> label_values, double value);
  std::uint64_t count(std::initializer_list<std::string_view> label_values) const;
  // The sum of the values observed in one series; 0 when it has none.
  double sum(std::initializer_list<std::string_view> label_values) const;
  void render(std::string& out) const;

 private:
  struct Series {
    std::vector<std::uint64_t> buckets;  // not cumulative; one per bound
    double sum = 0;
    std::uint64_t count = 0;
  };

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, Series> series_;  // GUARDED_BY(mutex_)
};

// One sample of a gauge read at scrape time.
struct GaugeSample {
  std::vector<std::string> label_values;
  double value = 0;
};

// Appends a gauge family (HELP, TYPE and one line per sample) to `out`.
void render_gauge(std::string& out, std::string_view name, std::string_view help,
                  const std::vector<std::string>& label_names,
                  const std::vector<GaugeSample>& samples);

// `value` escaped for a label value: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

// The engine's own metrics, one set per process (like the log sink).
struct EngineMetrics {
  Counter http_requests{"carepath_http_requests_total",
                        "HTTP requests answered, by route template, method and status.",
                        {"route", "method", "status"}};
  Histogram http_duration{"carepath_http_request_duration_seconds",
                          "Time to answer an HTTP request, by route template and method.",
                          {"route", "method"},
                          {kLatencyBuckets.begin(), kLatencyBuckets.end()}};
  Counter transitions{"carepath_transitions_total",
                      "Transitions stored, by workflow and event.",
                      {"workflow", "event"}};
  Counter step_results{"carepath_step_results_total",
                       "Step runs, by step type and result (ok, failed or retry).",
                       {"step", "result"}};
  Counter plugin_timeouts{"carepath_plugin_timeouts_total",
                          "Plugin step calls over their time limit (abandoned in-process, "
                          "killed out of process), by plugin.",
                          {"plugin"}};
  Counter plugin_host_failures{"carepath_plugin_host_failures_total",
                               "Plugin host processes stopped, by plugin and reason (crash, "
                               "timeout, garbage, too_long, start).",
                               {"plugin", "reason"}};
  Histogram db_commit{"carepath_db_commit_duration_seconds",
                      "Time to commit a database transaction.",
                      {},
                      {kLatencyBuckets.begin(), kLatencyBuckets.end()}};
  Histogram db_commit_group{"carepath_db_commit_group_size",
                            "Writes (case changes, audit rows) committed together in one "
                            "transaction by group commit.",
                            {},
                            {1, 2, 4, 8, 16, 32, 64, 128, 256}};
  Histogram db_write_group{"carepath_db_write_group_duration_seconds",
                           "Time each commit group holds the database's write lock: its writes, "
                           "one after another, then the commit. The rate of its sum is the "
                           "share of time the single writer is busy.",
                           {},
                           {kLatencyBuckets.begin(), kLatencyBuckets.end()}};
  Histogram db_checkpoint{"carepath_db_checkpoint_duration_seconds",
                          "Time of each background checkpoint of the write-ahead log (off the "
                          "request path).",
                          {},
                          {kLatencyBuckets.begin(), kLatencyBuckets.end()}};

  // The counters and histograms above, in the text format.
  std::string render() const;
};

EngineMetrics& engine();

}  // namespace carepath::metrics
