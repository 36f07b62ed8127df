#include "core/report.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

namespace carepath {
namespace {

Error bad_period(std::string_view text, std::string_view expected) {
  return Error{Errc::invalid_argument,
               "'" + std::string(text) + "' is not a period; expected " + std::string(expected)};
}

// "2026-Q3" / "2026-H1": the year and the number after the letter; nullopt when malformed.
std::optional<std::pair<int, int>> parse_year_part(std::string_view text, char letter, int max) {
  if (text.size() != 7 || text[4] != '-' || text[5] != letter) {
    return std::nullopt;
  }
  int year = 0;
  for (int i = 0; i < 4; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return std::nullopt;
    }
    year = year * 10 + (text[i] - '0');
  }
  const int part = text[6] - '0';
  if (year < 1970 || part < 1 || part > max) {
    return std::nullopt;
  }
  return std::pair{year, part};
}

// Months [first, first + months) of `year` on the local calendar of `zone`; months may carry.
Period month_span(int year, int first, int months, const TimeZone& zone, std::string label) {
  return Period{zone.start_of_day(days_from_civil(year, first, 1)),
                zone.start_of_day(days_from_civil(year, first + months, 1)), std::move(label)};
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  return out;
}

// At most `max` code points, with an ellipsis when cut.
std::string shorten(std::string_view text, std::size_t max) {
  std::size_t points = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (points == max) {
        return std::string(text.substr(0, i)) + "\xE2\x80\xA6";
      }
      ++points;
    }
  }
  return std::string(text);
}

// The smallest 1, 2 or 5 times a power of ten that is at least `value` (and at least 1).
std::int64_t nice_ceiling(std::int64_t value) {
  std::int64_t power = 1;
  while (true) {
    for (const std::int64_t step : {1, 2, 5}) {
      if (step * power >= value) {
        return step * power;
      }
    }
    power *= 10;
  }
}

std::string json_text(const boost::json::value& v) {
  if (v.is_string()) {
    return std::string(v.get_string());
  }
  if (v.is_null()) {
    return {};
  }
  if (v.is_bool()) {
    return v.get_bool() ? "true" : "false";
  }
  return boost::json::serialize(v);
}

}  // namespace

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::restored:
      return "restored";
    case Outcome::transferred:
      return "transferred";
    case Outcome::aged_out:
      return "aged_out";
    case Outcome::ran_away:
      return "ran_away";
    case Outcome::repatriated:
      return "repatriated";
    case Outcome::died:
      return "died";
    case Outcome::other:
      return "other";
  }
  return "other";
}

std::optional<Outcome> parse_outcome(std::string_view name) {
  for (const Outcome o : kOutcomes) {
    if (outcome_name(o) == name) {
      return o;
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) {
    return std::nullopt;
  }
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const auto index = static_cast<std::size_t>(std::clamp(rank, 1.0, double(sorted.size()))) - 1;
  return sorted[index];
}

Result<Period> quarter_period(std::string_view text, const TimeZone& zone) {
  const auto parsed = parse_year_part(text, 'Q', 4);
  if (!parsed) {
    return bad_period(text, "a quarter such as 2026-Q3");
  }
  return month_span(parsed->first, (parsed->second - 1) * 3 + 1, 3, zone, std::string(text));
}

Result<Period> half_year_period(std::string_view text, const TimeZone& zone) {
  const auto parsed = parse_year_part(text, 'H', 2);
  if (!parsed) {
    return bad_period(text, "a half year such as 2026-H1");
  }
  return month_span(parsed->first, (parsed->second - 1) * 6 + 1, 6, zone, std::string(text));
}

Period previous_quarter(Timestamp now, const TimeZone& zone) {
  const LocalTime local = zone.to_local(now);
  int year = local.year;
  int quarter = (local.month - 1) / 3;  // the current one is quarter + 1
  if (quarter == 0) {
    quarter = 4;
    --year;
  }
  return month_span(year, (quarter - 1) * 3 + 1, 3, zone,
                    std::to_string(year) + "-Q" + std::to_string(quarter));
}

Period previous_half_year(Timestamp now, const TimeZone& zone) {
  const LocalTime local = zone.to_local(now);
  int year = local.year;
  int half = local.month <= 6 ? 2 : 1;
  if (half == 2) {
    --year;
  }
  return month_span(year, (half - 1) * 6 + 1, 6, zone,
                    std::to_string(year) + "-H" + std::to_string(half));
}

std::optional<Timestamp> parse_report_instant(std::string_view text, const TimeZone& zone,
                                              bool end_of_day) {
  if (const auto day = parse_date(text)) {
    return zone.start_of_day(*day + (end_of_day ? 1 : 0));
  }
  return parse_datetime(text);
}

namespace {

// `text` as a JSON string: quotes, backslashes and control characters escaped, the rest (UTF-8
// included) as it is.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out.append(text, plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(text, plain, text.size() - plain);
  out += '"';
}

void append_json_value(std::string& out, const boost::json::value& value) {
  if (value.is_string()) {
    append_json_string(out, value.get_string());
  } else if (value.is_int64()) {
    std::array<char, 24> digits{};
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value.get_int64());
    out.append(digits.data(), end.ptr);
  } else {
    out += boost::json::serialize(value);  // null, bool, double, or a structure (meta)
  }
}

}  // namespace

std::string report_to_json(const ReportTable& table) {
  std::vector<std::string> keys;  // `"column":`, escaped once
  keys.reserve(table.columns.size());
  for (const auto& column : table.columns) {
    std::string key;
    append_json_string(key, column);
    keys.push_back(key + ':');
  }
  std::string out;
  out.reserve(256 + table.rows.size() * (16 + 24 * table.columns.size()));
  out += "{\"report\":";
  append_json_string(out, table.report);
  for (const auto& member : table.meta) {
    out += ',';
    append_json_string(out, member.key());
    out += ':';
    append_json_value(out, member.value());
  }
  out += ",\"columns\":[";
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_json_string(out, table.columns[i]);
  }
  out += "],\"items\":[";
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    out += r > 0 ? ",{" : "{";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) {
        out += ',';
      }
      out += keys[i];
      if (i < row.size()) {
        append_json_value(out, row[i]);
      } else {
        out += "null";
      }
    }
    out += '}';
  }
  out += "]}";
  return out;
}

std::string csv_field(std::string_view text) {
  std::string value;
  if (!text.empty() && (text.front() == '=' || text.front() == '+' || text.front() == '-' ||
                        text.front() == '@' || text.front() == '\t' || text.front() == '\r')) {
    value = "'";
  }
  value += text;
  if (value.find_first_of(",\"\r\n") == std::string::npos) {
    return value;
  }
  std::string out = "\"";
  for (const char c : value) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  out += '"';
  return out;
}

std::string report_to_csv(const ReportTable& table) {
  std::string out;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    out += i == 0 ? "" : ",";
    out += csv_field(table.columns[i]);
  }
  out += "\r\n";
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      out += i == 0 ? "" : ",";
      if (i < row.size()) {
        // Numbers are written as they are: a negative figure is not a formula.
        out += row[i].is_string() ? csv_field(row[i].get_string()) : json_text(row[i]);
      }
    }
    out += "\r\n";
  }
  return out;
}

std::string svg_bar_chart(std::string_view title, std::string_view subtitle,
                          const std::vector<ChartBar>& bars) {
  constexpr int kWidth = 860;
  constexpr int kLabelWidth = 230;
  constexpr int kPlotWidth = 520;
  constexpr int kBarHeight = 18;
  constexpr int kRowGap = 10;
  constexpr int kTop = 78;
  static constexpr std::array<const char*, 8> kColours{"#3465a4", "#f57900", "#4e9a06", "#c4a000",
                                                       "#75507b", "#cc0000", "#06989a", "#555753"};
  // Labels and groups in first-seen order.
  std::vector<std::string> labels;
  std::vector<std::string> groups;
  std::map<std::pair<std::string, std::string>, std::int64_t> values;
  std::int64_t max_value = 0;
  for (const auto& bar : bars) {
    if (std::find(labels.begin(), labels.end(), bar.label) == labels.end()) {
      labels.push_back(bar.label);
    }
    if (std::find(groups.begin(), groups.end(), bar.group) == groups.end()) {
      groups.push_back(bar.group);
    }
    values[{bar.label, bar.group}] += bar.value;
    max_value = std::max(max_value, values[{bar.label, bar.group}]);
  }
  // Five scale steps of a round size (1, 2 or 5 times a power of ten) that reach the longest bar.
  const std::int64_t scale = 5 * nice_ceiling(std::max<std::int64_t>((max_value + 4) / 5, 1));
  // Each label gets a slot per group that has a bar for it.
  int height = kTop;
  for (const auto& label : labels) {
    int slots = 0;
    for (const auto& group : groups) {
      slots += values.count({label, group}) != 0 ? 1 : 0;
    }
    height += slots * kBarHeight + kRowGap;
  }
  const int plot_bottom = height;
  const bool legend = groups.size() > 1 || (groups.size() == 1 && !groups.front().empty());
  height += 40 + (legend ? 24 * static_cast<int>((groups.size() + 2) / 3) : 0);
  if (labels.empty()) {
    height = kTop + 80;
  }

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kWidth) +
         "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(kWidth) +
         " " + std::to_string(height) +
         "\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"13\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg += "<text x=\"20\" y=\"30\" font-size=\"18\" font-weight=\"bold\" fill=\"#2e3436\">" +
         xml_escape(title) + "</text>\n";
  svg += "<text x=\"20\" y=\"52\" fill=\"#555753\">" + xml_escape(subtitle) + "</text>\n";
  if (labels.empty()) {
    svg += "<text x=\"20\" y=\"" + std::to_string(kTop + 30) +
           "\" fill=\"#555753\">no data for this period</text>\n</svg>\n";
    return svg;
  }
  // Scale lines at fifths of the scale.
  for (int i = 0; i <= 5; ++i) {
    const int x = kLabelWidth + kPlotWidth * i / 5;
    const std::int64_t tick = scale * i / 5;
    svg += "<line x1=\"" + std::to_string(x) + "\" y1=\"" + std::to_string(kTop - 6) + "\" x2=\"" +
           std::to_string(x) + "\" y2=\"" + std::to_string(plot_bottom) +
           "\" stroke=\"#d3d7cf\" stroke-width=\"1\"/>\n";
    svg += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(plot_bottom + 18) +
           "\" text-anchor=\"middle\" fill=\"#555753\" font-size=\"11\">" + std::to_string(tick) +
           "</text>\n";
  }
  int y = kTop;
  for (const auto& label : labels) {
    int slots = 0;
    for (const auto& group : groups) {
      slots += values.count({label, group}) != 0 ? 1 : 0;
    }
    const int row_height = slots * kBarHeight;
    svg += "<text x=\"" + std::to_string(kLabelWidth - 10) + "\" y=\"" +
           std::to_string(y + row_height / 2 + 5) + "\" text-anchor=\"end\" fill=\"#2e3436\">" +
           xml_escape(shorten(label, 30)) + "</text>\n";
    int slot = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const auto it = values.find({label, groups[g]});
      if (it == values.end()) {
        continue;
      }
      const auto width = static_cast<int>(
          std::llround(static_cast<double>(it->second) * kPlotWidth / static_cast<double>(scale)));
      const int bar_y = y + slot * kBarHeight;
      svg += "<rect x=\"" + std::to_string(kLabelWidth) + "\" y=\"" + std::to_string(bar_y + 1) +
             "\" width=\"" + std::to_string(std::max(width, it->second > 0 ? 2 : 0)) +
             "\" height=\"" + std::to_string(kBarHeight - 2) + "\" fill=\"" +
             kColours[g % kColours.size()] + "\"/>\n";
      svg += "<text x=\"" + std::to_string(kLabelWidth + width + 6) + "\" y=\"" +
             std::to_string(bar_y + kBarHeight - 5) + "\" fill=\"#2e3436\" font-size=\"12\">" +
             std::to_string(it->second) + "</text>\n";
      ++slot;
    }
    y += row_height + kRowGap;
  }
  if (legend) {
    int legend_y = plot_bottom + 44;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const int column = static_cast<int>(g % 3);
      const int x = 20 + column * 270;
      svg += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(legend_y - 11) +
             "\" width=\"14\" height=\"14\" fill=\"" + kColours[g % kColours.size()] + "\"/>\n";
      svg += "<text x=\"" + std::to_string(x + 20) + "\" y=\"" + std::to_string(legend_y) +
             "\" fill=\"#2e3436\">" + xml_escape(shorten(groups[g], 34)) + "</text>\n";
      if (column == 2) {
        legend_y += 24;
      }
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace carepath
