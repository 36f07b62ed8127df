// The report charts (api/reports.hpp report_chart_svg) on constructed tables: states in the order
// their workflow declares them, and the instants of the subtitle on the organisation's calendar
// and clock.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/reports.hpp"
#include "core/report.hpp"
#include "core/timezone.hpp"

namespace carepath::api {
namespace {

const TimeZone kKolkata = TimeZone::with_offset("Asia/Kolkata", 19'800);

// The aftercare states in the order workflows/aftercare.yaml declares them.
const std::vector<std::string> kAftercareOrder{
    "intake",         "assessment",  "medical_hold", "care_plan",    "in_care",
    "reintegration",  "follow_up",   "missing",      "repatriation", "closed",
    "closed_missing", "transferred", "repatriated",  "aged_out",     "died"};

// A caseload table as build_report makes it: rows by workflow, then state name.
ReportTable caseload(const std::vector<std::pair<std::string, std::string>>& rows) {
  ReportTable table;
  table.report = "caseload";
  table.columns = {"workflow", "state", "home", "assignee", "cases"};
  table.meta["at"] = "2026-09-21T20:00:00.000Z";
  for (const auto& [workflow, state] : rows) {
    table.rows.push_back({boost::json::value(workflow), boost::json::value(state),
                          boost::json::value("umang"), boost::json::value(nullptr),
                          boost::json::value(1)});
  }
  table.state_order["aftercare"] = kAftercareOrder;
  table.state_order["education_support"] = {"enrolled", "attending", "completed"};
  return table;
}

ReportTable flow(const std::vector<std::pair<std::string, std::string>>& rows) {
  ReportTable table = caseload({});
  table.report = "flow";
  table.meta.erase("at");
  table.meta["from"] = "2026-08-31T18:30:00.000Z";  // local midnight in Kolkata
  table.meta["to"] = "2026-09-30T18:30:00.000Z";
  table.columns = {"workflow",  "state",  "entered",     "left",    "stays",
                   "median_ms", "p90_ms", "median_days", "p90_days"};
  for (const auto& [workflow, state] : rows) {
    table.rows.push_back({boost::json::value(workflow), boost::json::value(state),
                          boost::json::value(2), boost::json::value(1), boost::json::value(1),
                          boost::json::value(nullptr), boost::json::value(nullptr),
                          boost::json::value(nullptr), boost::json::value(nullptr)});
  }
  return table;
}

// Where each label is drawn; fails the test for a label that is not there.
std::vector<std::size_t> positions(const std::string& svg, const std::vector<std::string>& labels) {
  std::vector<std::size_t> out;
  for (const auto& label : labels) {
    const auto at = svg.find(">" + label + "</text>");
    EXPECT_NE(at, std::string::npos) << label << " is not drawn";
    out.push_back(at);
  }
  return out;
}

bool ascending(const std::vector<std::size_t>& v) {
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i - 1] >= v[i]) {
      return false;
    }
  }
  return true;
}

TEST(ReportChart, CaseloadOfOneWorkflowListsItsStatesInLifecycleOrder) {
  // By name: assessment, in_care, intake, legacy_hold, missing. legacy_hold is a state of an
  // older version that the latest does not declare: it comes after the declared ones.
  const std::string svg = report_chart_svg(caseload({{"aftercare", "assessment"},
                                                     {"aftercare", "in_care"},
                                                     {"aftercare", "in_care"},
                                                     {"aftercare", "intake"},
                                                     {"aftercare", "legacy_hold"},
                                                     {"aftercare", "missing"}}),
                                           kKolkata);
  EXPECT_TRUE(
      ascending(positions(svg, {"intake", "assessment", "in_care", "missing", "legacy_hold"})))
      << svg;
  // The two rows of in_care (two homes, say) are still one bar.
  const auto first = svg.find(">in_care</text>");
  EXPECT_EQ(svg.find(">in_care</text>", first + 1), std::string::npos) << svg;
}

TEST(ReportChart, CaseloadOfSeveralWorkflowsKeepsTheStatesByName) {
  // The bars of one state name are drawn side by side for each workflow: no single lifecycle.
  const std::string svg = report_chart_svg(caseload({{"aftercare", "intake"},
                                                     {"education_support", "attending"},
                                                     {"education_support", "enrolled"}}),
                                           kKolkata);
  EXPECT_TRUE(ascending(positions(svg, {"intake", "attending", "enrolled"}))) << svg;
}

TEST(ReportChart, CaseloadWithoutAStoredOrderKeepsTheStatesByName) {
  ReportTable table = caseload({{"aftercare", "in_care"}, {"aftercare", "intake"}});
  table.state_order.clear();
  const std::string svg = report_chart_svg(table, kKolkata);
  EXPECT_TRUE(ascending(positions(svg, {"in_care", "intake"}))) << svg;
}

TEST(ReportChart, FlowListsEachWorkflowsStatesInLifecycleOrder) {
  const std::string svg = report_chart_svg(flow({{"aftercare", "died"},
                                                 {"aftercare", "in_care"},
                                                 {"aftercare", "intake"},
                                                 {"education_support", "completed"},
                                                 {"education_support", "enrolled"}}),
                                           kKolkata);
  EXPECT_TRUE(
      ascending(positions(svg, {"aftercare: intake", "aftercare: in_care", "aftercare: died",
                                "education_support: enrolled", "education_support: completed"})))
      << svg;
}

TEST(ReportChart, SubtitleShowsInstantsInTheOrganisationsTimeZone) {
  // 20:00 UTC is 01:30 the next day in Kolkata.
  const std::string load = report_chart_svg(caseload({{"aftercare", "intake"}}), kKolkata);
  EXPECT_NE(load.find(">on 2026-09-22 01:30 (Asia/Kolkata); colour: workflow</text>"),
            std::string::npos)
      << load;
  EXPECT_EQ(load.find("2026-09-21T20:00"), std::string::npos) << load;

  // A period of whole local days reads as its first and last day.
  const ReportTable moved = flow({{"aftercare", "intake"}});
  const std::string days = report_chart_svg(moved, kKolkata);
  EXPECT_NE(days.find(">2026-09-01 to 2026-09-30 (Asia/Kolkata)</text>"), std::string::npos)
      << days;
  // The same instants are not whole days in UTC: shown to the minute.
  const std::string utc = report_chart_svg(moved, TimeZone::utc());
  EXPECT_NE(utc.find(">2026-08-31 18:30 to 2026-09-30 18:30 (UTC)</text>"), std::string::npos)
      << utc;

  // Outcomes over a period, with the workflow filter named after it.
  ReportTable ended;
  ended.report = "outcomes";
  ended.columns = {"workflow", "final_state", "outcome", "cases"};
  ended.meta["from"] = "2026-09-01T04:00:00.000Z";
  ended.meta["to"] = "2026-09-02T04:00:00.000Z";
  ended.meta["workflow"] = "aftercare";
  const std::string outcomes = report_chart_svg(ended, kKolkata);
  EXPECT_NE(outcomes.find(
                ">2026-09-01 09:30 to 2026-09-02 09:30 (Asia/Kolkata); colour: workflow; workflow "
                "aftercare</text>"),
            std::string::npos)
      << outcomes;

  // A named period (the CWC's quarter) is shown by its name.
  ReportTable quarter;
  quarter.report = "cwc-quarterly";
  quarter.columns = {"workflow", "home", "restored", "died", "ran_away"};
  quarter.meta["from"] = "2026-06-30T18:30:00.000Z";
  quarter.meta["to"] = "2026-09-30T18:30:00.000Z";
  quarter.meta["period"] = "2026-Q3";
  const std::string cwc = report_chart_svg(quarter, kKolkata);
  EXPECT_NE(cwc.find(">2026-Q3; colour: home</text>"), std::string::npos) << cwc;
}

}  // namespace
}  // namespace carepath::api
