// SqliteStore's report queries (docs/reports.md): counts grouped over the indexes of schema
// versions 10 and 11. tests/store/sqlite_reports_test.cpp checks their figures and their plans.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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

// What the aftercare list keeps of a case that left care: its last leaving before the end of the
// half year, and its line in the list once it is found not closed before the start.
struct Leaving {
  static constexpr std::uint32_t kNotListed = std::numeric_limits<std::uint32_t>::max();
  Timestamp at = 0;
  std::uint32_t listed = kNotListed;
  std::uint16_t event = 0;  // index into LeftCareQuery::events
  std::uint16_t from = 0;   // index into the states read
};

// The aftercare list's join in memory, by case id: open addressing with linear probing in one
// array of 24-byte slots, the ids copied once (behind their length) into one arena. A lookup is
// one random read where a node-based map takes three, and the memory is a third: at half a
// million cases, on a virtual machine where touching fresh memory is dear, that halves the list.
class LeavingTable {
 public:
  // Room for `expected` cases before the table grows.
  explicit LeavingTable(std::size_t expected) : slots_(capacity_for(expected)) {
    ids_.reserve(expected * 40);
  }

  Leaving* find(std::string_view id) {
    Slot& slot = probe(id, hash_of(id));
    return slot.offset == kFree ? nullptr : &slot.value;
  }

  // The entry of `id`; `inserted` says whether it is new (and so value-initialized).
  Leaving& at(std::string_view id, bool& inserted) {
    const std::uint32_t hash = hash_of(id);
    Slot* slot = &probe(id, hash);
    inserted = slot->offset == kFree;
    if (!inserted) {
      return slot->value;
    }
    if (4 * (size_ + 1) > 3 * slots_.size()) {
      grow();
      slot = &probe(id, hash);
    }
    const auto size = static_cast<std::uint32_t>(id.size());
    slot->hash = hash;
    slot->offset = static_cast<std::uint32_t>(ids_.size());
    ids_.append(reinterpret_cast<const char*>(&size), sizeof size);
    ids_.append(id);
    slot->value = Leaving{};
    ++size_;
    return slot->value;
  }

 private:
  static constexpr std::uint32_t kFree = std::numeric_limits<std::uint32_t>::max();
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t offset = kFree;  // of the id's length in ids_, then its text
    Leaving value{};
  };

  static std::size_t capacity_for(std::size_t expected) { return expected + expected / 3 + 16; }
  static std::uint32_t hash_of(std::string_view id) {
    return static_cast<std::uint32_t>(std::hash<std::string_view>{}(id));
  }

  std::string_view id_at(std::uint32_t offset) const {
    std::uint32_t size = 0;
    std::memcpy(&size, ids_.data() + offset, sizeof size);
    return {ids_.data() + offset + sizeof size, size};
  }

  // The slot holding `id`, or the free slot where it would go. The table is never full.
  Slot& probe(std::string_view id, std::uint32_t hash) {
    // Lemire's multiply-shift maps the hash onto any table size without a division.
    std::size_t i = static_cast<std::size_t>((std::uint64_t{hash} * slots_.size()) >> 32);
    for (;; i = i + 1 == slots_.size() ? 0 : i + 1) {
      Slot& slot = slots_[i];
      if (slot.offset == kFree || (slot.hash == hash && id_at(slot.offset) == id)) {
        return slot;
      }
    }
  }

  void grow() {
    std::vector<Slot> old(capacity_for(2 * size_));
    old.swap(slots_);
    for (const Slot& slot : old) {
      if (slot.offset != kFree) {
        probe(id_at(slot.offset), slot.hash) = slot;
      }
    }
  }

  std::vector<Slot> slots_;  // at most three quarters used
  std::size_t size_ = 0;
  std::string ids_;
};

}  // namespace

Result<std::vector<CaseloadCount>> SqliteStore::report_caseload(
    const std::optional<std::string>& workflow) {
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(kReportCaseloadSql);
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
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  // One read snapshot for every event's statement.
  if (auto begun = reading->begin_snapshot(); !begun) {
    return begun.error();
  }
  std::vector<EventCount> out;
  for (const auto& event : names) {
    auto select = reading->prepare(kReportEventCountsSql);
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
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(kReportMovesSql);
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
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(kReportStaysSql);
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
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  auto select = reading->prepare(from || to ? kReportClosedSql : kReportClosedAllSql);
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
// (the leavings before `until`, the cases not closed before `since`, the changes of state since
// `until`) rather than one random read of a case and one of its history per child listed. The
// join keeps little per case and copies text only for the children listed: on a million cases
// it holds half a million leavings while the list is a quarter of a million lines.
Result<std::vector<LeftCareRecord>> SqliteStore::report_left_care(const LeftCareQuery& query) {
  if (auto ok = check_range(query.since, query.until); !ok) {
    return ok.error();
  }
  auto reading = reader();
  if (!reading) {
    return reading.error();
  }
  // One read snapshot for every statement below.
  if (auto begun = reading->begin_snapshot(); !begun) {
    return begun.error();
  }

  constexpr std::size_t kMaxIndex = std::numeric_limits<std::uint16_t>::max();
  if (query.events.size() > kMaxIndex) {
    return make_error(Errc::invalid_argument, "too many events for the aftercare list");
  }
  // Each case's last leaving before `until`, keyed by the case id. Counted first: sized for
  // them, the table never grows (which took half the time at a million cases).
  std::size_t expected = 0;
  for (const auto& [event, from_state] : query.events) {
    auto count = reading->prepare(kReportLeftCareCountSql);
    if (!count) {
      return count.error();
    }
    count->bind_text(1, event);
    count->bind_int64(2, query.until);
    auto row = count->step("count leavings");
    if (!row) {
      return row.error();
    }
    expected += static_cast<std::size_t>(count->int64(0));
  }
  LeavingTable leavings(expected);
  std::vector<std::string> states;  // the states left, each once (a workflow has a few)
  const auto state_index = [&states](std::string_view state) {
    const auto found = std::find(states.begin(), states.end(), state);
    if (found != states.end()) {
      return static_cast<std::size_t>(found - states.begin());
    }
    states.emplace_back(state);
    return states.size() - 1;
  };
  for (std::size_t i = 0; i < query.events.size(); ++i) {
    const auto& [event, from_state] = query.events[i];
    auto select = reading->prepare(kReportLeftCareSql);
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
      const std::string_view id = select->text_view(0);
      const Timestamp at = select->int64(1);
      bool inserted = false;
      Leaving& leaving = leavings.at(id, inserted);
      if (!inserted && leaving.at >= at) {
        continue;  // a later leaving of this case was already read
      }
      leaving.at = at;
      leaving.event = static_cast<std::uint16_t>(i);
      const std::size_t from = state_index(select->text_view(2));
      if (from > kMaxIndex) {
        return make_error(Errc::internal, "too many states for the aftercare list");
      }
      leaving.from = static_cast<std::uint16_t>(from);
    }
  }

  // The cases not closed before `since` that left care: the list.
  std::vector<LeftCareRecord> out;
  // Never more lines than leavings; reserved address space costs nothing until it is written.
  out.reserve(expected);
  {
    auto select = reading->prepare(kReportListedCasesSql);
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
      Leaving* found = leavings.find(select->text_view(0));
      if (found == nullptr) {
        continue;  // never left care before `until`
      }
      Leaving& leaving = *found;
      leaving.listed = static_cast<std::uint32_t>(out.size());
      LeftCareRecord& record = out.emplace_back();
      record.code = select->text(1);
      record.workflow = query.workflow;
      record.workflow_version = static_cast<int>(select->int64(2));
      record.placement = select->optional_text(3);
      record.state = select->text(4);
      record.closed_at = select->optional_int64(5);
      record.event = query.events[leaving.event].first;
      record.left_from = states[leaving.from];
      record.left_at = leaving.at;
    }
  }

  // The state at `until` is the one the first change of state since then left; a case that has
  // not changed state since is still in it.
  std::vector<std::pair<Timestamp, std::int64_t>> first_move(out.size(), {0, 0});
  std::vector<bool> moved(out.size(), false);
  {
    auto select = reading->prepare(kReportMovesSinceSql);
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
      const Leaving* found = leavings.find(select->text_view(0));
      if (found == nullptr || found->listed == Leaving::kNotListed) {
        continue;
      }
      const auto line = static_cast<std::size_t>(found->listed);
      const std::pair<Timestamp, std::int64_t> key{select->int64(2), select->int64(1)};
      if (!moved[line] || key < first_move[line]) {
        moved[line] = true;
        first_move[line] = key;
        out[line].state_at = select->text(3);
      }
    }
  }
  for (std::size_t line = 0; line < out.size(); ++line) {
    if (!moved[line]) {
      out[line].state_at = out[line].state;
    }
  }
  std::sort(out.begin(), out.end(), [](const LeftCareRecord& a, const LeftCareRecord& b) {
    return a.left_at != b.left_at ? a.left_at < b.left_at : a.code < b.code;
  });
  return out;
}

}  // namespace carepath::store
