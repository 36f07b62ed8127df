// The Runtime's time rules: timers and statutory clocks (see core/schedule.hpp for the rules).
#include <algorithm>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/strings.hpp"
#include "runtime/runtime.hpp"
#include "security/random.hpp"

namespace carepath::runtime {
namespace {

constexpr int kMaxTimerAttempts = 8;
Error clock_field_error(std::vector<std::string> missing, std::string message) {
  return Error{Errc::unprocessable,
               std::move(message),
               {{"missing_fields", to_json_array(missing)}},
               "missing-fields"};
}

std::optional<std::string> text_of(const boost::json::object& data, std::string_view key) {
  const auto* v = data.if_contains(key);
  if (v == nullptr || !v->is_string() || v->get_string().empty()) {
    return std::nullopt;
  }
  return std::string(v->get_string());
}

}  // namespace

Result<void> Runtime::add_time_effects(const Workflow& workflow, const CaseRecord& after,
                                       const std::optional<std::string>& event, bool entered,
                                       std::span<const std::string> changed, Timestamp now,
                                       CaseEffects& effects,
                                       const std::vector<ClockRecord>* clocks) {
  if (!workflow.has_time_rules()) {
    return {};
  }
  std::vector<ClockRecord> stored;
  if (clocks == nullptr && !workflow.clocks.empty() && after.version > 1) {
    auto loaded = store_.clocks(after.id);
    if (!loaded) {
      return loaded.error();
    }
    stored = std::move(*loaded);
    clocks = &stored;
  }
  const TimeChange change{after.id, event, entered, after.state, &after.data, changed, now};
  plan_time(
      workflow, change,
      clocks != nullptr ? std::span<const ClockRecord>(*clocks) : std::span<const ClockRecord>(),
      zone_, effects);
  return {};
}

Result<Runtime::Prepared> Runtime::prepare_adjustment(const Actor& actor, const CaseRecord& record,
                                                      const Workflow& workflow, ClockAction action,
                                                      const FireRequest& request, Timestamp now) {
  const std::string event = adjustment_event(action);
  const bool extend = action == ClockAction::extend;
  // Only these keys: a typo ("reson") must not pass as a change without a reason.
  std::vector<std::string> unknown;
  for (const auto& kv : request.data) {
    if (kv.key() != "clock" && kv.key() != "reason" && (!extend || kv.key() != "by")) {
      unknown.emplace_back(kv.key());
    }
  }
  if (!unknown.empty()) {
    return Error{Errc::unprocessable,
                 event + " takes only 'clock', 'reason'" + (extend ? " and 'by'" : "") +
                     "; unexpected: " + join(unknown),
                 {{"unknown_fields", to_json_array(unknown)}},
                 "invalid-fields"};
  }
  const auto clock_name = text_of(request.data, "clock");
  const auto reason = text_of(request.data, "reason");
  const auto by_text = text_of(request.data, "by");
  std::vector<std::string> missing;
  if (!clock_name) {
    missing.emplace_back("clock");
  }
  if (!reason) {
    missing.emplace_back("reason");
  }
  if (extend && !by_text) {
    missing.emplace_back("by");
  }
  if (!missing.empty()) {
    return clock_field_error(
        missing, event + " needs " + join(missing) + " (non-empty strings): which clock, why" +
                     (extend ? ", and by how much, such as \"15d\" or \"1mo\"" : ""));
  }
  const ClockDef* def = workflow.find_clock(*clock_name);
  if (def == nullptr) {
    boost::json::array known;
    for (const ClockDef& c : workflow.clocks) {
      known.emplace_back(c.name);
    }
    return Error{Errc::unprocessable,
                 "workflow '" + workflow.name + "' has no clock '" + *clock_name + "'",
                 {{"known_clocks", std::move(known)}},
                 "unknown-clock"};
  }
  if (actor.user != "system" && !actor.has_any_role(def->extendable_by)) {
    return Error{Errc::forbidden,
                 def->extendable_by.empty()
                     ? "clock '" + def->name +
                           "' cannot be paused or extended: the workflow names no roles in its "
                           "'extendable_by'"
                     : "clock '" + def->name + "' may be paused or extended only by " +
                           join(def->extendable_by),
                 {{"required_roles", to_json_array(def->extendable_by)}},
                 "forbidden"};
  }
  std::optional<Duration> by;
  if (extend) {
    by = parse_duration(*by_text);
    if (!by || by->is_zero()) {
      return Error{Errc::unprocessable,
                   "'by' must be a positive duration such as 15d, 1mo or 24h",
                   {{"invalid_fields",
                     boost::json::array{boost::json::object{
                         {"field", "by"}, {"reason", "expected a duration such as 15d"}}}}},
                   "invalid-fields"};
    }
  }
  auto clocks = store_.clocks(record.id);
  if (!clocks) {
    return clocks.error();
  }
  const auto it = std::find_if(clocks->begin(), clocks->end(),
                               [&](const ClockRecord& c) { return c.name == def->name; });
  if (it == clocks->end()) {
    return Error{Errc::conflict,
                 "clock '" + def->name + "' has not started",
                 {{"clock", def->name}},
                 "clock-not-started"};
  }

  Prepared p;
  auto adjusted =
      adjust_clock(*def, *it, ClockAdjustment{action, def->name, *reason, by, actor.user, now},
                   zone_, p.effects);
  if (!adjusted) {
    return adjusted.error();
  }
  auto [after, entry] = change_in_place(record, actor.user, event, {}, now);
  p.after = std::move(after);
  p.entry = std::move(entry);
  p.entry.comment = request.comment;
  p.entry.payload = request.data;
  return p;
}

Result<void> Runtime::fire_timer(const TimerRecord& timer, const std::string& owner) {
  for (int attempt = 1;; ++attempt) {
    const Timestamp now = clock_.now();
    TimerFinish finish;
    finish.timer_id = timer.id;
    finish.owner = owner;
    finish.status = "fired";
    finish.at = now;
    auto skip = [&](std::string why) {
      finish.status = "skipped";
      finish.note = std::move(why);
    };

    auto record = store_.get_case(timer.case_id);
    if (!record) {
      if (record.error().code != Errc::not_found) {
        return record.error();
      }
      // The case is gone (erased): the timer has nothing left to do. Finished, so that it is
      // not claimed again.
      skip("the case no longer exists");
      auto finished = store_.finish_timer(finish);
      return finished || finished.error().code == Errc::conflict ? Result<void>{}
                                                                 : finished.error();
    }
    auto workflow = workflow_of(*record);
    if (!workflow) {
      return workflow.error();
    }
    const Workflow& wf = **workflow;
    const std::int64_t late = std::max<std::int64_t>(0, now - timer.due_at);
    boost::json::object trigger{{"kind", timer.kind},
                                {"name", timer.name},
                                {"due_at", format_timestamp(timer.due_at)},
                                {"late_ms", late}};
    if (timer.kind == "clock") {
      trigger["purpose"] = timer.purpose;
    }
    const std::string what =
        timer.kind == "clock" ? "clock " + timer.name + " " + timer.purpose : "timer " + timer.name;
    const std::string comment =
        what + " due " + format_timestamp(timer.due_at) +
        (late >= 1000 ? ", fired " + describe_span_ms(late) + " late" : ", fired on time");

    // Fires the timer's event, when the case's state has a row for it; otherwise says why not.
    auto take = [&](const std::string& event, const std::vector<ClockRecord>* clocks) {
      const Actor system{"system", {}};
      auto prepared = prepare_transition(system, *record, wf, event, {}, comment, now, clocks);
      if (!prepared) {
        skip(prepared.error().message);
        return false;
      }
      prepared->entry.trigger = trigger;
      finish.change = CaseChange{prepared->after, record->version, prepared->entry};
      finish.effects = std::move(prepared->effects);
      return true;
    };

    if (timer.kind == "clock") {
      auto clocks = store_.clocks(record->id);
      if (!clocks) {
        return clocks.error();
      }
      const auto it = std::find_if(clocks->begin(), clocks->end(),
                                   [&](const ClockRecord& c) { return c.name == timer.name; });
      const ClockDef* def = wf.find_clock(timer.name);
      if (it == clocks->end() || it->stopped_at || def == nullptr) {
        skip("the clock has stopped or is no longer in the workflow");
      } else {
        *it = clock_deadline_reached(*it, timer.purpose, now);
        const ClockReaction& action = timer.purpose == "warning" ? def->on_warning : def->on_breach;
        if (!action.notify.empty()) {
          trigger["notify"] = to_json_array(action.notify);
        }
        const ClockRecord updated = *it;
        if (timer.event) {
          take(*timer.event, &*clocks);
          // A clock's deadline is recorded even when its event changes nothing.
          finish.status = "fired";
        }
        // First the deadline, then whatever the event did to the clocks (it may stop this one).
        finish.effects.clocks.insert(finish.effects.clocks.begin(), updated);
        // After take(), which replaces the effects with the transition's: the notifications are
        // written whether or not the event could be taken, in the same commit as the deadline.
        for (const std::string& role : action.notify) {
          finish.effects.notifications.push_back(
              NotificationRecord{security::random_id_hex(8), record->id, wf.name, role,
                                 timer.purpose == "warning" ? "clock_warning" : "clock_breach",
                                 timer.name, timer.due_at, now, std::nullopt, std::nullopt});
        }
        log(timer.purpose == "breach" ? LogLevel::warning : LogLevel::info,
            timer.purpose == "breach" ? "statutory clock breached" : "statutory clock warning",
            {{"case", record->id},
             {"clock", timer.name},
             {"due", format_timestamp(timer.due_at)},
             {"notify", join(action.notify)}});
      }
    } else {
      const Timer* def = find_timer(wf, timer.name);
      const std::string state = timer.name.substr(0, timer.name.find('/'));
      if (def == nullptr || record->state != state) {
        skip("the case is no longer in state '" + state + "'");
      } else if (def->until &&
                 def->until->evaluate(GuardContext{record->data, zone_.local_day(now)}).value) {
        skip("its 'until' holds: " + def->until->text());
      } else {
        const bool taken = take(def->event, nullptr);
        // The next occurrence, unless the event moved the case out of the state (which cancels
        // the state's timers in the same commit).
        const bool stays = !taken || finish.change->after.state == record->state;
        if (stays) {
          if (auto next = next_occurrence(*def, timer, now, zone_)) {
            finish.effects.timers.push_back(std::move(*next));
          }
        }
      }
    }

    auto finished = store_.finish_timer(finish);
    if (finished) {
      scheduled(finish.effects);
      if (finish.change) {
        metrics::engine().transitions.add({wf.name, finish.change->entry.event});
      }
      log(LogLevel::info, finish.status == "fired" ? "timer fired" : "timer skipped",
          {{"case", timer.case_id},
           {"timer", timer.name},
           {"event", timer.event.value_or("")},
           {"late_ms", std::to_string(late)}});
      return {};
    }
    const Errc code = finished.error().code;
    if (code == Errc::conflict) {
      return {};  // cancelled by a change, or finished by another engine: nothing to do
    }
    if (code != Errc::precondition_failed || attempt == kMaxTimerAttempts) {
      return finished.error();
    }
  }
}

Result<std::vector<ClockStatus>> Runtime::clocks(const Actor& actor, const std::string& id) {
  auto found = case_with_workflow(actor, id);
  if (!found) {
    return found.error();
  }
  const Workflow& workflow = *found->workflow;
  auto stored = store_.clocks(id);
  if (!stored) {
    return stored.error();
  }
  const Timestamp now = clock_.now();
  std::vector<ClockStatus> out;
  for (const ClockDef& def : workflow.clocks) {
    const auto it = std::find_if(stored->begin(), stored->end(),
                                 [&](const ClockRecord& c) { return c.name == def.name; });
    out.push_back(clock_status(def.name, &def, it == stored->end() ? nullptr : &*it, now));
  }
  // Clocks an earlier version declared and this one does not: still part of the record.
  for (const ClockRecord& c : *stored) {
    if (workflow.find_clock(c.name) == nullptr) {
      out.push_back(clock_status(c.name, nullptr, &c, now));
    }
  }
  return out;
}

Result<CaseClockPage> Runtime::list_clocks(const Actor& actor, ClockQuery query) {
  if (query.state != "breached" && query.state != "warning") {
    return Error{Errc::invalid_argument,
                 "state must be 'breached' or 'warning'",
                 {{"invalid_params",
                   boost::json::array{boost::json::object{
                       {"name", "state"}, {"reason", "must be 'breached' or 'warning'"}}}}},
                 "invalid-params"};
  }
  query.now = clock_.now();
  auto page = store_.list_clocks(query);
  if (!page) {
    return page.error();
  }
  CaseClockPage out;
  out.next_cursor = page->next_cursor;
  for (const ClockRecord& c : page->items) {
    auto record = store_.get_case(c.case_id);
    if (!record) {
      return record.error();
    }
    const auto workflow = workflows_.find(record->workflow, record->workflow_version);
    if (!workflow || !may_see(actor, *record, *workflow)) {
      continue;  // a caller sees only the cases it may know exist
    }
    out.items.push_back(
        CaseClock{record->id, record->code, record->workflow, record->state,
                  clock_status(c.name, workflow->find_clock(c.name), &c, query.now)});
  }
  return out;
}

Result<NotificationPage> Runtime::notifications(const Actor& actor, NotificationQuery query) {
  query.roles = actor.roles;
  auto page = store_.list_notifications(query);
  if (!page) {
    return page.error();
  }
  // A notify role is one the workflow declares (the loader checks), so this drops only the
  // notifications of a workflow no loaded version of which gives the caller a role any more.
  const auto all = workflows_.all();
  std::erase_if(page->items, [&](const NotificationRecord& n) {
    return std::none_of(all.begin(), all.end(), [&](const auto& w) {
      return w->name == n.workflow && actor.has_any_role(w->roles);
    });
  });
  // A caller limited to some cases (own cases, homes) is not told about the others.
  if (scope_filter(actor, access_)) {
    std::vector<NotificationRecord> kept;
    for (auto& n : page->items) {
      auto record = store_.get_case(n.case_id);
      if (!record) {
        return record.error();
      }
      const auto workflow = workflows_.find(record->workflow, record->workflow_version);
      if (workflow && may_see(actor, *record, *workflow)) {
        kept.push_back(std::move(n));
      }
    }
    page->items = std::move(kept);
  }
  return page;
}

Result<NotificationRecord> Runtime::acknowledge(const Actor& actor, const std::string& id) {
  return store_.acknowledge_notification(id, actor.roles, actor.user, clock_.now());
}

Result<std::vector<ScheduleRow>> Runtime::schedule(const Actor& actor, const std::string& id) {
  auto found = case_with_workflow(actor, id);
  if (!found) {
    return found.error();
  }
  auto clocks = store_.clocks(id);
  if (!clocks) {
    return clocks.error();
  }
  auto timers = store_.timers(id);
  if (!timers) {
    return timers.error();
  }
  auto history = whole_history(actor, id);
  if (!history) {
    return history.error();
  }
  return build_schedule(*found->workflow, *clocks, *timers, *history, clock_.now());
}

}  // namespace carepath::runtime
