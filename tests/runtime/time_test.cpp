// Timers and statutory clocks through the runtime, on a real SQLite file and a manual clock.
#include <algorithm>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "runtime/runtime.hpp"
#include "runtime/scheduler.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/fake_steps.hpp"
#include "tests/support/temp_dir.hpp"
#include "workflow/loader.hpp"

namespace carepath::runtime {
namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 24 * kHour;

constexpr const char* kWorkflow = R"(carepath: 1
workflow: clocks
version: 1
roles: [caseworker, supervisor]
fields:
  cwc_order_no: { type: string }
  review_date: { type: date }
  visits: { type: integer, min: 0 }
clocks:
  cwc_production:
    title: Produce within 24 hours
    starts: { on_enter: intake }
    due: 24h
    excludes: { between: [journey_started, journey_ended] }
    stops: { on_event: produced }
    warn_before: 6h
    on_warning: { event: production_warning }
    on_breach: { event: production_breached, notify: [supervisor] }
    extendable_by: [supervisor]
  report:
    starts: { on_event: produced }
    due: 15d
    stops: { on_event: report_filed }
states:
  intake:
    initial: true
    on:
      produced: { to: home, roles: [caseworker], requires: [cwc_order_no] }
      journey_started: { to: intake, roles: [caseworker] }
      journey_ended: { to: intake, roles: [caseworker] }
      production_warning: { to: intake }
      production_breached: { to: intake }
  home:
    after:
      - { in: 100d, event: follow_up_due }
      - { at: review_date, event: review_due, met_by: reviewed }
    every:
      - { interval: 30d, event: monthly_check, until: "visits >= 3" }
    on:
      report_filed: { to: home, roles: [caseworker] }
      follow_up_due: { to: follow_up }
      review_due: { to: home }
      reviewed: { to: home, roles: [caseworker] }
      monthly_check: { to: home }
      visit: { to: home, roles: [caseworker], requires: [visits] }
      moved_on: { to: follow_up, roles: [caseworker] }
  follow_up:
    on:
      close: { to: closed, roles: [supervisor] }
  closed:
    final: true
)";

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

// One engine process: a store connection, a runtime and a scheduler over one database file.
struct EngineParts {
  EngineParts(const std::string& db, const Clock& clock, const WorkflowRegistry& registry) {
    auto opened = store::SqliteStore::open(db);
    EXPECT_TRUE(opened) << opened.error().message;
    store = std::move(*opened);
    runtime = std::make_unique<Runtime>(*store, clock, registry,
                                        TimeZone::with_offset("Asia/Kolkata", 19'800));
    scheduler = std::make_unique<TimerScheduler>(*runtime, *store, clock, SchedulerOptions{});
  }
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<Runtime> runtime;
  std::unique_ptr<TimerScheduler> scheduler;
};

class TimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = workflow::load_workflow_text(kWorkflow, "clocks.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty()
                                     ? std::string("?")
                                     : workflow::to_string(loaded.diagnostics[0]));
    registry_.add(loaded.workflow);
    engine_ = std::make_unique<EngineParts>(db(), clock_, registry_);
  }

  std::string db() const { return (dir_ / "cases.db").string(); }
  Runtime& runtime() { return *engine_->runtime; }
  Store& store() { return *engine_->store; }

  CaseRecord open() {
    auto record = runtime().open_case(caseworker_, "clocks", {});
    EXPECT_TRUE(record) << record.error().message;
    return *record;
  }

  Result<FireResult> fire(const Actor& actor, const std::string& id, const std::string& event,
                          const char* data = "{}") {
    FireRequest request;
    request.event = event;
    request.data = obj(data);
    return runtime().fire(actor, id, request);
  }

  CaseRecord produced() {
    auto record = open();
    auto fired = fire(caseworker_, record.id, "produced", R"({"cwc_order_no": "12/2026"})");
    EXPECT_TRUE(fired) << fired.error().message;
    return fired->record;
  }

  ClockStatus clock_named(const std::string& id, const std::string& name) {
    auto clocks = runtime().clocks(supervisor_, id);
    EXPECT_TRUE(clocks) << clocks.error().message;
    for (const auto& c : *clocks) {
      if (c.name == name) {
        return c;
      }
    }
    ADD_FAILURE() << "no clock " << name;
    return {};
  }

  std::vector<HistoryEntry> history(const std::string& id) {
    auto page = runtime().history(supervisor_, id, 500, std::nullopt);
    EXPECT_TRUE(page) << page.error().message;
    return page->items;
  }

  std::size_t count_events(const std::string& id, const std::string& event) {
    const auto entries = history(id);
    return static_cast<std::size_t>(std::count_if(
        entries.begin(), entries.end(), [&](const HistoryEntry& e) { return e.event == event; }));
  }

  test::TempDir dir_;
  // 2026-11-22T04:30:00Z = 10:00 in Kolkata.
  ManualClock clock_{1'795'321'800'000};
  WorkflowRegistry registry_;
  std::unique_ptr<EngineParts> engine_;
  Actor caseworker_{"asha", {"caseworker"}};
  Actor supervisor_{"ravi", {"supervisor"}};
};

TEST_F(TimeTest, ProducedAfter26HoursWithThreeHoursOfJourneyIsNotBreached) {
  const auto record = open();
  clock_.advance_ms(20 * kHour);
  ASSERT_TRUE(fire(caseworker_, record.id, "journey_started"));
  EXPECT_EQ(clock_named(record.id, "cwc_production").state, "paused");
  clock_.advance_ms(3 * kHour);
  ASSERT_TRUE(fire(caseworker_, record.id, "journey_ended"));
  const auto resumed = clock_named(record.id, "cwc_production");
  EXPECT_EQ(resumed.excluded_ms, 3 * kHour);
  EXPECT_EQ(*resumed.due, record.created_at + 27 * kHour);
  clock_.advance_ms(3 * kHour);  // 26 hours after intake
  engine_->scheduler->run_due();
  EXPECT_EQ(count_events(record.id, "production_breached"), 0U);
  ASSERT_TRUE(fire(caseworker_, record.id, "produced", R"({"cwc_order_no": "12/2026"})"));
  const auto met = clock_named(record.id, "cwc_production");
  EXPECT_EQ(met.state, "met");
  EXPECT_FALSE(met.breached_at);
  auto breached = runtime().list_clocks(supervisor_, ClockQuery{"breached"});
  ASSERT_TRUE(breached);
  EXPECT_TRUE(breached->items.empty());
}

TEST_F(TimeTest, ProducedAfter25HoursWithoutJourneyIsBreached) {
  const auto record = open();
  clock_.advance_ms(25 * kHour);
  // The warning (at 18 h) and the breach (at 24 h) fire in the order they fell due.
  EXPECT_EQ(engine_->scheduler->run_due(), 2U);
  const auto entries = history(record.id);
  ASSERT_GE(entries.size(), 3U);
  EXPECT_EQ(entries[1].event, "production_warning");
  EXPECT_EQ(entries[2].event, "production_breached");
  EXPECT_EQ(entries[2].actor, "system");
  // The history says how late the breach fired.
  EXPECT_EQ(entries[2].trigger.at("late_ms").as_int64(), kHour);
  EXPECT_EQ(entries[2].trigger.at("purpose").as_string(), "breach");
  ASSERT_TRUE(entries[2].comment);
  EXPECT_NE(entries[2].comment->find("1h late"), std::string::npos) << *entries[2].comment;

  EXPECT_EQ(clock_named(record.id, "cwc_production").state, "breached");
  ASSERT_TRUE(fire(caseworker_, record.id, "produced", R"({"cwc_order_no": "12/2026"})"));
  const auto late = clock_named(record.id, "cwc_production");
  EXPECT_EQ(late.state, "breached");
  EXPECT_EQ(*late.breached_at, record.created_at + 24 * kHour);
  EXPECT_EQ(*late.stopped, record.created_at + 25 * kHour);

  auto breached = runtime().list_clocks(supervisor_, ClockQuery{"breached"});
  ASSERT_TRUE(breached) << breached.error().message;
  ASSERT_EQ(breached->items.size(), 1U);
  EXPECT_EQ(breached->items[0].case_id, record.id);
  EXPECT_EQ(breached->items[0].clock.name, "cwc_production");
}

TEST_F(TimeTest, AClockIsBreachedWhenItsDeadlinePassesEvenBeforeTheSchedulerRuns) {
  const auto record = open();
  clock_.advance_ms(24 * kHour + 1);
  EXPECT_EQ(clock_named(record.id, "cwc_production").state, "breached");
  CaseQuery overdue;
  overdue.overdue_at = clock_.now();
  auto page = runtime().list_cases(supervisor_, overdue);
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 1U);
  EXPECT_EQ(page->items[0].id, record.id);
  overdue.overdue_at = clock_.now() - 2;  // a moment before the deadline
  page = runtime().list_cases(supervisor_, overdue);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->items.empty());
}

TEST_F(TimeTest, AWarningFiresBeforeTheDeadlineAndIsListed) {
  const auto record = open();
  clock_.advance_ms(18 * kHour);
  EXPECT_EQ(engine_->scheduler->run_due(), 1U);
  EXPECT_EQ(count_events(record.id, "production_warning"), 1U);
  const auto warned = clock_named(record.id, "cwc_production");
  EXPECT_EQ(warned.state, "warning");
  EXPECT_EQ(*warned.remaining_ms, 6 * kHour);
  auto warnings = runtime().list_clocks(supervisor_, ClockQuery{"warning"});
  ASSERT_TRUE(warnings);
  ASSERT_EQ(warnings->items.size(), 1U);
  EXPECT_EQ(warnings->items[0].clock.state, "warning");
  // A warning fires once.
  clock_.advance_ms(kHour);
  EXPECT_EQ(engine_->scheduler->run_due(), 0U);
}

TEST_F(TimeTest, ClocksStartAndStopOnEvents) {
  const auto record = produced();
  const auto report = clock_named(record.id, "report");
  EXPECT_EQ(report.state, "running");
  EXPECT_EQ(*report.started, clock_.now());
  // 15 days on the calendar of Kolkata.
  EXPECT_EQ(*report.due, clock_.now() + 15 * kDay);
  clock_.advance_ms(2 * kDay);
  ASSERT_TRUE(fire(caseworker_, record.id, "report_filed"));
  const auto filed = clock_named(record.id, "report");
  EXPECT_EQ(filed.state, "met");
  EXPECT_EQ(*filed.stopped, clock_.now());
  // A clock runs once per case.
  clock_.advance_ms(kDay);
  ASSERT_TRUE(fire(caseworker_, record.id, "report_filed"));
  EXPECT_EQ(*clock_named(record.id, "report").stopped, clock_.now() - kDay);
}

TEST_F(TimeTest, AClockNotStartedIsListedAsNotStarted) {
  const auto record = open();
  EXPECT_EQ(clock_named(record.id, "report").state, "not_started");
}

TEST_F(TimeTest, ExtendingAClockNeedsAReasonARoleAndMovesTheDeadline) {
  const auto record = open();
  auto missing = fire(supervisor_, record.id, "clock_extended", R"({"clock": "cwc_production"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::unprocessable);
  EXPECT_EQ(missing.error().details.at("missing_fields"), (boost::json::array{"reason", "by"}));

  auto not_allowed =
      fire(caseworker_, record.id, "clock_extended",
           R"({"clock": "cwc_production", "reason": "CWC not sitting", "by": "12h"})");
  ASSERT_FALSE(not_allowed);
  EXPECT_EQ(not_allowed.error().code, Errc::forbidden);

  auto unknown = fire(supervisor_, record.id, "clock_extended",
                      R"({"clock": "cwc_prodution", "reason": "x", "by": "12h"})");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::unprocessable);
  EXPECT_TRUE(unknown.error().details.contains("known_clocks"));

  auto bad_by = fire(supervisor_, record.id, "clock_extended",
                     R"({"clock": "cwc_production", "reason": "x", "by": "soon"})");
  ASSERT_FALSE(bad_by);
  EXPECT_EQ(bad_by.error().code, Errc::unprocessable);

  auto typo = fire(supervisor_, record.id, "clock_extended",
                   R"({"clock": "cwc_production", "reson": "x", "by": "12h"})");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().code, Errc::unprocessable);

  auto extended = fire(supervisor_, record.id, "clock_extended",
                       R"({"clock": "cwc_production", "reason": "CWC not sitting on Sunday",
                           "by": "12h"})");
  ASSERT_TRUE(extended) << extended.error().message;
  EXPECT_EQ(extended->record.state, "intake");
  const auto clock = clock_named(record.id, "cwc_production");
  EXPECT_EQ(*clock.due, record.created_at + 36 * kHour);
  ASSERT_EQ(clock.log.size(), 1U);
  EXPECT_EQ(clock.log[0].at("reason").as_string(), "CWC not sitting on Sunday");
  EXPECT_EQ(clock.log[0].at("by").as_string(), "12h");
  EXPECT_EQ(clock.log[0].at("actor").as_string(), "ravi");
  const auto entries = history(record.id);
  EXPECT_EQ(entries.back().event, "clock_extended");
  EXPECT_EQ(entries.back().payload.at("reason").as_string(), "CWC not sitting on Sunday");

  // The breach now falls due 36 hours after intake, not 24.
  clock_.advance_ms(30 * kHour);
  engine_->scheduler->run_due();
  EXPECT_EQ(count_events(record.id, "production_breached"), 0U);
  clock_.advance_ms(6 * kHour);
  engine_->scheduler->run_due();
  EXPECT_EQ(count_events(record.id, "production_breached"), 1U);
}

TEST_F(TimeTest, PausingAClockStopsItsTimeUntilItResumes) {
  const auto record = open();
  auto bare = fire(supervisor_, record.id, "clock_paused", R"({"clock": "cwc_production"})");
  ASSERT_FALSE(bare);
  EXPECT_EQ(bare.error().details.at("missing_fields"), (boost::json::array{"reason"}));
  clock_.advance_ms(10 * kHour);
  ASSERT_TRUE(fire(supervisor_, record.id, "clock_paused",
                   R"({"clock": "cwc_production", "reason": "child in hospital"})"));
  auto twice = fire(supervisor_, record.id, "clock_paused",
                    R"({"clock": "cwc_production", "reason": "again"})");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Errc::conflict);
  clock_.advance_ms(48 * kHour);
  EXPECT_EQ(engine_->scheduler->run_due(), 0U);  // no deadline runs while paused
  EXPECT_EQ(clock_named(record.id, "cwc_production").state, "paused");
  ASSERT_TRUE(fire(supervisor_, record.id, "clock_resumed",
                   R"({"clock": "cwc_production", "reason": "discharged"})"));
  const auto clock = clock_named(record.id, "cwc_production");
  EXPECT_EQ(clock.state, "running");
  EXPECT_EQ(clock.excluded_ms, 48 * kHour);
  EXPECT_EQ(*clock.due, record.created_at + 72 * kHour);
}

TEST_F(TimeTest, ResumingAnExcludedJourneyByHandIsRefused) {
  const auto record = open();
  ASSERT_TRUE(fire(caseworker_, record.id, "journey_started"));
  auto resumed = fire(supervisor_, record.id, "clock_resumed",
                      R"({"clock": "cwc_production", "reason": "wrong"})");
  ASSERT_FALSE(resumed);
  EXPECT_EQ(resumed.error().code, Errc::conflict);
}

TEST_F(TimeTest, LeavingAStateCancelsItsTimers) {
  const auto record = produced();
  auto timers = store().timers(record.id);
  ASSERT_TRUE(timers);
  const auto pending = [&] {
    auto all = store().timers(record.id);
    EXPECT_TRUE(all);
    return std::count_if(all->begin(), all->end(), [](const TimerRecord& t) {
      return t.kind == "timer" && t.status == "pending";
    });
  };
  EXPECT_EQ(pending(), 2);  // follow_up_due and the first monthly_check (no review_date yet)
  ASSERT_TRUE(fire(caseworker_, record.id, "report_filed"));  // a row back to its own state
  EXPECT_EQ(pending(), 2);
  ASSERT_TRUE(fire(caseworker_, record.id, "moved_on"));
  EXPECT_EQ(pending(), 0);
  clock_.advance_ms(100 * kDay);
  engine_->scheduler->run_due();
  EXPECT_EQ(count_events(record.id, "follow_up_due"), 0U);
  EXPECT_EQ(count_events(record.id, "monthly_check"), 0U);
}

TEST_F(TimeTest, ARestartKeepsTimersAndFiresWhatFellDueWhileDownOnce) {
  const auto record = produced();
  const Timestamp entered = clock_.now();
  engine_.reset();  // the engine stops
  clock_.advance_ms(100 * kDay);
  engine_ = std::make_unique<EngineParts>(db(), clock_, registry_);
  engine_->scheduler->run_due();
  // monthly_check fell due three times while down and fires once; follow_up_due (100 days) then
  // moves the case on, which cancels the next monthly_check.
  EXPECT_EQ(count_events(record.id, "monthly_check"), 1U);
  EXPECT_EQ(count_events(record.id, "follow_up_due"), 1U);
  auto fresh = runtime().get_case(supervisor_, record.id);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->state, "follow_up");
  const auto entries = history(record.id);
  const auto monthly = std::find_if(entries.begin(), entries.end(), [](const HistoryEntry& e) {
    return e.event == "monthly_check";
  });
  ASSERT_NE(monthly, entries.end());
  EXPECT_EQ(monthly->trigger.at("late_ms").as_int64(), 70 * kDay);
  EXPECT_EQ(monthly->at, entered + 100 * kDay);
  EXPECT_EQ(engine_->scheduler->run_due(), 0U);
  // The report clock breached while down, too.
  EXPECT_EQ(clock_named(record.id, "report").state, "breached");
}

TEST_F(TimeTest, AnEveryTimerSkipsMissedPeriodsAndStopsWhenItsUntilHolds) {
  const auto record = produced();
  const Timestamp entered = clock_.now();
  clock_.advance_ms(65 * kDay);
  engine_->scheduler->run_due();
  EXPECT_EQ(count_events(record.id, "monthly_check"), 1U);
  auto timers = store().timers(record.id);
  ASSERT_TRUE(timers);
  const auto next = std::find_if(timers->begin(), timers->end(), [](const TimerRecord& t) {
    return t.purpose == "fire" && t.status == "pending" && t.event == "monthly_check";
  });
  ASSERT_NE(next, timers->end());
  EXPECT_EQ(next->occurrence, 3);
  EXPECT_EQ(next->due_at, entered + 90 * kDay);

  ASSERT_TRUE(fire(caseworker_, record.id, "visit", R"({"visits": 3})"));
  clock_.advance_ms(25 * kDay);  // day 90: the third check falls due
  engine_->scheduler->run_due();
  EXPECT_EQ(count_events(record.id, "monthly_check"), 1U);  // skipped: visits >= 3
  timers = store().timers(record.id);
  ASSERT_TRUE(timers);
  const auto skipped = std::find_if(timers->begin(), timers->end(), [](const TimerRecord& t) {
    return t.event == "monthly_check" && t.status == "skipped";
  });
  ASSERT_NE(skipped, timers->end());
  ASSERT_TRUE(skipped->note);
  EXPECT_NE(skipped->note->find("visits >= 3"), std::string::npos);
}

TEST_F(TimeTest, AnAtTimerFollowsItsDateFieldAndTheScheduleShowsWhenItWasMet) {
  const auto record = produced();
  // 2026-11-25 starts at 2026-11-24T18:30:00Z in Kolkata.
  ASSERT_TRUE(runtime().update_case(caseworker_, record.id, obj(R"({"review_date": "2026-11-25"})"),
                                    std::nullopt, std::nullopt));
  ASSERT_TRUE(runtime().update_case(caseworker_, record.id, obj(R"({"review_date": "2026-11-27"})"),
                                    std::nullopt, std::nullopt));
  auto timers = store().timers(record.id);
  ASSERT_TRUE(timers);
  std::vector<TimerRecord> reviews;
  std::copy_if(timers->begin(), timers->end(), std::back_inserter(reviews),
               [](const TimerRecord& t) { return t.event == "review_due"; });
  ASSERT_EQ(reviews.size(), 2U);
  EXPECT_EQ(reviews[0].status, "cancelled");
  EXPECT_EQ(reviews[1].status, "pending");
  EXPECT_EQ(format_timestamp(reviews[1].due_at), "2026-11-26T18:30:00.000Z");

  clock_.set(reviews[1].due_at + kHour);
  engine_->scheduler->run_due();
  EXPECT_EQ(count_events(record.id, "review_due"), 1U);
  auto sheet = runtime().schedule(supervisor_, record.id);
  ASSERT_TRUE(sheet) << sheet.error().message;
  auto review_row = [&] {
    const auto it = std::find_if(sheet->begin(), sheet->end(),
                                 [](const ScheduleRow& r) { return r.name == "review_due"; });
    EXPECT_NE(it, sheet->end());
    return *it;
  };
  EXPECT_EQ(review_row().status, "open");
  clock_.advance_ms(2 * kDay);
  ASSERT_TRUE(fire(caseworker_, record.id, "reviewed"));
  sheet = runtime().schedule(supervisor_, record.id);
  ASSERT_TRUE(sheet);
  const ScheduleRow row = review_row();
  EXPECT_EQ(row.status, "met");
  EXPECT_EQ(*row.due, reviews[1].due_at);
  EXPECT_EQ(*row.actual, clock_.now());
  EXPECT_EQ(*row.late_ms, 2 * kDay + kHour);
  // Clocks are on the sheet too, by due time.
  EXPECT_TRUE(std::any_of(sheet->begin(), sheet->end(), [](const ScheduleRow& r) {
    return r.kind == "clock" && r.name == "cwc_production" && r.status == "met";
  }));
}

TEST_F(TimeTest, TwoEnginesOnOneDatabaseFireEachTimerOnce) {
  constexpr int kCases = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kCases; ++i) {
    ids.push_back(produced().id);
  }
  EngineParts other(db(), clock_, registry_);
  ASSERT_NE(other.scheduler->owner(), engine_->scheduler->owner());
  clock_.advance_ms(20 * kDay);  // every report clock breaches; nothing else is due
  std::size_t fired_here = 0;
  std::size_t fired_there = 0;
  std::thread there([&] { fired_there = other.scheduler->run_due(); });
  fired_here = engine_->scheduler->run_due();
  there.join();
  EXPECT_EQ(fired_here + fired_there, static_cast<std::size_t>(kCases));
  for (const auto& id : ids) {
    auto timers = store().timers(id);
    ASSERT_TRUE(timers);
    const auto breaches = std::count_if(timers->begin(), timers->end(), [](const TimerRecord& t) {
      return t.purpose == "breach" && t.name == "report";
    });
    EXPECT_EQ(breaches, 1);
    EXPECT_EQ(clock_named(id, "report").state, "breached");
  }
}

TEST_F(TimeTest, ACallerWithoutARoleInTheWorkflowSeesNoClocks) {
  const auto record = open();
  const Actor stranger{"zed", {"auditor"}};
  auto clocks = runtime().clocks(stranger, record.id);
  ASSERT_FALSE(clocks);
  clock_.advance_ms(25 * kHour);
  auto listed = runtime().list_clocks(stranger, ClockQuery{"breached"});
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->items.empty());
}

TEST_F(TimeTest, ABreachNotifiesTheRolesItNamesWhoCanAcknowledgeIt) {
  const auto record = open();
  clock_.advance_ms(25 * kHour);
  // The warning names no roles; the breach names the supervisor.
  EXPECT_EQ(engine_->scheduler->run_due(), 2U);

  auto inbox = runtime().notifications(supervisor_, NotificationQuery{});
  ASSERT_TRUE(inbox) << inbox.error().message;
  ASSERT_EQ(inbox->items.size(), 1U);
  const NotificationRecord got = inbox->items[0];
  EXPECT_EQ(got.case_id, record.id);
  EXPECT_EQ(got.workflow, "clocks");
  EXPECT_EQ(got.role, "supervisor");
  EXPECT_EQ(got.kind, "clock_breach");
  EXPECT_EQ(got.subject, "cwc_production");
  EXPECT_EQ(got.due_at, record.created_at + 24 * kHour);
  EXPECT_EQ(got.created_at, clock_.now());
  EXPECT_EQ(got.id.size(), 16U);
  EXPECT_FALSE(got.acknowledged_at);

  // Only the roles named are told; a caseworker cannot acknowledge what is not hers.
  auto theirs = runtime().notifications(caseworker_, NotificationQuery{});
  ASSERT_TRUE(theirs) << theirs.error().message;
  EXPECT_TRUE(theirs->items.empty());
  auto refused = runtime().acknowledge(caseworker_, got.id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::not_found);
  // Nor does a caller with none of the workflow's roles.
  const Actor outsider{"zed", {"auditor"}};
  EXPECT_TRUE(runtime().notifications(outsider, NotificationQuery{})->items.empty());

  clock_.advance_ms(kHour);
  auto acknowledged = runtime().acknowledge(supervisor_, got.id);
  ASSERT_TRUE(acknowledged) << acknowledged.error().message;
  EXPECT_EQ(acknowledged->acknowledged_at, clock_.now());
  EXPECT_EQ(acknowledged->acknowledged_by, "ravi");
  NotificationQuery unacknowledged;
  unacknowledged.unacknowledged_only = true;
  auto open_items = runtime().notifications(supervisor_, unacknowledged);
  ASSERT_TRUE(open_items);
  EXPECT_TRUE(open_items->items.empty());
  auto all = runtime().notifications(supervisor_, NotificationQuery{});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->items.size(), 1U);
  EXPECT_EQ(all->items[0].acknowledged_by, "ravi");

  // The breach fired once: nothing more is sent however long it stays breached.
  clock_.advance_ms(kDay);
  EXPECT_EQ(engine_->scheduler->run_due(), 0U);
  EXPECT_EQ(runtime().notifications(supervisor_, NotificationQuery{})->items.size(), 1U);
}

TEST_F(TimeTest, NotificationsOfAWorkflowTheCallerHoldsNoRoleInAreNotListed) {
  // A case of a workflow this engine does not load, whose notify named a role of the same name.
  CaseRecord other;
  other.id = "c-other";
  other.code = "CP-OTHER";
  other.workflow = "adoption";
  other.workflow_version = 1;
  other.state = "intake";
  other.version = 1;
  HistoryEntry opened;
  opened.actor = "system";
  opened.event = "opened";
  opened.to = "intake";
  CaseEffects effects;
  effects.notifications = {NotificationRecord{"n-other", other.id, "adoption", "supervisor",
                                              "clock_breach", "decision", clock_.now(),
                                              clock_.now(), std::nullopt, std::nullopt}};
  ASSERT_TRUE(store().create_case(other, opened, effects));
  NotificationQuery query;
  query.roles = {"supervisor"};
  ASSERT_EQ(store().list_notifications(query)->items.size(), 1U);  // stored for the role

  auto inbox = runtime().notifications(supervisor_, NotificationQuery{});
  ASSERT_TRUE(inbox) << inbox.error().message;
  EXPECT_TRUE(inbox->items.empty());
}

TEST(TaskDates, ADateATaskBringsSetsTheTimerThatWaitsForIt) {
  test::FakeCatalog catalog;
  catalog.add("test.ask_court", {}, [](const StepInput&) {
    return StepOutcome{StepStatus::pending, {{"ask", "the date of the next hearing"}}, {}};
  });
  auto loaded = workflow::load_workflow_text(R"(carepath: 1
workflow: hearings
version: 1
roles: [legal_officer]
fields:
  hearing_date: { type: date }
states:
  waiting:
    initial: true
    on_enter:
      - { step: test.ask_court, on_complete: date_known }
    after:
      - { at: hearing_date, event: hearing_due }
    on:
      date_known: { to: waiting }
      hearing_due: { to: heard }
  heard:
    final: true
)",
                                             "hearings.yaml", &catalog);
  ASSERT_TRUE(loaded.ok()) << workflow::to_string(loaded.diagnostics.at(0));
  WorkflowRegistry registry;
  registry.add(loaded.workflow);
  test::TempDir dir;
  ManualClock clock(1'795'321'800'000);  // 2026-11-22T04:30:00Z
  EngineParts engine((dir / "cases.db").string(), clock, registry);
  const Actor officer{"lata", {"legal_officer"}};
  auto opened = engine.runtime->open_case(officer, "hearings", {});
  ASSERT_TRUE(opened) << opened.error().message;
  auto tasks = engine.runtime->tasks(officer, opened->id);
  ASSERT_TRUE(tasks);
  ASSERT_EQ(tasks->size(), 1U);
  auto done = engine.runtime->complete_task(Actor{"court", {}}, tasks->front().token,
                                            obj(R"({"hearing_date": "2026-12-01"})"), std::nullopt);
  ASSERT_TRUE(done) << done.error().message;
  auto timers = engine.store->timers(opened->id);
  ASSERT_TRUE(timers);
  ASSERT_EQ(timers->size(), 1U);
  EXPECT_EQ(timers->front().event, "hearing_due");
  EXPECT_EQ(format_timestamp(timers->front().due_at), "2026-11-30T18:30:00.000Z");
  clock.set(timers->front().due_at);
  EXPECT_EQ(engine.scheduler->run_due(), 1U);
  auto heard = engine.runtime->get_case(officer, opened->id);
  ASSERT_TRUE(heard);
  EXPECT_EQ(heard->state, "heard");
}

}  // namespace
}  // namespace carepath::runtime
