// The reports of docs/reports.md, put together from the Store's counts and the outcome words of
// the stored workflow sources (`outcome:` on final states, `counts_as:` on transitions). Used by
// GET /v1/reports/{name} (router.cpp) and `carepath report` (app/main.cpp), which read the same
// database and so give the same figures.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/report.hpp"
#include "core/store.hpp"
#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath::api {

enum class ReportKind { caseload = 1, flow, outcomes, cwc_quarterly, aftercare_list };

// "caseload", "flow", "outcomes", "cwc-quarterly", "aftercare-list".
std::string_view report_kind_name(ReportKind kind);
std::optional<ReportKind> parse_report_kind(std::string_view name);

struct ReportRequest {
  ReportKind kind = ReportKind::caseload;
  std::optional<std::string> workflow{};
  // flow (default: the 30 days before now) and outcomes (default: every closed case).
  std::optional<Timestamp> from{};
  std::optional<Timestamp> to{};
  // cwc-quarterly: "2026-Q3" (default: the last whole quarter); aftercare-list: "2026-H1"
  // (default: the last whole half year). On the organisation's calendar.
  std::optional<std::string> period{};
};

// Errc::invalid_argument with `invalid_params` (type invalid-params) for a workflow no stored
// source names, a malformed period, or a period that ends before it starts; a Store error as is.
Result<ReportTable> build_report(Store& store, const ReportRequest& request, const TimeZone& zone,
                                 Timestamp now);

// The report's chart (core svg_bar_chart): caseload by state, flow in and out of each state,
// outcomes by outcome, the CWC figures by home, the aftercare list by status. States are listed
// in the order their workflow declares them (table.state_order): the caseload's when all its
// rows are of one workflow (else by name), the flow's workflow by workflow. The instants in the
// subtitle are shown on the calendar and clock of `zone`, the organisation's time zone.
std::string report_chart_svg(const ReportTable& table, const TimeZone& zone);

}  // namespace carepath::api
