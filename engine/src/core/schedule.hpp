// Time rules of a workflow applied to one case: which timers a change schedules or cancels, how
// statutory clocks start, pause, stop and breach, and what a case's "scheduled vs actual" sheet
// says. Pure functions of their arguments; the runtime stores what they return.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/duration.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "core/store.hpp"
#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath {

// One change of a case, as the time rules see it.
struct TimeChange {
  std::string case_id{};
  std::optional<std::string> event{};  // the event taken; nullopt when opened or edited
  bool entered = false;  // `state` was entered: the case was opened or moved to another state
  std::string state{};   // the state after the change
  const boost::json::object* data = nullptr;  // the case data after the change
  std::span<const std::string> changed{};     // names of the fields the change set
  Timestamp at = 0;
};

// Adds to `effects` what `change` does to the case's timers and clocks: the old state's timers
// cancelled and the new state's scheduled when it entered a state, `at:` timers moved when their
// field changed, clocks started, stopped, excluded, and their warning and breach timers. Entering
// a final state stops every running clock (see ClockStatus::state).
// `clocks` are the case's clock records before the change.
void plan_time(const Workflow& workflow, const TimeChange& change,
               std::span<const ClockRecord> clocks, const TimeZone& zone, CaseEffects& effects);

// What a migration does to a case's timers and clocks.
struct MigratedTime {
  std::vector<std::string> carried_timers{};  // names on the new version
  std::vector<std::string> dropped_timers{};  // names on the old version
  std::vector<std::string> carried_clocks{};
  std::vector<std::string> dropped_clocks{};  // running clocks the new version does not declare
};

// Plans the timers and clocks of a case moved from `from_state` to `after.state` (on version `to`,
// `after` being the case as it will be) at `now`:
// a pending timer of the old state carries over, with its due time, when the new state declares a
// timer of the same name (the state part renamed by the plan: "in_care/after/0" becomes
// "care_and_education/after/0"); the new state's other timers are scheduled as on entering it;
// old timers without a counterpart are dropped. A clock carries over, with its deadline, when
// the new version declares one of the same name, and its warning and breach timers take the new
// version's events; a running clock it does not declare is stopped. No clock starts: a migration
// is not an event. `timers` are the case's pending timers, `clocks` its clock records.
MigratedTime plan_migrated_time(const Workflow& to, const CaseRecord& after,
                                const std::string& from_state, std::span<const TimerRecord> timers,
                                std::span<const ClockRecord> clocks, Timestamp now,
                                const TimeZone& zone, CaseEffects& effects);

// When a timer of kind "timer" fires, what comes next: for `every`, the first occurrence after
// `now` (a timer that fell due while the engine was down fires once, not once per missed
// period); nullopt for one-shot timers.
std::optional<TimerRecord> next_occurrence(const Timer& timer, const TimerRecord& fired,
                                           Timestamp now, const TimeZone& zone);

// The due time of occurrence `n` (1-based) of an `every` timer anchored at `anchor`.
Timestamp occurrence_due(const Timer& timer, Timestamp anchor, std::int64_t n,
                         const TimeZone& zone);

// The timer with `name` in `workflow` (a state's), or nullptr.
const Timer* find_timer(const Workflow& workflow, std::string_view name);

// A clock's deadline reached (purpose "warning" or "breach"): the record updated. The caller
// fires the clock's on_warning / on_breach event.
ClockRecord clock_deadline_reached(ClockRecord record, const std::string& purpose, Timestamp at);

// Pausing, resuming and extending a clock by hand: always with a reason, kept in the clock's log
// and in the case history.
enum class ClockAction { pause, resume, extend };

struct ClockAdjustment {
  ClockAction action = ClockAction::extend;
  std::string clock{};
  std::string reason{};
  std::optional<Duration> by{};  // extend: how much longer
  std::string actor{};
  Timestamp at = 0;
};

// The clock record after `adjustment`, with its timers rescheduled in `effects`.
// Errc::conflict when the clock has not started, has stopped, or is not in a state the action
// applies to; Errc::unprocessable when `by` is missing or zero for an extension.
Result<ClockRecord> adjust_clock(const ClockDef& def, ClockRecord record,
                                 const ClockAdjustment& adjustment, const TimeZone& zone,
                                 CaseEffects& effects);

// "clock_extended", "clock_paused", "clock_resumed": the history event of an adjustment.
std::string adjustment_event(ClockAction action);
std::optional<ClockAction> adjustment_action(std::string_view event);

// A clock as people read it at `now`.
struct ClockStatus {
  std::string name{};
  std::string title{};
  // "not_started", "running", "warning", "paused", "breached", "met", or "cancelled" (the case
  // reached a final state before the clock's stop, in time).
  std::string state{};
  std::optional<Timestamp> started{};
  std::optional<Timestamp> due{};  // while paused: the deadline if it resumed now
  std::optional<Timestamp> warn_at{};
  std::optional<Timestamp> stopped{};
  std::optional<Timestamp> warned_at{};
  std::optional<Timestamp> breached_at{};
  std::optional<std::int64_t> remaining_ms{};  // due - now while not stopped; negative overdue
  std::int64_t excluded_ms = 0;                // including an exclusion or pause still open
  std::optional<std::string> pause_kind{};
  boost::json::array log{};
};

// `record` may be null (not started); `def` may be null (a clock a later version dropped).
ClockStatus clock_status(const std::string& name, const ClockDef* def, const ClockRecord* record,
                         Timestamp now);

// One line of a case's "scheduled vs actual" sheet.
struct ScheduleRow {
  std::string kind{};  // "clock" or "timer"
  std::string name{};  // the clock's name, or the timer's event
  std::string title{};
  std::optional<Timestamp> due{};
  std::optional<Timestamp> actual{};  // clock: stopped; timer: fired, or its met_by event
  // clock: "running", "warning", "paused", "met", "breached"; timer: "pending", "fired",
  // "met", "open" (fired, its met_by not yet recorded), "skipped", "cancelled".
  std::string status{};
  std::optional<std::int64_t> late_ms{};  // actual - due, when both are known and positive
  std::optional<std::string> note{};
};

// Rows by due time: every started clock, and every timer that is pending or has ended (fired,
// skipped, or cancelled after it was due... a timer cancelled before it fell due is left out: it
// was never scheduled work). `history` is the case's, oldest first, for `met_by` events.
std::vector<ScheduleRow> build_schedule(const Workflow& workflow,
                                        std::span<const ClockRecord> clocks,
                                        std::span<const TimerRecord> timers,
                                        std::span<const HistoryEntry> history, Timestamp now);

}  // namespace carepath
