// migrate_case_data and plan_migrated_time: what a plan does to one case's data, state, timers
// and clocks, without a database.
#include "core/migration.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "core/fields.hpp"
#include "core/schedule.hpp"

namespace carepath {
namespace {

constexpr Timestamp kNow = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kDay = 86'400'000;

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

// Version 2 of a small workflow: `home` became `placement_home`, `track` is required, age <= 18.
Workflow new_version() {
  Workflow w;
  w.name = "home";
  w.version = 2;
  w.roles = {"caseworker"};
  Field track{
      "track", FieldType::enumeration, std::nullopt, std::nullopt, {"school", "vocational"}};
  track.required = true;
  w.fields = {
      Field{"name", FieldType::string, std::nullopt, std::nullopt, {}, Sensitivity::identifying},
      Field{"placement_home", FieldType::string},
      Field{"age", FieldType::integer, 0.0, 18.0},
      Field{"first", FieldType::string},
      Field{"second", FieldType::string},
      track,
  };
  State intake{"intake", true, false};
  State care{"care", false, false};
  Timer review;
  review.kind = Timer::Kind::after;
  review.name = "care/after/0";
  review.delay = Duration{0, 30, 0};
  review.event = "review_due";
  Timer visit;
  visit.kind = Timer::Kind::after;
  visit.name = "care/after/1";
  visit.delay = Duration{0, 7, 0};
  visit.event = "visit_due";
  care.timers = {review, visit};
  w.states = {intake, care, State{"closed", false, true}};
  w.events = {"review_due", "visit_due", "close"};
  ClockDef production;
  production.name = "production";
  production.due = Duration{0, 1, 0};
  production.on_breach.event = "close";
  w.clocks = {production};
  w.finalize();
  return w;
}

MigrationPlan plan() {
  MigrationPlan p;
  p.name = "home-1-to-2";
  p.workflow = "home";
  p.from = 1;
  p.to = 2;
  p.states = {{"in_care", "care"}};
  p.fields = {FieldMove{"home", "placement_home"}, FieldMove{"scratch", std::nullopt}};
  p.set = obj(R"({"track": "school"})");
  return p;
}

CaseRecord old_case(const char* state, const char* data) {
  CaseRecord r;
  r.id = "c1";
  r.workflow = "home";
  r.workflow_version = 1;
  r.state = state;
  r.data = obj(data);
  r.version = 4;
  return r;
}

TEST(MigrateCaseData, MapsTheStateRenamesDropsAndSets) {
  const Workflow to = new_version();
  const auto m = migrate_case_data(
      plan(), to, old_case("in_care", R"({"name": "A", "home": "Umang", "scratch": "x"})"));
  ASSERT_TRUE(m.ok()) << m.reasons.front();
  EXPECT_EQ(m.from_state, "in_care");
  EXPECT_EQ(m.to_state, "care");
  EXPECT_EQ(m.data, obj(R"({"name": "A", "placement_home": "Umang", "track": "school"})"));
  EXPECT_EQ(
      m.payload,
      obj(R"({"home": null, "scratch": null, "placement_home": "Umang", "track": "school"})"));
  EXPECT_EQ(m.changed, (std::vector<std::string>{"home", "scratch", "placement_home", "track"}));
}

TEST(MigrateCaseData, StatesWithoutAMappingKeepTheirName) {
  const Workflow to = new_version();
  const auto kept = migrate_case_data(plan(), to, old_case("intake", R"({"track": "vocational"})"));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept.to_state, "intake");
  // `set` fills only what the case does not hold: the case's own value wins.
  EXPECT_EQ(kept.data.at("track"), "vocational");
  EXPECT_TRUE(kept.changed.empty());

  const auto lost = migrate_case_data(plan(), to, old_case("medical_hold", R"({})"));
  ASSERT_EQ(lost.reasons.size(), 1U);
  EXPECT_EQ(lost.reasons[0],
            "state 'medical_hold' has no mapping under 'states', and version 2 has no state of "
            "that name");
}

TEST(MigrateCaseData, RenamesCanSwapTwoFields) {
  const Workflow to = new_version();
  MigrationPlan p = plan();
  p.fields = {FieldMove{"first", "second"}, FieldMove{"second", "first"}};
  const auto m = migrate_case_data(p, to, old_case("intake", R"({"first": "a", "second": "b"})"));
  ASSERT_TRUE(m.ok()) << m.reasons.front();
  EXPECT_EQ(m.data.at("first"), "b");
  EXPECT_EQ(m.data.at("second"), "a");
}

TEST(MigrateCaseData, ExplainsEveryReasonWithoutValues) {
  const Workflow to = new_version();
  MigrationPlan p = plan();
  p.set = {};
  p.fields = {FieldMove{"home", "name"}};
  const auto m = migrate_case_data(
      p, to, old_case("in_care", R"({"name": "Secret Name", "home": "Secret Home", "age": 21,
                                     "legacy": "Secret Legacy"})"));
  ASSERT_EQ(m.reasons.size(), 4U);
  EXPECT_EQ(m.reasons[0],
            "field 'name' already holds a value, and the plan renames another field to it");
  EXPECT_EQ(m.reasons[1],
            "field 'legacy' is not declared in version 2; rename or drop it under 'fields'");
  EXPECT_EQ(m.reasons[2], "field 'age' is not valid in version 2: value must be at most 18");
  EXPECT_EQ(m.reasons[3],
            "field 'track' is required in version 2 and the case holds no value; give one under "
            "'set'");
  for (const auto& reason : m.reasons) {
    EXPECT_EQ(reason.find("Secret"), std::string::npos) << reason;
  }
}

TEST(PlanMigratedTime, CarriesTimersByNameSchedulesNewOnesAndDropsTheRest) {
  const Workflow to = new_version();
  CaseRecord after = old_case("care", R"({})");
  after.workflow_version = 2;
  TimerRecord review;
  review.case_id = "c1";
  review.kind = "timer";
  review.name = "in_care/after/0";
  review.event = "old_review";
  review.due_at = kNow + 20 * kDay;
  review.status = "pending";
  TimerRecord weekly = review;
  weekly.name = "in_care/every/0";
  weekly.due_at = kNow + 2 * kDay;
  TimerRecord done = review;
  done.name = "in_care/after/1";
  done.status = "fired";
  CaseEffects effects;
  const auto time = plan_migrated_time(to, after, "in_care", std::vector{review, weekly, done}, {},
                                       kNow, TimeZone::utc(), effects);
  EXPECT_EQ(time.carried_timers, std::vector<std::string>{"care/after/0"});
  EXPECT_EQ(time.dropped_timers, std::vector<std::string>{"in_care/every/0"});
  ASSERT_EQ(effects.timer_cancels.size(), 1U);
  EXPECT_EQ(effects.timer_cancels[0].kind, "timer");
  EXPECT_FALSE(effects.timer_cancels[0].name.has_value());
  ASSERT_EQ(effects.timers.size(), 2U);
  EXPECT_EQ(effects.timers[0].name, "care/after/0");
  EXPECT_EQ(effects.timers[0].due_at, kNow + 20 * kDay);  // its due time, not a new one
  EXPECT_EQ(effects.timers[0].event, "review_due");       // the new version's event
  EXPECT_EQ(effects.timers[1].name, "care/after/1");      // new in version 2: from the move
  EXPECT_EQ(effects.timers[1].due_at, kNow + 7 * kDay);
}

TEST(PlanMigratedTime, CarriesDeclaredClocksAndStopsTheOthers) {
  const Workflow to = new_version();
  CaseRecord after = old_case("intake", R"({})");
  ClockRecord production;
  production.case_id = "c1";
  production.name = "production";
  production.started_at = kNow - kDay / 2;
  production.base_due_at = kNow + kDay / 2;
  production.due_at = production.base_due_at;
  ClockRecord gone = production;
  gone.name = "old_review";
  gone.base_due_at = kNow - kDay;  // already past: stopping it records the breach
  gone.due_at = gone.base_due_at;
  ClockRecord ended = gone;
  ended.name = "ended";
  ended.stopped_at = kNow - 2 * kDay;
  CaseEffects effects;
  const auto time =
      plan_migrated_time(to, after, "intake", {}, std::vector{production, gone, ended}, kNow,
                         TimeZone::utc(), effects);
  EXPECT_EQ(time.carried_clocks, std::vector<std::string>{"production"});
  EXPECT_EQ(time.dropped_clocks, std::vector<std::string>{"old_review"});
  ASSERT_EQ(effects.clocks.size(), 2U);
  EXPECT_EQ(effects.clocks[0].name, "production");
  EXPECT_EQ(effects.clocks[0].due_at, kNow + kDay / 2);  // the deadline it was given
  EXPECT_EQ(effects.clocks[1].name, "old_review");
  EXPECT_EQ(effects.clocks[1].stopped_at, kNow);
  EXPECT_EQ(effects.clocks[1].breached_at, kNow - kDay);
  // The carried clock's breach timer fires the new version's event.
  const auto breach = std::find_if(effects.timers.begin(), effects.timers.end(),
                                   [](const TimerRecord& t) { return t.purpose == "breach"; });
  ASSERT_NE(breach, effects.timers.end());
  EXPECT_EQ(breach->name, "production");
  EXPECT_EQ(breach->event, "close");
  EXPECT_EQ(breach->due_at, kNow + kDay / 2);
}

TEST(RequiredFields, OpeningWithoutAndUnsettingAreRefused) {
  const Workflow w = new_version();
  const auto missing = missing_required(w, obj(R"({"name": "A"})"));
  ASSERT_EQ(missing.size(), 1U);
  EXPECT_EQ(missing[0].field, "track");
  EXPECT_TRUE(missing_required(w, obj(R"({"track": "school"})")).empty());
  const auto unset = validate_payload(w, obj(R"({"track": null})"));
  ASSERT_EQ(unset.size(), 1U);
  EXPECT_EQ(unset[0].reason, "is required; it cannot be unset");
}

}  // namespace
}  // namespace carepath
