#include "core/metrics.hpp"

#include <string>

#include <gtest/gtest.h>

namespace carepath::metrics {
namespace {

TEST(Metrics, CounterRendersHelpTypeAndOneLinePerSeries) {
  Counter counter("cp_test_total", "Things counted.", {"route", "status"});
  counter.add({"/v1/cases", "200"});
  counter.add({"/v1/cases", "200"}, 2);
  counter.add({"/v1/cases/{id}", "404"});
  EXPECT_EQ(counter.value({"/v1/cases", "200"}), 3U);
  EXPECT_EQ(counter.value({"/v1/cases", "500"}), 0U);
  std::string text;
  counter.render(text);
  EXPECT_EQ(text,
            "# HELP cp_test_total Things counted.\n"
            "# TYPE cp_test_total counter\n"
            "cp_test_total{route=\"/v1/cases\",status=\"200\"} 3\n"
            "cp_test_total{route=\"/v1/cases/{id}\",status=\"404\"} 1\n");
}

TEST(Metrics, EscapesLabelValuesAndHelpText) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Counter counter("cp_escaped_total", "Line one\\two\nthree", {"name"});
  counter.add({"say \"hi\"\n"});
  std::string text;
  counter.render(text);
  EXPECT_NE(text.find("# HELP cp_escaped_total Line one\\\\two\\nthree\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("cp_escaped_total{name=\"say \\\"hi\\\"\\n\"} 1\n"), std::string::npos)
      << text;
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Histogram histogram("cp_seconds", "Time taken.", {"route"}, {0.01, 0.1, 1.0});
  // Binary fractions, so that the sum is exact.
  histogram.observe({"/x"}, 0.0078125);
  histogram.observe({"/x"}, 0.0625);
  histogram.observe({"/x"}, 0.0625);
  histogram.observe({"/x"}, 7.0);
  EXPECT_EQ(histogram.count({"/x"}), 4U);
  EXPECT_EQ(histogram.sum({"/x"}), 7.1328125);
  EXPECT_EQ(histogram.sum({"/y"}), 0.0) << "a series never observed";
  std::string text;
  histogram.render(text);
  EXPECT_EQ(text,
            "# HELP cp_seconds Time taken.\n"
            "# TYPE cp_seconds histogram\n"
            "cp_seconds_bucket{route=\"/x\",le=\"0.01\"} 1\n"
            "cp_seconds_bucket{route=\"/x\",le=\"0.1\"} 3\n"
            "cp_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
            "cp_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
            "cp_seconds_sum{route=\"/x\"} 7.1328125\n"
            "cp_seconds_count{route=\"/x\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabelsHasOnlyLe) {
  Histogram histogram("cp_commit_seconds", "Commits.", {}, {0.5});
  histogram.observe({}, 0.25);
  std::string text;
  histogram.render(text);
  EXPECT_NE(text.find("cp_commit_seconds_bucket{le=\"0.5\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cp_commit_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cp_commit_seconds_sum 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cp_commit_seconds_count 1\n"), std::string::npos) << text;
}

TEST(Metrics, GaugeRendersSamplesAndAnEmptyFamilyHasOnlyItsHeader) {
  std::string text;
  render_gauge(text, "cp_open", "Open things.", {"workflow", "state"},
               {{{"aftercare", "intake"}, 3}, {{"aftercare", "care_plan"}, 1}});
  EXPECT_EQ(text,
            "# HELP cp_open Open things.\n"
            "# TYPE cp_open gauge\n"
            "cp_open{workflow=\"aftercare\",state=\"intake\"} 3\n"
            "cp_open{workflow=\"aftercare\",state=\"care_plan\"} 1\n");
  std::string empty;
  render_gauge(empty, "cp_depth", "Depth.", {}, {});
  EXPECT_EQ(empty, "# HELP cp_depth Depth.\n# TYPE cp_depth gauge\n");
  std::string single;
  render_gauge(single, "cp_depth", "Depth.", {}, {{{}, 4}});
  EXPECT_NE(single.find("\ncp_depth 4\n"), std::string::npos) << single;
}

TEST(Metrics, EngineMetricsRenderEveryFamilyOnce) {
  const std::string text = engine().render();
  for (const char* type :
       {"# TYPE carepath_http_requests_total counter",
        "# TYPE carepath_http_request_duration_seconds histogram",
        "# TYPE carepath_transitions_total counter", "# TYPE carepath_step_results_total counter",
        "# TYPE carepath_plugin_timeouts_total counter",
        "# TYPE carepath_plugin_host_failures_total counter",
        "# TYPE carepath_db_commit_duration_seconds histogram",
        "# TYPE carepath_db_write_group_duration_seconds histogram"}) {
    const auto at = text.find(type);
    EXPECT_NE(at, std::string::npos) << type;
    EXPECT_EQ(text.find(type, at + 1), std::string::npos) << type;
  }
}

}  // namespace
}  // namespace carepath::metrics
