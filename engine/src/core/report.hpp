// Reports (docs/reports.md): the outcome vocabulary workflows use to say what a final state or a
// transition means in law, and the pure pieces every report is made of: percentiles, reporting
// periods in the organisation's calendar, tables rendered as JSON, CSV and an SVG bar chart.
// No I/O: the store counts, api/reports.cpp puts the figures together, callers write files.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.hpp"
#include "core/outcome.hpp"
#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath {

// The nearest-rank percentile of `sorted` (ascending): the value at rank ceil(p/100 * n), so
// that the median of an even count is the lower middle value and every answer is a value that
// occurred. nullopt for no values. Requires: 0 < p <= 100.
std::optional<std::int64_t> percentile(const std::vector<std::int64_t>& sorted, double p);

// A reporting period: [from, to) in UTC, named as people say it.
struct Period {
  Timestamp from = 0;
  Timestamp to = 0;
  std::string label;  // "2026-Q3", "2026-H1", or the two instants of a custom range
};

// "2026-Q3": July to September 2026 on the local calendar of `zone` (from local midnight on the
// first day to local midnight on the first day after). Errc::invalid_argument otherwise.
Result<Period> quarter_period(std::string_view text, const TimeZone& zone);
// "2026-H1" (January to June) or "2026-H2" (July to December), like quarter_period.
Result<Period> half_year_period(std::string_view text, const TimeZone& zone);
// The quarter (or half year) before the one containing `now`, in `zone`: the default period of
// the statutory reports, which are sent after the period ends.
Period previous_quarter(Timestamp now, const TimeZone& zone);
Period previous_half_year(Timestamp now, const TimeZone& zone);

// A period bound given as an RFC 3339 instant or a date (YYYY-MM-DD, on the calendar of `zone`).
// A date as `from` is the start of that day; as `to` (end_of_day) the start of the next day, so
// that from=2026-01-01&to=2026-03-31 covers the whole of March 31. nullopt when malformed.
std::optional<Timestamp> parse_report_instant(std::string_view text, const TimeZone& zone,
                                              bool end_of_day);

// A report's figures as a table: named columns and rows of JSON scalars (strings, integers or
// null). `meta` says what was counted (the report's name, its period, ...).
struct ReportTable {
  std::string report;
  std::vector<std::string> columns;
  std::vector<std::vector<boost::json::value>> rows;
  boost::json::object meta;
  // Each workflow's states in the order its latest stored version declares them (its
  // lifecycle), for charts that list states; not part of the JSON or CSV.
  std::map<std::string, std::vector<std::string>> state_order{};
};

// The JSON text {"report": ..., <meta members>, "columns": [...], "items": [{column: value,
// ...}, ...]}, written straight from the table: a quarter of a million items take a tenth of the
// time and memory of building the document first.
std::string report_to_json(const ReportTable& table);

// RFC 4180: a header line of the column names, then one line per row, CRLF line ends. A field is
// quoted when it holds a comma, a quote or a line break; text that a spreadsheet would read as a
// formula (starting with =, +, -, @, a tab or a carriage return) gets a leading apostrophe.
// null is an empty field.
std::string report_to_csv(const ReportTable& table);
// One CSV field as report_to_csv writes it.
std::string csv_field(std::string_view text);

// One bar of a chart; `group` colours it (a workflow, a kind of figure), and bars of one label
// drawn side by side when there are several groups.
struct ChartBar {
  std::string label;
  std::string group;
  std::int64_t value = 0;
};

// A bar chart as a standalone SVG document: horizontal bars, one row per label (several groups
// side by side within a row, told apart by colour and a legend), each bar's value written at its
// end, scale lines at round numbers. Text is XML-escaped. An empty chart says "no data".
std::string svg_bar_chart(std::string_view title, std::string_view subtitle,
                          const std::vector<ChartBar>& bars);

}  // namespace carepath
