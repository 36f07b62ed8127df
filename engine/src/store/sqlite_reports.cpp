// SqliteStore's report queries (docs/reports.md): counts grouped over the indexes of schema
// version 10. tests/store/sqlite_reports_test.cpp checks their figures and their plans.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

Result<void> check_range(Timestamp from, Timestamp to) {
  if (from > to) {
    return make_error(Errc::invalid_argument, "a report period must not end before it starts");
  }
  return {};
}

}  // namespace

Result<std::vector<CaseloadCount>> SqliteStore::report_caseload(
    const std::optional<std::string>& workflow) {
  std::lock_guard lock(mutex_);
  auto select = prepare(kReportCaseloadSql);
  if (!select) {
    return select.error();
  }
  select->bind_optional_text(1, workflow);
  std::vector<CaseloadCount> out;
  for (;;) {
    auto row = select->step("report caseload");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    out.push_back(CaseloadCount{select->text(0), select->text(1), select->optional_text(2),
                                select->optional_text(3), select->int64(4)});
  }
  return out;
}

Result<std::vector<EventCount>> SqliteStore::report_event_counts(
    Timestamp from, Timestamp to, const std::optional<std::string>& workflow) {
  if (auto ok = check_range(from, to); !ok) {
    return ok.error();
  }
  std::lock_guard lock(mutex_);
  auto select = prepare(kReportEventCountsSql);
  if (!select) {
    return select.error();
  }
  select->bind_int64(1, from);
  select->bind_int64(2, to);
  select->bind_optional_text(3, workflow);
  std::vector<EventCount> out;
  for (;;) {
    auto row = select->step("report event counts");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    out.push_back(EventCount{select->text(0), static_cast<int>(select->int64(1)), select->text(2),
                             select->optional_text(3), select->text(4), select->optional_text(5),
                             select->int64(6), select->int64(7)});
  }
  return out;
}

Result<std::vector<StateStays>> SqliteStore::report_stays(
    Timestamp from, Timestamp to, const std::optional<std::string>& workflow) {
  if (auto ok = check_range(from, to); !ok) {
    return ok.error();
  }
  std::lock_guard lock(mutex_);
  auto select = prepare(kReportStaysSql);
  if (!select) {
    return select.error();
  }
  select->bind_int64(1, from);
  select->bind_int64(2, to);
  select->bind_optional_text(3, workflow);
  std::vector<StateStays> out;
  for (;;) {
    auto row = select->step("report stays");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    if (select->is_null(2)) {
      continue;  // no earlier entry: cannot happen for a case opened through the engine
    }
    std::string workflow_name = select->text(0);
    std::string state = select->text(1);
    if (out.empty() || out.back().workflow != workflow_name || out.back().state != state) {
      out.push_back(StateStays{std::move(workflow_name), std::move(state), {}});
    }
    out.back().durations_ms.push_back(select->int64(2));  // ORDER BY keeps them ascending
  }
  return out;
}

Result<std::vector<ClosedCount>> SqliteStore::report_closed(
    const std::optional<Timestamp>& from, const std::optional<Timestamp>& to,
    const std::optional<std::string>& workflow) {
  const Timestamp lower = from.value_or(std::numeric_limits<Timestamp>::min());
  const Timestamp upper = to.value_or(std::numeric_limits<Timestamp>::max());
  if (auto ok = check_range(lower, upper); !ok) {
    return ok.error();
  }
  std::lock_guard lock(mutex_);
  auto select = prepare(from || to ? kReportClosedSql : kReportClosedAllSql);
  if (!select) {
    return select.error();
  }
  if (from || to) {
    select->bind_int64(1, lower);
    select->bind_int64(2, upper);
  }
  select->bind_optional_text(3, workflow);
  std::vector<ClosedCount> out;
  for (;;) {
    auto row = select->step("report closed cases");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    out.push_back(ClosedCount{select->text(0), static_cast<int>(select->int64(1)), select->text(2),
                              select->int64(3)});
  }
  return out;
}

Result<std::vector<LeftCareRecord>> SqliteStore::report_left_care(const LeftCareQuery& query) {
  if (auto ok = check_range(query.since, query.until); !ok) {
    return ok.error();
  }
  std::lock_guard lock(mutex_);
  // One read snapshot for every statement below.
  if (auto begun = execute("BEGIN", "begin report"); !begun) {
    return begun.error();
  }
  struct Rollback {
    SqliteStore* store;
    ~Rollback() { (void)store->execute("ROLLBACK", "end report"); }
  } rollback{this};

  std::map<std::string, LeftCareRecord> by_case;  // case id -> its last leaving
  for (const auto& [event, from_state] : query.events) {
    auto select = prepare(kReportLeftCareSql);
    if (!select) {
      return select.error();
    }
    select->bind_text(1, event);
    select->bind_int64(2, query.until);
    select->bind_optional_text(3, from_state);
    select->bind_text(4, query.workflow);
    select->bind_int64(5, query.since);
    for (;;) {
      auto row = select->step("report left care");
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      LeftCareRecord record;
      record.code = select->text(0);
      record.workflow = select->text(1);
      record.workflow_version = static_cast<int>(select->int64(2));
      record.placement = select->optional_text(3);
      record.event = select->text(4);
      record.left_from = select->text(5);
      record.left_at = select->int64(6);
      record.state = select->text(7);
      record.closed_at = select->optional_int64(8);
      const std::string id = select->text(9);
      auto [it, inserted] = by_case.try_emplace(id, record);
      if (!inserted && it->second.left_at < record.left_at) {
        it->second = std::move(record);
      }
    }
  }
  std::vector<std::pair<std::string, LeftCareRecord>> rows(by_case.begin(), by_case.end());
  for (auto& [id, record] : rows) {
    auto select = prepare(kReportStateAtSql);
    if (!select) {
      return select.error();
    }
    select->bind_text(1, id);
    select->bind_int64(2, query.until);
    auto row = select->step("report state at");
    if (!row) {
      return row.error();
    }
    record.state_at = *row ? select->text(0) : record.state;
  }
  std::vector<LeftCareRecord> out;
  out.reserve(rows.size());
  for (auto& [id, record] : rows) {
    out.push_back(std::move(record));
  }
  std::sort(out.begin(), out.end(), [](const LeftCareRecord& a, const LeftCareRecord& b) {
    return a.left_at != b.left_at ? a.left_at < b.left_at : a.code < b.code;
  });
  return out;
}

}  // namespace carepath::store
