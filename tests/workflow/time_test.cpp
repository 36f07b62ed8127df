// Timers (`after`, `every`) and statutory clocks (`clocks`) in workflow files, and the pure rules
// of core/schedule.hpp applied to loaded workflows.
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/schedule.hpp"
#include "tests/support/shipped_steps.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/workflow/diagnostics.hpp"
#include "workflow/loader.hpp"

namespace carepath::workflow {
namespace {

using test::dump;
using test::has_error;

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;

// A workflow with `extra` lines appended at the top level and `state_extra` lines inside state
// `waiting` (indented by four spaces by the caller).
std::string workflow_with(std::string_view state_extra, std::string_view extra) {
  std::string text = R"(carepath: 1
workflow: timers
version: 1
roles: [caseworker, supervisor]
fields:
  review_date: { type: date }
  seen_at: { type: datetime }
  visits: { type: integer }
  note: { type: string }
states:
  waiting:
    initial: true
)";
  text += state_extra;
  text += R"(    on:
      ping: { to: waiting }
      done: { to: closed, roles: [caseworker] }
      start: { to: waiting, roles: [caseworker] }
  closed:
    final: true
)";
  text += extra;
  return text;
}

LoadResult load(const std::string& text) {
  return load_workflow_text(text, "test.yaml");
}

TEST(TimeRules, LoadsTimersInSourceOrder) {
  const auto result = load(workflow_with(R"(    after:
      - { in: 90d, event: ping }
      - { at: review_date, event: ping, met_by: done }
    every:
      - { interval: 1mo, first: 2w, event: ping, until: "visits >= 12" }
)",
                                         ""));
  ASSERT_TRUE(result.ok()) << dump(result);
  const auto& timers = result.workflow->states[0].timers;
  ASSERT_EQ(timers.size(), 3U);
  EXPECT_EQ(timers[0].kind, Timer::Kind::after);
  EXPECT_EQ(timers[0].name, "waiting/after/0");
  EXPECT_EQ(timers[0].delay, (Duration{0, 90, 0}));
  EXPECT_EQ(timers[1].kind, Timer::Kind::at);
  EXPECT_EQ(timers[1].field, "review_date");
  EXPECT_EQ(timers[1].met_by, "done");
  EXPECT_EQ(timers[2].kind, Timer::Kind::every);
  EXPECT_EQ(timers[2].name, "waiting/every/0");
  EXPECT_EQ(timers[2].delay, (Duration{1, 0, 0}));
  EXPECT_EQ(timers[2].first, (Duration{0, 14, 0}));
  ASSERT_TRUE(timers[2].until);
  EXPECT_TRUE(result.workflow->has_time_rules());
}

TEST(TimeRules, AcceptsIsoDurations) {
  const auto result = load(workflow_with("    after:\n      - { in: PT24H, event: ping }\n", ""));
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_EQ(result.workflow->states[0].timers[0].delay, (Duration{0, 0, 24 * kHour}));
}

TEST(TimeRules, ReportsBadTimersWithPositions) {
  EXPECT_TRUE(
      has_error(load(workflow_with("    after:\n      - { in: 90 days, event: ping }\n", "")), 14,
                15, "invalid duration '90 days'"));
  EXPECT_TRUE(has_error(load(workflow_with("    after:\n      - { in: 9d }\n", "")), 14, 9,
                        "timer has no 'event'"));
  EXPECT_TRUE(has_error(load(workflow_with("    after:\n      - { event: ping }\n", "")), 14, 9,
                        "neither 'in'"));
  EXPECT_TRUE(has_error(
      load(workflow_with("    after:\n      - { in: 1d, at: review_date, event: ping }\n", "")), 14,
      19, "either 'in' or 'at', not both"));
  EXPECT_TRUE(has_error(load(workflow_with("    after:\n      - { at: note, event: ping }\n", "")),
                        14, 15, "not a date or datetime"));
  EXPECT_TRUE(
      has_error(load(workflow_with("    after:\n      - { at: review_dat, event: ping }\n", "")),
                14, 15, "did you mean 'review_date'"));
  EXPECT_TRUE(
      has_error(load(workflow_with("    every:\n      - { interval: 0d, event: ping }\n", "")), 14,
                21, "'interval' is zero"));
  EXPECT_TRUE(has_error(
      load(workflow_with(
          "    every:\n      - { interval: 1d, event: ping, until: \"visit > 1\" }\n", "")),
      14, 46, "invalid guard: unknown field 'visit'"));
  EXPECT_TRUE(has_error(
      load(workflow_with("    after:\n      - { in: 1d, event: ping, met_by: dne }\n", "")), 14, 40,
      "unknown event 'dne' in 'met_by'"));
  EXPECT_TRUE(has_error(load(workflow_with("    after:\n      - { in: 1d, event: opened }\n", "")),
                        14, 26, "reserved"));
  EXPECT_TRUE(has_error(load(workflow_with("    after:\n      - { in: 1d, evnt: ping }\n", "")), 14,
                        19, "unknown key 'evnt'"));
}

TEST(TimeRules, WarnsWhenATimerEventHasNoRowInItsState) {
  const auto result = load(workflow_with("    after:\n      - { in: 1d, event: nudge }\n", ""));
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(std::any_of(result.diagnostics.begin(), result.diagnostics.end(),
                          [](const Diagnostic& d) {
                            return d.severity == Severity::warning && d.line == 14 &&
                                   d.message.find("no transition on 'nudge'") != std::string::npos;
                          }))
      << dump(result);
}

TEST(TimeRules, RefusesTimersOnAFinalState) {
  std::string text = workflow_with("", "");
  text.replace(text.find("    final: true"), 15,
               "    final: true\n    after: [ { in: 1d, event: ping } ]");
  EXPECT_TRUE(has_error(load(text), 19, 5, "final state 'closed'"));
}

constexpr std::string_view kClocks = R"(clocks:
  production:
    title: Within a day
    starts: { on_enter: waiting }
    due: 24h
    excludes: { between: [start, ping] }
    stops: [ { on_event: done }, { on_enter: closed } ]
    warn_before: 6h
    on_warning: { event: ping }
    on_breach: { event: late, notify: [supervisor] }
    extendable_by: [supervisor]
)";

TEST(TimeRules, LoadsClocks) {
  const auto result = load(workflow_with("", kClocks));
  ASSERT_TRUE(result.ok()) << dump(result);
  ASSERT_EQ(result.workflow->clocks.size(), 1U);
  const ClockDef& c = result.workflow->clocks[0];
  EXPECT_EQ(c.name, "production");
  EXPECT_EQ(c.title, "Within a day");
  ASSERT_EQ(c.starts.size(), 1U);
  EXPECT_EQ(c.starts[0].kind, ClockTrigger::Kind::on_enter);
  ASSERT_EQ(c.stops.size(), 2U);
  EXPECT_EQ(c.stops[1].name, "closed");
  EXPECT_EQ(c.due, (Duration{0, 0, 24 * kHour}));
  ASSERT_EQ(c.excludes.size(), 1U);
  EXPECT_EQ(c.excludes[0].first, "start");
  EXPECT_EQ(c.on_breach.event, "late");
  EXPECT_EQ(c.on_breach.notify, std::vector<std::string>{"supervisor"});
  EXPECT_EQ(c.extendable_by, std::vector<std::string>{"supervisor"});
  // The breach event is known to the workflow even without a row for it.
  EXPECT_TRUE(result.workflow->find_event("late"));
  EXPECT_EQ(result.workflow->find_clock("production"), &c);
}

TEST(TimeRules, ReportsBadClocksWithPositions) {
  auto with = [](std::string_view from, std::string_view to) {
    std::string clocks(kClocks);
    clocks.replace(clocks.find(from), from.size(), to);
    return load(workflow_with("", clocks));
  };
  // Clock lines start at 19 (after the 18 lines of workflow_with).
  EXPECT_TRUE(
      has_error(with("on_enter: waiting", "on_enter: wating"), 22, 25, "unknown state 'wating'"));
  EXPECT_TRUE(has_error(with("on_event: done", "on_event: dun"), 25, 26,
                        "unknown event 'dun' in 'on_event'"));
  EXPECT_TRUE(has_error(with("due: 24h", "due: a day"), 23, 10, "invalid duration 'a day'"));
  EXPECT_TRUE(has_error(with("    due: 24h\n", ""), 20, 3, "has no 'due'"));
  EXPECT_TRUE(has_error(with("between: [start, ping]", "between: [start]"), 24, 26,
                        "'between' takes two events"));
  EXPECT_TRUE(
      has_error(with("notify: [supervisor]", "notify: [boss]"), 28, 40, "undeclared role 'boss'"));
  EXPECT_TRUE(has_error(with("{ on_enter: waiting }", "{ on_enter: waiting, on_event: done }"), 22,
                        34, "one trigger per map"));
  EXPECT_TRUE(has_error(with("    warn_before: 6h\n", "    warn_before: 6h\n    dues: 1d\n"), 27, 5,
                        "unknown key 'dues'"));
  EXPECT_TRUE(has_error(with("  production:", "  Production:"), 20, 3, "invalid clock name"));
}

// --- the rules -----------------------------------------------------------------------------

class ClockRules : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto result = load(workflow_with("", kClocks));
    ASSERT_TRUE(result.ok()) << dump(result);
    workflow_ = result.workflow;
  }

  // Applies a change and keeps the clock records up to date, as the store would.
  CaseEffects apply(std::optional<std::string> event, bool entered, std::string state,
                    Timestamp at) {
    CaseEffects effects;
    const TimeChange change{"case-1", std::move(event), entered, std::move(state), &data_, {}, at};
    plan_time(*workflow_, change, clocks_, zone_, effects);
    for (const auto& c : effects.clocks) {
      const auto it = std::find_if(clocks_.begin(), clocks_.end(),
                                   [&](const ClockRecord& r) { return r.name == c.name; });
      if (it == clocks_.end()) {
        clocks_.push_back(c);
      } else {
        *it = c;
      }
    }
    return effects;
  }

  std::shared_ptr<const Workflow> workflow_;
  boost::json::object data_;
  std::vector<ClockRecord> clocks_;
  TimeZone zone_ = TimeZone::with_offset("Asia/Kolkata", 19'800);
  Timestamp t0_ = 1'795'321'800'000;
};

TEST_F(ClockRules, StartsOnEnteringAndSchedulesItsWarningAndBreach) {
  const auto effects = apply(std::nullopt, true, "waiting", t0_);
  ASSERT_EQ(clocks_.size(), 1U);
  EXPECT_EQ(*clocks_[0].due_at, t0_ + 24 * kHour);
  EXPECT_EQ(*clocks_[0].warn_at, t0_ + 18 * kHour);
  ASSERT_EQ(effects.timers.size(), 2U);
  EXPECT_EQ(effects.timers[0].purpose, "warning");
  EXPECT_EQ(effects.timers[0].event, "ping");
  EXPECT_EQ(effects.timers[0].due_at, t0_ + 18 * kHour);
  EXPECT_EQ(effects.timers[1].purpose, "breach");
  EXPECT_EQ(effects.timers[1].event, "late");
  const auto status = clock_status("production", &workflow_->clocks[0], &clocks_[0], t0_ + kHour);
  EXPECT_EQ(status.state, "running");
  EXPECT_EQ(*status.remaining_ms, 23 * kHour);
  EXPECT_EQ(clock_status("production", &workflow_->clocks[0], &clocks_[0], t0_ + 19 * kHour).state,
            "warning");
  EXPECT_EQ(clock_status("production", &workflow_->clocks[0], &clocks_[0], t0_ + 24 * kHour).state,
            "breached");
}

TEST_F(ClockRules, ExcludedTimeMovesTheDeadline) {
  apply(std::nullopt, true, "waiting", t0_);
  auto paused = apply("start", false, "waiting", t0_ + 2 * kHour);
  EXPECT_FALSE(clocks_[0].due_at);
  EXPECT_EQ(clocks_[0].pause_kind, "excluded");
  EXPECT_TRUE(paused.timers.empty());  // no deadline while excluded
  ASSERT_EQ(paused.timer_cancels.size(), 1U);
  EXPECT_EQ(paused.timer_cancels[0].kind, "clock");
  EXPECT_EQ(clock_status("production", nullptr, &clocks_[0], t0_ + 5 * kHour).excluded_ms,
            3 * kHour);
  apply("ping", false, "waiting", t0_ + 6 * kHour);
  EXPECT_EQ(clocks_[0].excluded_ms, 4 * kHour);
  EXPECT_EQ(*clocks_[0].due_at, t0_ + 28 * kHour);
}

TEST_F(ClockRules, StoppingLateRecordsTheBreachAtTheDeadline) {
  apply(std::nullopt, true, "waiting", t0_);
  apply("done", true, "closed", t0_ + 30 * kHour);
  EXPECT_EQ(*clocks_[0].stopped_at, t0_ + 30 * kHour);
  EXPECT_EQ(*clocks_[0].breached_at, t0_ + 24 * kHour);
  EXPECT_EQ(clock_status("production", nullptr, &clocks_[0], t0_ + 40 * kHour).state, "breached");
}

TEST_F(ClockRules, StoppingInTimeIsMet) {
  apply(std::nullopt, true, "waiting", t0_);
  const auto effects = apply("done", true, "closed", t0_ + 24 * kHour);
  EXPECT_FALSE(clocks_[0].breached_at);
  EXPECT_TRUE(effects.timers.empty());
  EXPECT_EQ(clock_status("production", nullptr, &clocks_[0], t0_ + 40 * kHour).state, "met");
}

TEST(ClockRulesAtTheEnd, ClosingTheCaseCancelsARunningClockOrKeepsItsBreach) {
  std::string clocks(kClocks);
  const std::string_view stops = "stops: [ { on_event: done }, { on_enter: closed } ]";
  clocks.replace(clocks.find(stops), stops.size(), "stops: { on_event: late }");
  const auto result = load(workflow_with("", clocks));
  ASSERT_TRUE(result.ok()) << dump(result);
  const TimeZone zone = TimeZone::utc();
  const Timestamp t0 = 1'795'321'800'000;
  boost::json::object data;
  for (const auto& [closed_after, expected] : std::vector<std::pair<std::int64_t, std::string>>{
           {kHour, "cancelled"}, {30 * kHour, "breached"}}) {
    CaseEffects opened;
    plan_time(*result.workflow, TimeChange{"c", std::nullopt, true, "waiting", &data, {}, t0}, {},
              zone, opened);
    ASSERT_EQ(opened.clocks.size(), 1U);
    CaseEffects closed;
    plan_time(*result.workflow,
              TimeChange{"c", "done", true, "closed", &data, {}, t0 + closed_after}, opened.clocks,
              zone, closed);
    ASSERT_EQ(closed.clocks.size(), 1U);
    const ClockRecord& r = closed.clocks[0];
    EXPECT_EQ(*r.stopped_at, t0 + closed_after);
    EXPECT_EQ(r.log.back().at("action"), "case_closed");
    EXPECT_TRUE(closed.timers.empty());  // no deadline is left to fire
    EXPECT_EQ(clock_status("production", nullptr, &r, t0 + 40 * kHour).state, expected);
  }
}

TEST_F(ClockRules, ADeadlineReachedIsRecorded) {
  apply(std::nullopt, true, "waiting", t0_);
  const auto warned = clock_deadline_reached(clocks_[0], "warning", t0_ + 18 * kHour);
  EXPECT_EQ(*warned.warned_at, t0_ + 18 * kHour);
  const auto breached = clock_deadline_reached(warned, "breach", t0_ + 30 * kHour);
  EXPECT_EQ(*breached.breached_at, t0_ + 24 * kHour);  // when it was due, not when it was seen
}

TEST_F(ClockRules, AnExtensionAfterABreachClearsItAndIsLogged) {
  apply(std::nullopt, true, "waiting", t0_);
  ClockRecord breached = clock_deadline_reached(clocks_[0], "breach", t0_ + 25 * kHour);
  CaseEffects effects;
  auto extended = adjust_clock(workflow_->clocks[0], breached,
                               ClockAdjustment{ClockAction::extend, "production", "CWC order 7",
                                               Duration{0, 1, 0}, "ravi", t0_ + 25 * kHour},
                               zone_, effects);
  ASSERT_TRUE(extended) << extended.error().message;
  EXPECT_EQ(*extended->due_at, t0_ + 48 * kHour);
  EXPECT_FALSE(extended->breached_at);
  ASSERT_EQ(extended->log.size(), 1U);
  EXPECT_EQ(extended->log[0].at("by").as_string(), "1d");
  EXPECT_TRUE(extended->log[0].as_object().contains("cleared_breach_at"));
  // Both deadlines are ahead again: the warning 6 hours before the new due time, then the breach.
  ASSERT_EQ(effects.timers.size(), 2U);
  EXPECT_EQ(effects.timers[0].due_at, t0_ + 42 * kHour);
  EXPECT_EQ(effects.timers[1].due_at, t0_ + 48 * kHour);
}

TEST_F(ClockRules, AStoppedClockCannotBeAdjusted) {
  apply(std::nullopt, true, "waiting", t0_);
  apply("done", true, "closed", t0_ + kHour);
  CaseEffects effects;
  auto refused = adjust_clock(workflow_->clocks[0], clocks_[0],
                              ClockAdjustment{ClockAction::pause, "production", "why", std::nullopt,
                                              "ravi", t0_ + 2 * kHour},
                              zone_, effects);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
}

TEST(TimerRules, EveryTimersAnchorOnEntryAndSkipMissedPeriods) {
  const auto result =
      load(workflow_with("    every:\n      - { interval: 1mo, event: ping }\n", ""));
  ASSERT_TRUE(result.ok()) << dump(result);
  const Timer& timer = result.workflow->states[0].timers[0];
  const TimeZone zone = TimeZone::with_offset("Asia/Kolkata", 19'800);
  // Entered on 31 January 2024 at 10:00 in Kolkata.
  const Timestamp entered = zone.to_utc(LocalTime{2024, 1, 31, 10 * kHour});
  EXPECT_EQ(occurrence_due(timer, entered, 1, zone),
            zone.to_utc(LocalTime{2024, 2, 29, 10 * kHour}));
  EXPECT_EQ(occurrence_due(timer, entered, 2, zone),
            zone.to_utc(LocalTime{2024, 3, 31, 10 * kHour}));
  TimerRecord fired;
  fired.occurrence = 1;
  fired.anchor_at = entered;
  // Down from February to mid-May: the next check is on 31 May, once.
  const auto next = next_occurrence(timer, fired, zone.to_utc(LocalTime{2024, 5, 15, 0}), zone);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->occurrence, 4);
  EXPECT_EQ(next->due_at, zone.to_utc(LocalTime{2024, 5, 31, 10 * kHour}));
  EXPECT_EQ(next->status, "pending");
}

TEST(TimerRules, FifteenDaysCountOnTheOrganisationsCalendar) {
  const auto result = load(workflow_with("    after:\n      - { in: 1mo, event: ping }\n", ""));
  ASSERT_TRUE(result.ok()) << dump(result);
  // 1 March 2023, 02:00 in Kolkata is still 28 February in UTC: a month later is 1 April in
  // Kolkata, where counting in UTC would give 28 March.
  const TimeZone kolkata = TimeZone::with_offset("Asia/Kolkata", 19'800);
  const Timestamp at = kolkata.to_utc(LocalTime{2023, 3, 1, 2 * kHour});
  boost::json::object data;
  CaseEffects effects;
  plan_time(*result.workflow, TimeChange{"c", std::nullopt, true, "waiting", &data, {}, at}, {},
            kolkata, effects);
  ASSERT_EQ(effects.timers.size(), 1U);
  EXPECT_EQ(effects.timers[0].due_at, kolkata.to_utc(LocalTime{2023, 4, 1, 2 * kHour}));
  EXPECT_EQ(effects.timer_cancels.size(), 1U);  // entering cancels the old state's timers
}

TEST(TimerRules, ATimerOnADateFieldFallsDueWhenThatDayStartsLocally) {
  const auto result =
      load(workflow_with("    after:\n      - { at: review_date, event: ping }\n      - { at: "
                         "seen_at, event: ping }\n",
                         ""));
  ASSERT_TRUE(result.ok()) << dump(result);
  const TimeZone kolkata = TimeZone::with_offset("Asia/Kolkata", 19'800);
  boost::json::object data{{"review_date", "2026-12-01"}, {"seen_at", "2026-12-02T09:00:00Z"}};
  CaseEffects effects;
  const std::vector<std::string> changed{"review_date"};
  plan_time(*result.workflow, TimeChange{"c", std::nullopt, false, "waiting", &data, changed, 0},
            {}, kolkata, effects);
  // Only the timer whose field changed moves.
  ASSERT_EQ(effects.timers.size(), 1U);
  EXPECT_EQ(format_timestamp(effects.timers[0].due_at), "2026-11-30T18:30:00.000Z");
  ASSERT_EQ(effects.timer_cancels.size(), 1U);
  EXPECT_EQ(effects.timer_cancels[0].name, "waiting/after/0");
}

TEST(TimeRules, TheShippedAftercareDeclaresTheStatutoryClocksAndFollowUps) {
  const auto steps = test::shipped_steps();
  const auto result =
      load_workflow_file(test::source_path("workflows/aftercare.yaml"), steps.get());
  ASSERT_TRUE(result.ok()) << dump(result);
  EXPECT_TRUE(result.diagnostics.empty()) << dump(result);
  std::vector<std::string> names;
  for (const ClockDef& c : result.workflow->clocks) {
    names.push_back(c.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cwc_production", "social_investigation",
                                             "final_order", "individual_care_plan"}));
  const ClockDef& production = *result.workflow->find_clock("cwc_production");
  EXPECT_EQ(production.due, (Duration{0, 0, 24 * kHour}));
  EXPECT_EQ(production.excludes.front(),
            (std::pair<std::string, std::string>{"journey_started", "journey_ended"}));
  EXPECT_EQ(result.workflow->find_clock("final_order")->due, (Duration{4, 0, 0}));
  const State& follow_up = result.workflow->states[*result.workflow->find_state("follow_up")];
  ASSERT_EQ(follow_up.timers.size(), 5U);
  EXPECT_EQ(follow_up.timers[0].delay, (Duration{1, 0, 0}));
  EXPECT_EQ(follow_up.timers[3].delay, (Duration{12, 0, 0}));
  EXPECT_EQ(follow_up.timers[4].kind, Timer::Kind::every);
  EXPECT_EQ(follow_up.timers[4].first, (Duration{18, 0, 0}));
}

}  // namespace
}  // namespace carepath::workflow
