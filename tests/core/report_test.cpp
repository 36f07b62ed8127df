#include "core/report.hpp"

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath {
namespace {

Timestamp at(const char* text) {
  const auto t = parse_datetime(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(0);
}

const TimeZone kKolkata = TimeZone::with_offset("Asia/Kolkata", 19800);

TEST(ReportTest, OutcomeNamesRoundTrip) {
  for (const Outcome o : kOutcomes) {
    EXPECT_EQ(parse_outcome(outcome_name(o)), o);
  }
  EXPECT_FALSE(parse_outcome("dead").has_value());
  EXPECT_FALSE(parse_outcome("Restored").has_value());
  EXPECT_FALSE(parse_outcome("").has_value());
}

TEST(ReportTest, NearestRankPercentiles) {
  EXPECT_FALSE(percentile({}, 50).has_value());
  EXPECT_EQ(percentile({7}, 50), 7);
  EXPECT_EQ(percentile({7}, 90), 7);
  // Even count: the lower middle value.
  EXPECT_EQ(percentile({1, 2, 3, 4}, 50), 2);
  EXPECT_EQ(percentile({1, 2, 3, 4, 5}, 50), 3);
  // 10 values: rank ceil(9.0) = 9; 11 values: rank ceil(9.9) = 10.
  const std::vector<std::int64_t> ten{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(percentile(ten, 90), 9);
  EXPECT_EQ(percentile(ten, 100), 10);
  const std::vector<std::int64_t> eleven{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  EXPECT_EQ(percentile(eleven, 90), 10);
  EXPECT_EQ(percentile(eleven, 50), 6);
}

TEST(ReportTest, QuarterBoundsAreLocalMidnightsInKolkata) {
  auto q3 = quarter_period("2026-Q3", kKolkata);
  ASSERT_TRUE(q3) << q3.error().message;
  // Local midnight of July 1 is 18:30 UTC on June 30.
  EXPECT_EQ(q3->from, at("2026-06-30T18:30:00Z"));
  EXPECT_EQ(q3->to, at("2026-09-30T18:30:00Z"));
  EXPECT_EQ(q3->label, "2026-Q3");
  auto q4 = quarter_period("2026-Q4", kKolkata);
  ASSERT_TRUE(q4);
  EXPECT_EQ(q4->to, at("2026-12-31T18:30:00Z"));
  auto q1 = quarter_period("2026-Q1", TimeZone::utc());
  ASSERT_TRUE(q1);
  EXPECT_EQ(q1->from, at("2026-01-01T00:00:00Z"));
  EXPECT_EQ(q1->to, at("2026-04-01T00:00:00Z"));
}

TEST(ReportTest, HalfYearBounds) {
  auto h2 = half_year_period("2026-H2", kKolkata);
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->from, at("2026-06-30T18:30:00Z"));
  EXPECT_EQ(h2->to, at("2026-12-31T18:30:00Z"));
  auto h1 = half_year_period("2026-H1", kKolkata);
  ASSERT_TRUE(h1);
  EXPECT_EQ(h1->from, at("2025-12-31T18:30:00Z"));
}

TEST(ReportTest, MalformedPeriodsAreRefused) {
  for (const char* bad : {"2026-Q5", "2026-Q0", "2026Q3", "2026-q3", "26-Q3", "2026-Q3x", "",
                          "abcd-Q1", "2026-H3", "1969-Q1"}) {
    EXPECT_FALSE(quarter_period(bad, kKolkata) && half_year_period(bad, kKolkata)) << bad;
  }
  auto bad = quarter_period("2026-Q5", kKolkata);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_FALSE(half_year_period("2026-Q1", kKolkata));
  EXPECT_FALSE(quarter_period("2026-H1", kKolkata));
}

TEST(ReportTest, PreviousPeriodsFollowTheLocalCalendar) {
  // 20:00 UTC on March 31 is already April 1 in Kolkata: the previous quarter is Q1.
  const Period p = previous_quarter(at("2026-03-31T20:00:00Z"), kKolkata);
  EXPECT_EQ(p.label, "2026-Q1");
  EXPECT_EQ(previous_quarter(at("2026-03-31T17:00:00Z"), kKolkata).label, "2025-Q4");
  EXPECT_EQ(previous_quarter(at("2026-08-10T00:00:00Z"), kKolkata).label, "2026-Q2");
  EXPECT_EQ(previous_half_year(at("2026-03-01T00:00:00Z"), kKolkata).label, "2025-H2");
  EXPECT_EQ(previous_half_year(at("2026-08-01T00:00:00Z"), kKolkata).label, "2026-H1");
}

TEST(ReportTest, ReportInstantsTakeDatesOrInstants) {
  EXPECT_EQ(parse_report_instant("2026-03-01", kKolkata, false), at("2026-02-28T18:30:00Z"));
  // A date as `to` covers that whole day.
  EXPECT_EQ(parse_report_instant("2026-03-31", kKolkata, true), at("2026-03-31T18:30:00Z"));
  EXPECT_EQ(parse_report_instant("2026-03-31T10:00:00Z", kKolkata, true),
            at("2026-03-31T10:00:00Z"));
  EXPECT_FALSE(parse_report_instant("2026-02-30", kKolkata, false).has_value());
  EXPECT_FALSE(parse_report_instant("yesterday", kKolkata, false).has_value());
}

TEST(ReportTest, CsvQuotesAndDefusesFormulas) {
  EXPECT_EQ(csv_field("umang"), "umang");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(csv_field("+1"), "'+1");
  EXPECT_EQ(csv_field("@sum"), "'@sum");
  EXPECT_EQ(csv_field(""), "");

  ReportTable table;
  table.report = "caseload";
  table.columns = {"state", "home", "count"};
  table.rows.push_back({"in_care", "umang, east", 3});
  table.rows.push_back({"intake", nullptr, 12});
  EXPECT_EQ(report_to_csv(table),
            "state,home,count\r\nin_care,\"umang, east\",3\r\nintake,,12\r\n");
  const auto json = boost::json::parse(report_to_json(table)).as_object();
  EXPECT_EQ(json.at("report").as_string(), "caseload");
  ASSERT_EQ(json.at("items").as_array().size(), 2U);
  EXPECT_TRUE(json.at("items").as_array()[1].as_object().at("home").is_null());
  EXPECT_EQ(json.at("items").as_array()[0].as_object().at("count").as_int64(), 3);
}

// report_to_json writes the text itself; what it writes must parse to the document it stands for,
// whatever the text holds.
TEST(ReportTest, JsonTextEscapesEveryCellAndKeepsTheMeta) {
  ReportTable table;
  table.report = "aftercare-list";
  table.meta["period"] = "2026-H1";
  table.meta["children"] = 3;
  table.meta["share"] = 0.5;
  table.meta["complete"] = true;
  table.meta["totals"] = boost::json::object{{"restored", 2}, {"aged_out", 1}};
  table.columns = {"code", "home \"east\"", "count"};
  const std::string tricky = std::string("a\"b\\c\n\r\t\b\f") + '\x01' + '\x1f' + "\xc3\xa9/\x7f";
  const boost::json::string_view cell = tricky;
  table.rows.push_back({cell, nullptr, -42});
  table.rows.push_back({"", "north", 9007199254740993});
  table.rows.push_back({"short"});  // fewer cells than columns: the rest are null

  const std::string text = report_to_json(table);
  boost::json::value parsed;
  ASSERT_NO_THROW(parsed = boost::json::parse(text)) << text;
  const boost::json::value expected = {
      {"report", "aftercare-list"},
      {"period", "2026-H1"},
      {"children", 3},
      {"share", 0.5},
      {"complete", true},
      {"totals", {{"restored", 2}, {"aged_out", 1}}},
      {"columns", {"code", "home \"east\"", "count"}},
      {"items",
       {{{"code", cell}, {"home \"east\"", nullptr}, {"count", -42}},
        {{"code", ""}, {"home \"east\"", "north"}, {"count", 9007199254740993}},
        {{"code", "short"}, {"home \"east\"", nullptr}, {"count", nullptr}}}}};
  EXPECT_EQ(parsed, expected) << text;
  // Control characters never appear raw; the UTF-8 text does.
  for (const char c : text) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
  }
  EXPECT_NE(text.find("\\u0001"), std::string::npos);
  EXPECT_NE(text.find("\xc3\xa9"), std::string::npos);

  ReportTable empty;
  empty.report = "caseload";
  EXPECT_EQ(boost::json::parse(report_to_json(empty)),
            (boost::json::value{{"report", "caseload"},
                                {"columns", boost::json::array{}},
                                {"items", boost::json::array{}}}));
}

TEST(ReportTest, SvgBarChartDrawsEveryBarAndEscapesText) {
  const std::string svg = svg_bar_chart("Caseload <by state>", "aftercare & more",
                                        {{"intake", "aftercare", 12},
                                         {"in_care", "aftercare", 40},
                                         {"in_care", "education_support", 5}});
  EXPECT_EQ(svg.rfind("<?xml", 0), 0U);
  EXPECT_NE(svg.find("Caseload &lt;by state&gt;"), std::string::npos);
  EXPECT_NE(svg.find("aftercare &amp; more"), std::string::npos);
  EXPECT_EQ(svg.find("<by state>"), std::string::npos);
  // Three bars, three value labels; two groups in the legend.
  std::size_t bars = 0;
  for (auto pos = svg.find("height=\"16\""); pos != std::string::npos;
       pos = svg.find("height=\"16\"", pos + 1)) {
    ++bars;
  }
  EXPECT_EQ(bars, 3U);
  EXPECT_NE(svg.find(">40</text>"), std::string::npos);
  EXPECT_NE(svg.find(">education_support</text>"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);

  const std::string empty = svg_bar_chart("Caseload", "none", {});
  EXPECT_NE(empty.find("no data"), std::string::npos);
}

}  // namespace
}  // namespace carepath
