#include "core/schedule.hpp"

#include <algorithm>
#include <limits>

#include "core/saturating.hpp"

namespace carepath {
namespace {

constexpr std::string_view kExcluded = "excluded";
constexpr std::string_view kPaused = "paused";
constexpr std::string_view kCaseClosed = "case_closed";

// t - d in `zone`: add_duration counts negative parts backwards on the same calendar.
Timestamp subtract_duration(Timestamp t, const Duration& d, const TimeZone& zone) {
  return add_duration(t, Duration{-d.months, -d.days, -d.ms}, zone);
}

bool matches(const std::vector<ClockTrigger>& triggers, const TimeChange& change) {
  return std::any_of(triggers.begin(), triggers.end(), [&](const ClockTrigger& t) {
    return t.kind == ClockTrigger::Kind::on_event ? change.event && *change.event == t.name
                                                  : change.entered && change.state == t.name;
  });
}

// The instant a date or datetime field names: a date falls due when its day starts locally.
std::optional<Timestamp> field_instant(const boost::json::object& data, const std::string& field,
                                       const TimeZone& zone) {
  const auto* value = data.if_contains(field);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  const std::string_view text = value->get_string();
  if (const auto day = parse_date(text)) {
    return zone.start_of_day(*day);
  }
  return parse_datetime(text);
}

TimerRecord make_timer(const std::string& case_id, std::string kind, std::string name,
                       std::string purpose, std::optional<std::string> event, Timestamp due,
                       Timestamp now) {
  TimerRecord t;
  t.case_id = case_id;
  t.kind = std::move(kind);
  t.name = std::move(name);
  t.purpose = std::move(purpose);
  t.event = std::move(event);
  t.due_at = due;
  t.anchor_at = now;
  t.status = "pending";
  t.created_at = now;
  return t;
}

void schedule_state_timer(const Timer& timer, const TimeChange& change, const TimeZone& zone,
                          CaseEffects& effects) {
  std::optional<Timestamp> due;
  switch (timer.kind) {
    case Timer::Kind::after:
      due = add_duration(change.at, timer.delay, zone);
      break;
    case Timer::Kind::at:
      due = field_instant(*change.data, timer.field, zone);
      break;
    case Timer::Kind::every:
      due = occurrence_due(timer, change.at, 1, zone);
      break;
  }
  if (due) {
    effects.timers.push_back(
        make_timer(change.case_id, "timer", timer.name, "fire", timer.event, *due, change.at));
  }
}

// due_at and warn_at from the rest of the record.
void recompute(const ClockDef& def, ClockRecord& r, const TimeZone& zone) {
  if (r.paused_since) {
    r.due_at.reset();
    r.warn_at.reset();
    return;
  }
  r.due_at = r.base_due_at + r.excluded_ms;
  r.warn_at.reset();
  if (def.warn_before) {
    r.warn_at = subtract_duration(*r.due_at, *def.warn_before, zone);
  }
}

void end_pause(ClockRecord& r, Timestamp at) {
  if (r.paused_since) {
    r.excluded_ms += std::max<std::int64_t>(0, at - *r.paused_since);
    r.paused_since.reset();
    r.pause_kind.reset();
  }
}

void stop_clock(const ClockDef& def, ClockRecord& r, Timestamp at, const TimeZone& zone) {
  end_pause(r, at);
  recompute(def, r, zone);
  r.stopped_at = at;
  if (!r.breached_at && r.due_at && at > *r.due_at) {
    r.breached_at = *r.due_at;  // met late: the deadline passed while the engine was not told
  }
}

// The warning and breach timers of a running clock.
void add_clock_timers(const ClockDef& def, const ClockRecord& r, Timestamp now,
                      CaseEffects& effects) {
  effects.timer_cancels.push_back(TimerCancel{"clock", def.name});
  if (r.stopped_at || !r.due_at) {
    return;
  }
  if (r.warn_at && !r.warned_at && !r.breached_at && *r.due_at > now) {
    effects.timers.push_back(
        make_timer(r.case_id, "clock", def.name, "warning", def.on_warning.event, *r.warn_at, now));
  }
  if (!r.breached_at) {
    effects.timers.push_back(
        make_timer(r.case_id, "clock", def.name, "breach", def.on_breach.event, *r.due_at, now));
  }
}

// What `change` does to one clock; nullopt when nothing.
std::optional<ClockRecord> apply_to_clock(const Workflow& workflow, const ClockDef& def,
                                          const ClockRecord* current, const TimeChange& change,
                                          bool closes_case, const TimeZone& zone) {
  if (current == nullptr) {
    if (!matches(def.starts, change)) {
      return std::nullopt;
    }
    ClockRecord r;
    r.case_id = change.case_id;
    r.name = def.name;
    r.workflow = workflow.name;
    r.started_at = change.at;
    r.base_due_at = add_duration(change.at, def.due, zone);
    recompute(def, r, zone);
    return r;
  }
  if (current->stopped_at) {
    return std::nullopt;  // a clock runs once per case
  }
  ClockRecord r = *current;
  if (matches(def.stops, change)) {
    stop_clock(def, r, change.at, zone);
    return r;
  }
  if (change.entered && closes_case) {
    // The case ended before the clock's own stop: nothing is left to count. A deadline that had
    // already passed stays breached; otherwise the clock is cancelled, not met.
    stop_clock(def, r, change.at, zone);
    r.log.emplace_back(boost::json::object{{"at", format_timestamp(change.at)},
                                           {"action", std::string(kCaseClosed)},
                                           {"state", change.state}});
    return r;
  }
  if (!change.event) {
    return std::nullopt;
  }
  for (const auto& [opens, closes] : def.excludes) {
    if (*change.event == opens && !r.paused_since) {
      r.paused_since = change.at;
      r.pause_kind = std::string(kExcluded);
      recompute(def, r, zone);
      return r;
    }
    if (*change.event == closes && r.pause_kind == kExcluded) {
      end_pause(r, change.at);
      recompute(def, r, zone);
      return r;
    }
  }
  return std::nullopt;
}

std::string describe_timer(const Timer& timer, const std::string& state) {
  switch (timer.kind) {
    case Timer::Kind::after:
      return format_duration(timer.delay) + " after entering " + state;
    case Timer::Kind::at:
      return "on " + timer.field + " (in " + state + ")";
    case Timer::Kind::every:
      return "every " + format_duration(timer.delay) + " in " + state;
  }
  return state;
}

}  // namespace

const Timer* find_timer(const Workflow& workflow, std::string_view name) {
  for (const State& state : workflow.states) {
    for (const Timer& timer : state.timers) {
      if (timer.name == name) {
        return &timer;
      }
    }
  }
  return nullptr;
}

Timestamp occurrence_due(const Timer& timer, Timestamp anchor, std::int64_t n,
                         const TimeZone& zone) {
  // One step from the anchor (first + (n - 1) x interval, part by part), so that a monthly
  // series anchored on the 31st stays on month ends instead of drifting to the 28th.
  const std::int64_t k = std::max<std::int64_t>(n, 1) - 1;
  auto part = [k](std::int64_t first, std::int64_t step) {
    return saturating_add(first, saturating_mul(step, k));  // add_duration saturates too
  };
  return add_duration(
      anchor,
      Duration{part(timer.first.months, timer.delay.months),
               part(timer.first.days, timer.delay.days), part(timer.first.ms, timer.delay.ms)},
      zone);
}

std::optional<TimerRecord> next_occurrence(const Timer& timer, const TimerRecord& fired,
                                           Timestamp now, const TimeZone& zone) {
  if (timer.kind != Timer::Kind::every) {
    return std::nullopt;
  }
  std::int64_t n = fired.occurrence + 1;
  // Skip the periods that passed while the engine was down. An exact interval jumps there at
  // once; a calendar one (days, months) steps, which is at most a few thousand periods.
  if (timer.delay.is_exact() && timer.delay.ms > 0) {
    const Timestamp first = occurrence_due(timer, fired.anchor_at, 1, zone);
    if (now >= first) {
      n = std::max(n, (now - first) / timer.delay.ms + 1);
    }
  }
  Timestamp due = occurrence_due(timer, fired.anchor_at, n, zone);
  while (due <= now && due < std::numeric_limits<Timestamp>::max()) {
    due = occurrence_due(timer, fired.anchor_at, ++n, zone);
  }
  TimerRecord next = fired;
  next.id = 0;
  next.occurrence = n;
  next.due_at = due;
  next.status = "pending";
  next.fired_at.reset();
  next.note.reset();
  next.created_at = now;
  return next;
}

void plan_time(const Workflow& workflow, const TimeChange& change,
               std::span<const ClockRecord> clocks, const TimeZone& zone, CaseEffects& effects) {
  if (!workflow.has_time_rules()) {
    return;
  }
  const auto state_id = workflow.find_state(change.state);
  const bool closes_case = state_id && workflow.states[*state_id].final;
  if (state_id) {
    const State& state = workflow.states[*state_id];
    if (change.entered) {
      effects.timer_cancels.push_back(TimerCancel{"timer", std::nullopt});
      for (const Timer& timer : state.timers) {
        schedule_state_timer(timer, change, zone, effects);
      }
    } else {
      // An `at:` timer follows its field: a new review date moves the reminder.
      for (const Timer& timer : state.timers) {
        if (timer.kind == Timer::Kind::at && std::find(change.changed.begin(), change.changed.end(),
                                                       timer.field) != change.changed.end()) {
          effects.timer_cancels.push_back(TimerCancel{"timer", timer.name});
          schedule_state_timer(timer, change, zone, effects);
        }
      }
    }
  }
  for (const ClockDef& def : workflow.clocks) {
    const auto it = std::find_if(clocks.begin(), clocks.end(),
                                 [&](const ClockRecord& r) { return r.name == def.name; });
    const ClockRecord* current = it == clocks.end() ? nullptr : &*it;
    if (auto updated = apply_to_clock(workflow, def, current, change, closes_case, zone)) {
      add_clock_timers(def, *updated, change.at, effects);
      effects.clocks.push_back(std::move(*updated));
    }
  }
}

MigratedTime plan_migrated_time(const Workflow& to, const CaseRecord& after,
                                const std::string& from_state, std::span<const TimerRecord> timers,
                                std::span<const ClockRecord> clocks, Timestamp now,
                                const TimeZone& zone, CaseEffects& effects) {
  MigratedTime out;
  // The old state's pending timers under their names on the new version.
  std::vector<std::pair<std::string, const TimerRecord*>> pending;
  const std::string old_prefix = from_state + "/";
  for (const TimerRecord& t : timers) {
    if (t.kind != "timer" || t.status != "pending") {
      continue;
    }
    std::string renamed = t.name.starts_with(old_prefix)
                              ? after.state + "/" + t.name.substr(old_prefix.size())
                              : t.name;
    pending.emplace_back(std::move(renamed), &t);
  }
  effects.timer_cancels.push_back(TimerCancel{"timer", std::nullopt});
  const TimeChange change{after.id, std::nullopt, true, after.state, &after.data, {}, now};
  if (const auto state_id = to.find_state(after.state)) {
    for (const Timer& timer : to.states[*state_id].timers) {
      const auto it = std::find_if(pending.begin(), pending.end(),
                                   [&](const auto& p) { return p.first == timer.name; });
      if (it == pending.end()) {
        schedule_state_timer(timer, change, zone, effects);
        continue;
      }
      TimerRecord carried = *it->second;
      carried.id = 0;
      carried.name = timer.name;
      carried.event = timer.event;
      carried.created_at = now;
      effects.timers.push_back(std::move(carried));
      out.carried_timers.push_back(timer.name);
      pending.erase(it);
    }
  }
  for (const auto& [renamed, old] : pending) {
    out.dropped_timers.push_back(old->name);
  }

  for (const ClockRecord& old : clocks) {
    ClockRecord r = old;
    if (const ClockDef* def = to.find_clock(old.name)) {
      // The deadline stays what the case was given; the warning follows the new definition.
      if (!r.stopped_at) {
        recompute(*def, r, zone);
        add_clock_timers(*def, r, now, effects);
        effects.clocks.push_back(std::move(r));
      }
      out.carried_clocks.push_back(old.name);
      continue;
    }
    if (r.stopped_at) {
      continue;  // a clock that ended before stays in the record as it ended
    }
    end_pause(r, now);
    r.due_at = r.base_due_at + r.excluded_ms;
    r.warn_at.reset();
    r.stopped_at = now;
    if (!r.breached_at && now > *r.due_at) {
      r.breached_at = *r.due_at;
    }
    r.log.emplace_back(boost::json::object{
        {"at", format_timestamp(now)}, {"action", "dropped_by_migration"}, {"state", after.state}});
    effects.timer_cancels.push_back(TimerCancel{"clock", old.name});
    effects.clocks.push_back(std::move(r));
    out.dropped_clocks.push_back(old.name);
  }
  return out;
}

ClockRecord clock_deadline_reached(ClockRecord record, const std::string& purpose, Timestamp at) {
  if (purpose == "warning") {
    record.warned_at = at;
  } else if (!record.breached_at) {
    record.breached_at = record.due_at.value_or(at);
  }
  return record;
}

std::string adjustment_event(ClockAction action) {
  switch (action) {
    case ClockAction::pause:
      return "clock_paused";
    case ClockAction::resume:
      return "clock_resumed";
    case ClockAction::extend:
      break;
  }
  return "clock_extended";
}

std::optional<ClockAction> adjustment_action(std::string_view event) {
  if (event == "clock_paused") {
    return ClockAction::pause;
  }
  if (event == "clock_resumed") {
    return ClockAction::resume;
  }
  if (event == "clock_extended") {
    return ClockAction::extend;
  }
  return std::nullopt;
}

Result<ClockRecord> adjust_clock(const ClockDef& def, ClockRecord record,
                                 const ClockAdjustment& adjustment, const TimeZone& zone,
                                 CaseEffects& effects) {
  const std::string name = "clock '" + def.name + "'";
  if (record.stopped_at) {
    return Error{Errc::conflict,
                 name + " has stopped; a stopped clock cannot be changed",
                 {{"clock", def.name}},
                 "clock-stopped"};
  }
  const Timestamp at = adjustment.at;
  boost::json::object entry{{"at", format_timestamp(at)},
                            {"action", adjustment_event(adjustment.action)},
                            {"reason", adjustment.reason},
                            {"actor", adjustment.actor}};
  switch (adjustment.action) {
    case ClockAction::pause:
      if (record.paused_since) {
        return Error{Errc::conflict,
                     name + " is already paused",
                     {{"clock", def.name}, {"pause_kind", *record.pause_kind}},
                     "clock-paused"};
      }
      record.paused_since = at;
      record.pause_kind = std::string(kPaused);
      break;
    case ClockAction::resume:
      if (record.pause_kind != kPaused) {
        return Error{Errc::conflict,
                     name + (record.paused_since
                                 ? " is in excluded time; it resumes with the event that ends it"
                                 : " is not paused"),
                     {{"clock", def.name}},
                     "clock-not-paused"};
      }
      end_pause(record, at);
      break;
    case ClockAction::extend:
      if (!adjustment.by || adjustment.by->is_zero()) {
        return Error{Errc::unprocessable,
                     name + ": an extension needs 'by', a duration such as 15d or 1mo",
                     {{"missing_fields", boost::json::array{"by"}}},
                     "missing-fields"};
      }
      record.base_due_at = add_duration(record.base_due_at, *adjustment.by, zone);
      entry["by"] = format_duration(*adjustment.by);
      break;
  }
  recompute(def, record, zone);
  if (adjustment.action == ClockAction::extend && record.due_at && *record.due_at > at) {
    // An extension granted in time (or after the fact, by the authority that set the limit)
    // moves the deadline: the clock is no longer breached. The log keeps what happened.
    if (record.breached_at) {
      entry["cleared_breach_at"] = format_timestamp(*record.breached_at);
    }
    record.breached_at.reset();
    if (record.warn_at && *record.warn_at > at) {
      record.warned_at.reset();
    }
  }
  record.log.emplace_back(std::move(entry));
  add_clock_timers(def, record, at, effects);
  effects.clocks.push_back(record);
  return record;
}

ClockStatus clock_status(const std::string& name, const ClockDef* def, const ClockRecord* record,
                         Timestamp now) {
  ClockStatus s;
  s.name = name;
  if (def != nullptr) {
    s.title = def->title;
  }
  if (record == nullptr) {
    s.state = "not_started";
    return s;
  }
  const ClockRecord& r = *record;
  s.started = r.started_at;
  s.stopped = r.stopped_at;
  s.warn_at = r.warn_at;
  s.warned_at = r.warned_at;
  s.breached_at = r.breached_at;
  s.pause_kind = r.pause_kind;
  s.log = r.log;
  s.excluded_ms = r.excluded_ms;
  if (r.paused_since && !r.stopped_at) {
    s.excluded_ms += std::max<std::int64_t>(0, now - *r.paused_since);
  }
  s.due = r.due_at ? *r.due_at : r.base_due_at + s.excluded_ms;
  if (!r.stopped_at) {
    s.remaining_ms = *s.due - now;
  }
  if (r.stopped_at) {
    const bool closed = !r.log.empty() && r.log.back().is_object() &&
                        r.log.back().as_object().if_contains("action") != nullptr &&
                        r.log.back().at("action") == kCaseClosed.data();
    s.state = r.breached_at ? "breached" : closed ? "cancelled" : "met";
  } else if (r.breached_at || (r.due_at && now >= *r.due_at)) {
    s.state = "breached";
  } else if (r.paused_since) {
    s.state = "paused";
  } else if (r.warn_at && now >= *r.warn_at) {
    s.state = "warning";
  } else {
    s.state = "running";
  }
  return s;
}

std::vector<ScheduleRow> build_schedule(const Workflow& workflow,
                                        std::span<const ClockRecord> clocks,
                                        std::span<const TimerRecord> timers,
                                        std::span<const HistoryEntry> history, Timestamp now) {
  std::vector<ScheduleRow> rows;
  for (const ClockRecord& record : clocks) {
    const ClockDef* def = workflow.find_clock(record.name);
    const ClockStatus status = clock_status(record.name, def, &record, now);
    ScheduleRow row;
    row.kind = "clock";
    row.name = record.name;
    row.title = status.title;
    row.due = status.due;
    row.actual = record.stopped_at;
    row.status = status.state;
    if (row.actual && row.due && *row.actual > *row.due) {
      row.late_ms = *row.actual - *row.due;
    }
    rows.push_back(std::move(row));
  }
  // A met_by event answers the earliest timer (they come by due time) still waiting for it.
  std::vector<bool> used(history.size(), false);
  for (const TimerRecord& timer : timers) {
    if (timer.kind != "timer") {
      continue;  // a clock's warning and breach are part of the clock's row
    }
    if (timer.status == "cancelled" && (!timer.fired_at || *timer.fired_at < timer.due_at)) {
      continue;  // left before it fell due: never scheduled work
    }
    const Timer* def = find_timer(workflow, timer.name);
    const std::string state = timer.name.substr(0, timer.name.find('/'));
    ScheduleRow row;
    row.kind = "timer";
    row.name = timer.event.value_or(timer.name);
    row.title = def != nullptr ? describe_timer(*def, state) : timer.name;
    if (def != nullptr && def->kind == Timer::Kind::every) {
      row.title += " (#" + std::to_string(timer.occurrence) + ")";
    }
    row.due = timer.due_at;
    row.note = timer.note;
    row.status = timer.status;
    if (timer.status != "pending") {
      row.actual = timer.fired_at;
    }
    if (def != nullptr && def->met_by && timer.status != "cancelled") {
      // Done when its met_by event was recorded since the timer was set, before or after it
      // fell due; a fired timer still waiting for it is "open".
      bool met = false;
      for (std::size_t i = 0; i < history.size() && !met; ++i) {
        if (!used[i] && history[i].event == *def->met_by && history[i].at >= timer.created_at) {
          used[i] = true;
          met = true;
          row.status = "met";
          row.actual = history[i].at;
        }
      }
      if (!met && timer.status == "fired") {
        row.status = "open";
        row.actual.reset();
      }
    }
    if (row.actual && row.due && *row.actual > *row.due) {
      row.late_ms = *row.actual - *row.due;
    }
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const ScheduleRow& a, const ScheduleRow& b) {
    if (a.due.has_value() != b.due.has_value()) {
      return a.due.has_value();
    }
    return a.due && *a.due < *b.due;
  });
  return rows;
}

}  // namespace carepath
