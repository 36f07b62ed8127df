#include "api/reports.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/problem.hpp"
#include "core/duration.hpp"
#include "core/outcome.hpp"
#include "workflow/loader.hpp"

namespace carepath::api {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kDefaultFlowDays = 30;

Error invalid_param(std::string name, std::string reason) {
  return Error{Errc::invalid_argument,
               "invalid query parameters: " + name + "; see invalid_params for what each expects",
               {{"invalid_params",
                 boost::json::array{boost::json::object{{"name", name}, {"reason", reason}}}}},
               std::string(kInvalidParams)};
}

// --- The outcome words of the stored workflow sources -----------------------------------------

struct CountedRow {
  std::string from;
  std::string event;
  std::string to;
  Outcome counts_as;
};

struct VersionWords {
  std::map<std::string, Outcome> outcomes;  // final state -> outcome
  std::vector<CountedRow> rows;             // transitions with counts_as
  std::vector<std::string> states;          // every state, in declaration order
};

struct Vocabulary {
  std::map<std::pair<std::string, int>, VersionWords> versions;
  std::set<std::string> workflows;

  // The words of the version, else of the workflow's latest stored version.
  const VersionWords* find(const std::string& workflow, int version) const {
    if (const auto it = versions.find({workflow, version}); it != versions.end()) {
      return &it->second;
    }
    const VersionWords* latest = nullptr;
    for (const auto& [key, words] : versions) {
      if (key.first == workflow) {
        latest = &words;
      }
    }
    return latest;
  }

  std::optional<Outcome> counts_as(const std::string& workflow, int version,
                                   const std::optional<std::string>& from, const std::string& event,
                                   const std::string& to) const {
    const VersionWords* words = find(workflow, version);
    if (words == nullptr || !from) {
      return std::nullopt;
    }
    for (const auto& row : words->rows) {
      if (row.from == *from && row.event == event && row.to == to) {
        return row.counts_as;
      }
    }
    return std::nullopt;
  }

  Outcome outcome(const std::string& workflow, int version, const std::string& state) const {
    const VersionWords* words = find(workflow, version);
    if (words == nullptr) {
      return Outcome::other;
    }
    const auto it = words->outcomes.find(state);
    return it == words->outcomes.end() ? Outcome::other : it->second;
  }
};

std::optional<Outcome> word(const boost::json::object& map, std::string_view key) {
  const auto* value = map.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  return parse_outcome(value->get_string());
}

// The stored sources were checked by the loader when they were stored; a source that no longer
// parses contributes nothing rather than failing every report.
Result<Vocabulary> read_vocabulary(Store& store) {
  auto sources = store.workflows();
  if (!sources) {
    return sources.error();
  }
  Vocabulary vocabulary;
  for (const auto& source : *sources) {
    vocabulary.workflows.insert(source.name);
    VersionWords& words = vocabulary.versions[{source.name, source.version}];
    auto json = workflow::workflow_as_json(source.source);
    if (!json || !json->is_object()) {
      continue;
    }
    const auto* states = json->get_object().if_contains("states");
    if (states == nullptr || !states->is_object()) {
      continue;
    }
    for (const auto& state : states->get_object()) {
      if (!state.value().is_object()) {
        continue;
      }
      words.states.emplace_back(state.key());
      const auto& body = state.value().get_object();
      if (const auto outcome = word(body, "outcome")) {
        words.outcomes[state.key()] = *outcome;
      }
      const auto* on = body.if_contains("on");
      if (on == nullptr || !on->is_object()) {
        continue;
      }
      for (const auto& event : on->get_object()) {
        auto add = [&](const boost::json::value& row) {
          if (!row.is_object()) {
            return;
          }
          const auto* to = row.get_object().if_contains("to");
          const auto counts = word(row.get_object(), "counts_as");
          if (to != nullptr && to->is_string() && counts) {
            words.rows.push_back(CountedRow{std::string(state.key()), std::string(event.key()),
                                            std::string(to->get_string()), *counts});
          }
        };
        if (event.value().is_array()) {
          for (const auto& row : event.value().get_array()) {
            add(row);
          }
        } else {
          add(event.value());
        }
      }
    }
  }
  return vocabulary;
}

boost::json::value optional_text(const std::optional<std::string>& text) {
  return text ? boost::json::value(*text) : boost::json::value(nullptr);
}

// "2026-07-01" on the organisation's calendar.
std::string local_date(Timestamp t, const TimeZone& zone) {
  const LocalTime local = zone.to_local(t);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", local.year, local.month, local.day);
  return text;
}

boost::json::value days(const std::optional<std::int64_t>& ms) {
  if (!ms) {
    return nullptr;
  }
  // One decimal: enough for a meeting, and the exact figure is beside it in milliseconds.
  // Rounded to the nearest tenth, halves up (durations are never negative).
  const std::int64_t tenths = (*ms * 10 + kDayMs / 2) / kDayMs;  // integer division on purpose
  return static_cast<double>(tenths) / 10.0;
}

void put_period(ReportTable& table, Timestamp from, Timestamp to, const std::string& label) {
  table.meta["from"] = format_timestamp(from);
  table.meta["to"] = format_timestamp(to);
  if (!label.empty()) {
    table.meta["period"] = label;
  }
}

// --- The reports --------------------------------------------------------------------------

Result<ReportTable> caseload(Store& store, const ReportRequest& request, Timestamp now) {
  auto counts = store.report_caseload(request.workflow);
  if (!counts) {
    return counts.error();
  }
  ReportTable table;
  table.report = "caseload";
  table.meta["at"] = format_timestamp(now);
  table.columns = {"workflow", "state", "home", "assignee", "cases"};
  std::int64_t total = 0;
  for (const auto& c : *counts) {
    table.rows.push_back({boost::json::value(c.workflow), boost::json::value(c.state),
                          optional_text(c.placement), optional_text(c.assignee),
                          boost::json::value(c.count)});
    total += c.count;
  }
  table.meta["total"] = total;
  return table;
}

Result<ReportTable> flow(Store& store, const ReportRequest& request, Timestamp now) {
  const Timestamp to = request.to.value_or(now);
  const Timestamp from = request.from.value_or(to - kDefaultFlowDays * kDayMs);
  if (from > to) {
    return invalid_param("from", "must not be after to");
  }
  auto counts = store.report_moves(from, to, request.workflow);
  if (!counts) {
    return counts.error();
  }
  auto stays = store.report_stays(from, to, request.workflow);
  if (!stays) {
    return stays.error();
  }
  struct Figures {
    std::int64_t entered = 0;
    std::int64_t left = 0;
    const std::vector<std::int64_t>* durations = nullptr;
  };
  std::map<std::pair<std::string, std::string>, Figures> figures;
  for (const auto& c : *counts) {  // entries that kept a case where it was are not among them
    figures[{c.workflow, c.to_state}].entered += c.count;
    if (c.from_state) {
      figures[{c.workflow, *c.from_state}].left += c.count;
    }
  }
  for (const auto& s : *stays) {
    figures[{s.workflow, s.state}].durations = &s.durations_ms;
  }
  ReportTable table;
  table.report = "flow";
  put_period(table, from, to, "");
  table.columns = {"workflow",  "state",  "entered",     "left",    "stays",
                   "median_ms", "p90_ms", "median_days", "p90_days"};
  static const std::vector<std::int64_t> kNone;
  for (const auto& [key, f] : figures) {
    const auto& durations = f.durations != nullptr ? *f.durations : kNone;
    const auto median = percentile(durations, 50);
    const auto p90 = percentile(durations, 90);
    table.rows.push_back({boost::json::value(key.first), boost::json::value(key.second),
                          boost::json::value(f.entered), boost::json::value(f.left),
                          boost::json::value(static_cast<std::int64_t>(durations.size())),
                          median ? boost::json::value(*median) : boost::json::value(nullptr),
                          p90 ? boost::json::value(*p90) : boost::json::value(nullptr),
                          days(median), days(p90)});
  }
  return table;
}

Result<ReportTable> outcomes(Store& store, const Vocabulary& vocabulary,
                             const ReportRequest& request) {
  if (request.from && request.to && *request.from > *request.to) {
    return invalid_param("from", "must not be after to");
  }
  auto closed = store.report_closed(request.from, request.to, request.workflow);
  if (!closed) {
    return closed.error();
  }
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> rows;
  std::map<std::string, std::int64_t> totals;
  for (const auto& c : *closed) {
    const std::string outcome(
        outcome_name(vocabulary.outcome(c.workflow, c.workflow_version, c.state)));
    rows[{c.workflow, c.state, outcome}] += c.count;
    totals[outcome] += c.count;
  }
  ReportTable table;
  table.report = "outcomes";
  if (request.from) {
    table.meta["from"] = format_timestamp(*request.from);
  }
  if (request.to) {
    table.meta["to"] = format_timestamp(*request.to);
  }
  table.columns = {"workflow", "final_state", "outcome", "cases"};
  for (const auto& [key, count] : rows) {
    table.rows.push_back({boost::json::value(std::get<0>(key)),
                          boost::json::value(std::get<1>(key)),
                          boost::json::value(std::get<2>(key)), boost::json::value(count)});
  }
  boost::json::object by_outcome;
  for (const Outcome o : kOutcomes) {
    const auto it = totals.find(std::string(outcome_name(o)));
    by_outcome[outcome_name(o)] = it == totals.end() ? 0 : it->second;
  }
  table.meta["totals"] = std::move(by_outcome);
  return table;
}

// JJ Act s.40(4): the committee reports the children restored, dead or run away in the quarter.
constexpr std::array<Outcome, 3> kCwcFigures{Outcome::restored, Outcome::died, Outcome::ran_away};

Result<ReportTable> cwc_quarterly(Store& store, const Vocabulary& vocabulary,
                                  const ReportRequest& request, const TimeZone& zone,
                                  Timestamp now) {
  Period period;
  if (request.period) {
    auto parsed = quarter_period(*request.period, zone);
    if (!parsed) {
      return invalid_param("quarter", "must be a quarter such as 2026-Q3");
    }
    period = *parsed;
  } else {
    period = previous_quarter(now, zone);
  }
  // Only the entries of events that some stored version counts as one of the figures.
  std::vector<std::string> events;
  for (const auto& [key, words] : vocabulary.versions) {
    for (const auto& row : words.rows) {
      if (std::find(kCwcFigures.begin(), kCwcFigures.end(), row.counts_as) != kCwcFigures.end()) {
        events.push_back(row.event);
      }
    }
  }
  auto counts = store.report_event_counts(period.from, period.to, request.workflow, events);
  if (!counts) {
    return counts.error();
  }
  // (workflow, home) -> entries counted as each figure
  std::map<std::pair<std::string, std::optional<std::string>>, std::array<std::int64_t, 3>> rows;
  std::array<std::int64_t, 3> totals{};
  for (const auto& c : *counts) {
    const auto counted =
        vocabulary.counts_as(c.workflow, c.workflow_version, c.from_state, c.event, c.to_state);
    if (!counted) {
      continue;
    }
    const auto it = std::find(kCwcFigures.begin(), kCwcFigures.end(), *counted);
    if (it == kCwcFigures.end()) {
      continue;
    }
    const auto i = static_cast<std::size_t>(it - kCwcFigures.begin());
    auto& row = rows[{c.workflow, c.placement}];
    row[i] += c.count;
    totals[i] += c.count;
  }
  ReportTable table;
  table.report = "cwc-quarterly";
  put_period(table, period.from, period.to, period.label);
  table.columns = {"workflow", "home", "restored", "died", "ran_away"};
  for (const auto& [key, figures] : rows) {
    table.rows.push_back({boost::json::value(key.first), optional_text(key.second),
                          boost::json::value(figures[0]), boost::json::value(figures[1]),
                          boost::json::value(figures[2])});
  }
  table.meta["totals"] =
      boost::json::object{{"restored", totals[0]}, {"died", totals[1]}, {"ran_away", totals[2]}};
  return table;
}

Result<ReportTable> aftercare_list(Store& store, const Vocabulary& vocabulary,
                                   const ReportRequest& request, const TimeZone& zone,
                                   Timestamp now) {
  Period period;
  if (request.period) {
    auto parsed = half_year_period(*request.period, zone);
    if (!parsed) {
      return invalid_param("half", "must be a half year such as 2026-H1");
    }
    period = *parsed;
  } else {
    period = previous_half_year(now, zone);
  }
  // The rows of every stored version that count as leaving care for a family or aftercare.
  std::map<std::string, std::set<std::pair<std::string, std::string>>> leaving;  // wf -> (ev, from)
  std::map<std::tuple<std::string, std::string, std::string>, Outcome> meaning;
  for (const auto& [key, words] : vocabulary.versions) {
    if (request.workflow && key.first != *request.workflow) {
      continue;
    }
    for (const auto& row : words.rows) {
      if (row.counts_as == Outcome::restored || row.counts_as == Outcome::aged_out) {
        leaving[key.first].insert({row.event, row.from});
        meaning[{key.first, row.event, row.from}] = row.counts_as;
      }
    }
  }
  ReportTable table;
  table.report = "aftercare-list";
  put_period(table, period.from, period.to, period.label);
  table.columns = {"code",         "workflow",      "home",       "left_care_as",
                   "left_care_on", "status_at_end", "status_now", "closed_on"};
  for (const auto& [workflow_name, pairs] : leaving) {
    LeftCareQuery query;
    query.workflow = workflow_name;
    for (const auto& [event, from] : pairs) {
      query.events.emplace_back(event, from);
    }
    query.since = period.from;
    query.until = period.to;
    auto records = store.report_left_care(query);
    if (!records) {
      return records.error();
    }
    table.rows.reserve(table.rows.size() + records->size());
    for (const auto& r : *records) {
      const auto it = meaning.find({r.workflow, r.event, r.left_from});
      const Outcome as = it == meaning.end() ? Outcome::other : it->second;
      table.rows.push_back({boost::json::value(r.code), boost::json::value(r.workflow),
                            optional_text(r.placement), boost::json::value(outcome_name(as)),
                            boost::json::value(local_date(r.left_at, zone)),
                            boost::json::value(r.state_at), boost::json::value(r.state),
                            r.closed_at ? boost::json::value(local_date(*r.closed_at, zone))
                                        : boost::json::value(nullptr)});
    }
  }
  table.meta["children"] = static_cast<std::int64_t>(table.rows.size());
  return table;
}

std::string text_of(const boost::json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : std::string("(none)");
}

std::int64_t int_of(const boost::json::value& v) {
  return v.is_int64() ? v.get_int64() : 0;
}

std::string meta_text(const ReportTable& table, std::string_view key) {
  const auto* v = table.meta.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// "2026-09-01 14:30" on the wall clock of `zone`.
std::string local_minute(Timestamp t, const TimeZone& zone) {
  const LocalTime local = zone.to_local(t);
  const auto minutes = static_cast<int>(local.ms_of_day / 60'000);
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d", local.year, local.month, local.day,
                minutes / 60, minutes % 60);
  return text;
}

// The instant of the meta member `key` (an RFC 3339 text) in `zone`: "2026-09-01 14:30
// (Asia/Kolkata)"; the text as it is when it is not an instant, empty when it is missing.
std::string local_meta_instant(const ReportTable& table, std::string_view key,
                               const TimeZone& zone) {
  const std::string text = meta_text(table, key);
  const auto at = parse_datetime(text);
  return at ? local_minute(*at, zone) + " (" + zone.name() + ")" : text;
}

// The period [from, to) of the meta members in `zone`. Whole local days, as a date range
// was given, read as the first and the last day ("2026-09-01 to 2026-09-30 (Asia/Kolkata)");
// other bounds to the minute.
std::string local_period(const ReportTable& table, const TimeZone& zone) {
  const auto from = parse_datetime(meta_text(table, "from"));
  const auto to = parse_datetime(meta_text(table, "to"));
  if (!from || !to) {
    return meta_text(table, "from") + " to " + meta_text(table, "to");
  }
  const bool whole_days =
      *from < *to && zone.to_local(*from).ms_of_day == 0 && zone.to_local(*to).ms_of_day == 0;
  const std::string range = whole_days
                                ? local_date(*from, zone) + " to " + local_date(*to - 1, zone)
                                : local_minute(*from, zone) + " to " + local_minute(*to, zone);
  return range + " (" + zone.name() + ")";
}

// The position of `state` in its workflow's declared order; states the latest version does not
// declare (left on an older version) come after every declared one.
std::size_t lifecycle_rank(const ReportTable& table, const std::string& workflow,
                           const std::string& state) {
  const auto it = table.state_order.find(workflow);
  if (it == table.state_order.end()) {
    return 0;
  }
  const auto& order = it->second;
  return static_cast<std::size_t>(std::find(order.begin(), order.end(), state) - order.begin());
}

}  // namespace

std::string_view report_kind_name(ReportKind kind) {
  switch (kind) {
    case ReportKind::caseload:
      return "caseload";
    case ReportKind::flow:
      return "flow";
    case ReportKind::outcomes:
      return "outcomes";
    case ReportKind::cwc_quarterly:
      return "cwc-quarterly";
    case ReportKind::aftercare_list:
      return "aftercare-list";
  }
  return "caseload";
}

std::optional<ReportKind> parse_report_kind(std::string_view name) {
  for (const ReportKind kind : {ReportKind::caseload, ReportKind::flow, ReportKind::outcomes,
                                ReportKind::cwc_quarterly, ReportKind::aftercare_list}) {
    if (report_kind_name(kind) == name) {
      return kind;
    }
  }
  return std::nullopt;
}

Result<ReportTable> build_report(Store& store, const ReportRequest& request, const TimeZone& zone,
                                 Timestamp now) {
  auto vocabulary = read_vocabulary(store);
  if (!vocabulary) {
    return vocabulary.error();
  }
  if (request.workflow && vocabulary->workflows.count(*request.workflow) == 0) {
    return invalid_param("workflow", "is not a workflow this engine has loaded");
  }
  Result<ReportTable> table = Error{};
  switch (request.kind) {
    case ReportKind::caseload:
      table = caseload(store, request, now);
      break;
    case ReportKind::flow:
      table = flow(store, request, now);
      break;
    case ReportKind::outcomes:
      table = outcomes(store, *vocabulary, request);
      break;
    case ReportKind::cwc_quarterly:
      table = cwc_quarterly(store, *vocabulary, request, zone, now);
      break;
    case ReportKind::aftercare_list:
      table = aftercare_list(store, *vocabulary, request, zone, now);
      break;
  }
  if (table && request.workflow) {
    table->meta["workflow"] = *request.workflow;
  }
  if (table) {
    table->meta["generated_at"] = format_timestamp(now);
    // The versions are in (workflow, version) order: the last one of a workflow is its latest.
    for (const auto& [key, words] : vocabulary->versions) {
      table->state_order[key.first] = words.states;
    }
  }
  return table;
}

std::string report_chart_svg(const ReportTable& table, const TimeZone& zone) {
  std::vector<ChartBar> bars;
  std::string title;
  std::string subtitle;
  const auto column = [&](std::string_view name) -> std::size_t {
    const auto it = std::find(table.columns.begin(), table.columns.end(), name);
    return static_cast<std::size_t>(it - table.columns.begin());
  };
  const std::string period =
      meta_text(table, "period").empty() ? local_period(table, zone) : meta_text(table, "period");
  // The rows in the order the chart lists them: stable, so rows of equal rank keep the table's
  // order (by name).
  std::vector<const std::vector<boost::json::value>*> rows;
  for (const auto& row : table.rows) {
    rows.push_back(&row);
  }
  const auto by_lifecycle = [&](bool one_workflow) {
    const std::size_t w = column("workflow");
    const std::size_t s = column("state");
    if (w >= table.columns.size() || s >= table.columns.size()) {
      return;
    }
    if (one_workflow) {
      for (const auto* row : rows) {
        if (text_of((*row)[w]) != text_of((*rows.front())[w])) {
          return;  // several workflows share the labels: their orders do not merge
        }
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [&](const auto* a, const auto* b) {
      const std::string wa = text_of((*a)[w]);
      const std::string wb = text_of((*b)[w]);
      if (wa != wb) {
        return wa < wb;
      }
      return lifecycle_rank(table, wa, text_of((*a)[s])) <
             lifecycle_rank(table, wb, text_of((*b)[s]));
    });
  };
  if (table.report == "caseload") {
    title = "Open cases by state";
    subtitle = "on " + local_meta_instant(table, "at", zone) + "; colour: workflow";
    by_lifecycle(true);
    for (const auto* row_ptr : rows) {
      const auto& row = *row_ptr;
      bars.push_back({text_of(row[column("state")]), text_of(row[column("workflow")]),
                      int_of(row[column("cases")])});
    }
  } else if (table.report == "flow") {
    title = "Cases entering and leaving each state";
    subtitle = period;
    by_lifecycle(false);
    for (const auto* row_ptr : rows) {
      const auto& row = *row_ptr;
      const std::string label =
          text_of(row[column("workflow")]) + ": " + text_of(row[column("state")]);
      bars.push_back({label, "entered", int_of(row[column("entered")])});
      bars.push_back({label, "left", int_of(row[column("left")])});
    }
  } else if (table.report == "outcomes") {
    title = "Closed cases by outcome";
    subtitle = meta_text(table, "from").empty() ? std::string("every closed case") : period;
    subtitle += "; colour: workflow";
    for (const auto& row : table.rows) {
      bars.push_back({text_of(row[column("outcome")]), text_of(row[column("workflow")]),
                      int_of(row[column("cases")])});
    }
  } else if (table.report == "cwc-quarterly") {
    title = "Children restored, dead or run away (JJ Act s.40(4))";
    subtitle = period + "; colour: home";
    for (const auto& row : table.rows) {
      for (const char* figure : {"restored", "died", "ran_away"}) {
        bars.push_back({figure, text_of(row[column("home")]), int_of(row[column(figure)])});
      }
    }
  } else {
    title = "Aftercare: children by status at the end of the period";
    subtitle = period;
    for (const auto& row : table.rows) {
      bars.push_back({text_of(row[column("status_at_end")]), "", 1});
    }
  }
  if (const auto* w = table.meta.if_contains("workflow"); w != nullptr && w->is_string()) {
    subtitle += "; workflow " + std::string(w->get_string());
  }
  return svg_bar_chart(title, subtitle, bars);
}

}  // namespace carepath::api
