// SqliteStore's report queries (docs/reports.md): counts grouped over the indexes of schema
// versions 10 and 11. tests/store/sqlite_reports_test.cpp checks their figures and their plans.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
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
    Timestamp from, Timestamp to, const std::optional<std::string>& workflow,
    const std::vector<std::string>& events) {
  if (auto ok = check_range(from, to); !ok) {
    return ok.error();
  }
  std::vector<std::string> names = events;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::lock_guard lock(mutex_);
  // One read snapshot for every event's statement.
  if (auto begun = execute("BEGIN", "begin report"); !begun) {
    return begun.error();
  }
  struct Rollback {
    SqliteStore* store;
    ~Rollback() { (void)store->execute("ROLLBACK", "end report"); }
  } rollback{this};
  std::vector<EventCount> out;
  for (const auto& event : names) {
    auto select = prepare(kReportEventCountsSql);
    if (!select) {
      return select.error();
    }
    select->bind_int64(1, from);
    select->bind_int64(2, to);
    select->bind_optional_text(3, workflow);
    select->bind_text(4, event);
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
  }
  return out;
}

Result<std::vector<MoveCount>> SqliteStore::report_moves(
    Timestamp from, Timestamp to, const std::optional<std::string>& workflow) {
  if (auto ok = check_range(from, to); !ok) {
    return ok.error();
  }
  std::lock_guard lock(mutex_);
  auto select = prepare(kReportMovesSql);
  if (!select) {
    return select.error();
  }
  select->bind_int64(1, from);
  select->bind_int64(2, to);
  select->bind_optional_text(3, workflow);
  std::vector<MoveCount> out;
  for (;;) {
    auto row = select->step("report moves");
    if (!row) {
      return row.error();
    }
    if (!*row) {
      break;
    }
    out.push_back(
        MoveCount{select->text(0), select->optional_text(1), select->text(2), select->int64(3)});
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

// Three index-only reads joined in memory, so that the cost follows the entries read in order
// (the cases still open at `since`, the leavings before `until`, the changes of state since
// `until`) rather than one random read of a case and one of its history per child listed.
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

  // The cases not closed before `since`, each with its last leaving once found, and the
  // (at, seq) of its first change of state since `until`.
  struct Candidate {
    LeftCareRecord record;
    bool left = false;
    std::pair<Timestamp, std::int64_t> first_move{0, 0};
    bool moved = false;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const {
      return std::hash<std::string_view>{}(text);
    }
  };
  std::unordered_map<std::string, Candidate, Hash, std::equal_to<>> candidates;
  {
    auto select = prepare(kReportListedCasesSql);
    if (!select) {
      return select.error();
    }
    select->bind_text(1, query.workflow);
    select->bind_int64(2, query.since);
    for (;;) {
      auto row = select->step("report cases in aftercare");
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      Candidate candidate;
      LeftCareRecord& record = candidate.record;
      record.code = select->text(1);
      record.workflow_version = static_cast<int>(select->int64(2));
      record.placement = select->optional_text(3);
      record.state = select->text(4);
      record.closed_at = select->optional_int64(5);
      candidates.emplace(select->text(0), std::move(candidate));
    }
  }

  for (std::size_t i = 0; i < query.events.size(); ++i) {
    const auto& [event, from_state] = query.events[i];
    auto select = prepare(kReportLeftCareSql);
    if (!select) {
      return select.error();
    }
    select->bind_text(1, event);
    select->bind_int64(2, query.until);
    select->bind_optional_text(3, from_state);
    select->bind_text(4, query.workflow);
    for (;;) {
      auto row = select->step("report left care");
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      const auto it = candidates.find(select->text_view(0));
      if (it == candidates.end()) {
        continue;  // closed before the period began
      }
      const Timestamp at = select->int64(1);
      Candidate& candidate = it->second;
      if (!candidate.left || candidate.record.left_at < at) {
        candidate.left = true;
        candidate.record.left_at = at;
        candidate.record.event = event;
        candidate.record.left_from = select->text(2);
      }
    }
  }

  // The state at `until` is the one the first change of state since then left.
  {
    auto select = prepare(kReportMovesSinceSql);
    if (!select) {
      return select.error();
    }
    select->bind_int64(1, query.until);
    select->bind_text(2, query.workflow);
    for (;;) {
      auto row = select->step("report state at the end");
      if (!row) {
        return row.error();
      }
      if (!*row) {
        break;
      }
      const auto it = candidates.find(select->text_view(0));
      if (it == candidates.end() || !it->second.left) {
        continue;
      }
      Candidate& candidate = it->second;
      const std::pair<Timestamp, std::int64_t> key{select->int64(2), select->int64(1)};
      if (!candidate.moved || key < candidate.first_move) {
        candidate.moved = true;
        candidate.first_move = key;
        candidate.record.state_at = select->text(3);
      }
    }
  }

  std::vector<LeftCareRecord> out;
  for (auto& [id, candidate] : candidates) {
    if (!candidate.left) {
      continue;
    }
    LeftCareRecord& record = candidate.record;
    record.workflow = query.workflow;
    if (!candidate.moved) {
      record.state_at = record.state;
    }
    out.push_back(std::move(record));
  }
  std::sort(out.begin(), out.end(), [](const LeftCareRecord& a, const LeftCareRecord& b) {
    return a.left_at != b.left_at ? a.left_at < b.left_at : a.code < b.code;
  });
  return out;
}

}  // namespace carepath::store
