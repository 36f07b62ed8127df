// SqliteStore's timers and statutory clocks, on real database files: effects, claims and leases,
// finishing a timer, the supervisor's clock lists, list_cases' overdue filter, the notifications
// clocks send to roles, and the query plans behind them.
#include <array>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::store {
namespace {

constexpr Timestamp kT0 = 1'790'000'000'000;
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kDay = 86'400'000;

class SqliteTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::open(path());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }

  std::string path() const { return (dir_ / "carepath.db").string(); }
  SqliteStore& store() { return *store_; }

  test::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

// Invented test data only.
CaseRecord make_case(const std::string& id, const std::string& workflow = "aftercare",
                     const std::string& state = "intake") {
  CaseRecord record;
  record.id = id;
  record.code = "CP-" + id;
  record.workflow = workflow;
  record.workflow_version = 1;
  record.state = state;
  record.data = {{"age", 14}};
  record.version = 1;
  record.created_at = kT0;
  record.updated_at = kT0;
  return record;
}

HistoryEntry opened_entry(const CaseRecord& record) {
  HistoryEntry entry;
  entry.at = record.created_at;
  entry.actor = "caseworker.one";
  entry.event = "opened";
  entry.to = record.state;
  entry.version = 1;
  entry.payload = record.data;
  return entry;
}

void create(Store& store, const CaseRecord& record, const CaseEffects& effects = {}) {
  auto created = store.create_case(record, opened_entry(record), effects);
  ASSERT_TRUE(created) << created.error().message;
}

// The next version of `before`, moved to `state` at `at` by the engine.
CaseChange change_of(const CaseRecord& before, const std::string& state, Timestamp at) {
  CaseChange change;
  change.after = before;
  change.after.state = state;
  change.after.version = before.version + 1;
  change.after.updated_at = at;
  change.expected_version = before.version;
  change.entry.at = at;
  change.entry.actor = "engine";
  change.entry.event = "escalate";
  change.entry.from = before.state;
  change.entry.to = state;
  change.entry.trigger = {{"timer", "intake/after/0"}, {"due_at", at}, {"late_ms", 0}};
  return change;
}

TimerRecord make_timer(const std::string& case_id, const std::string& name, Timestamp due_at,
                       const std::string& kind = "timer") {
  TimerRecord timer;
  timer.case_id = case_id;
  timer.kind = kind;
  timer.name = name;
  timer.purpose = kind == "timer" ? "fire" : "breach";
  timer.event = "escalate";
  timer.due_at = due_at;
  timer.anchor_at = kT0;
  timer.created_at = kT0;
  return timer;
}

ClockRecord make_clock(const std::string& case_id, const std::string& name,
                       std::optional<Timestamp> due_at, std::optional<Timestamp> warn_at,
                       const std::string& workflow = "aftercare") {
  ClockRecord clock;
  clock.case_id = case_id;
  clock.name = name;
  clock.workflow = workflow;
  clock.started_at = kT0;
  clock.base_due_at = due_at.value_or(kT0 + 30 * kDay);
  clock.due_at = due_at;
  clock.warn_at = warn_at;
  return clock;
}

CaseEffects with_timers(std::vector<TimerRecord> timers) {
  CaseEffects effects;
  effects.timers = std::move(timers);
  return effects;
}

CaseEffects with_clocks(std::vector<ClockRecord> clocks) {
  CaseEffects effects;
  effects.clocks = std::move(clocks);
  return effects;
}

// name -> status of a case's timers, in the store's order.
std::vector<std::pair<std::string, std::string>> timer_states(Store& store,
                                                              const std::string& case_id) {
  std::vector<std::pair<std::string, std::string>> states;
  auto timers = store.timers(case_id);
  EXPECT_TRUE(timers) << timers.error().message;
  if (timers) {
    for (const auto& timer : *timers) {
      states.emplace_back(timer.name, timer.status);
    }
  }
  return states;
}

std::vector<std::string> claimed_names(const std::vector<TimerRecord>& timers) {
  std::vector<std::string> names;
  names.reserve(timers.size());
  for (const auto& timer : timers) {
    names.push_back(timer.name);
  }
  return names;
}

TimerFinish finish_of(std::int64_t timer_id, const std::string& owner, const std::string& status,
                      Timestamp at) {
  TimerFinish finish;
  finish.timer_id = timer_id;
  finish.owner = owner;
  finish.status = status;
  finish.at = at;
  return finish;
}

using Names = std::vector<std::string>;
using States = std::vector<std::pair<std::string, std::string>>;

// --- effects ---------------------------------------------------------------------------------

TEST_F(SqliteTimeTest, InsertsTimersAsPendingAndReadsThemBackByDueTime) {
  TimerRecord every = make_timer("c1", "intake/every/0", kT0 + 2 * kDay);
  every.occurrence = 3;
  every.anchor_at = kT0 - kDay;
  every.event = std::nullopt;
  every.status = "fired";  // ignored: new timers are pending
  every.fired_at = kT0;
  every.note = "ignored";
  create(store(), make_case("c1"),
         with_timers({every, make_timer("c1", "intake/after/0", kT0 + kDay)}));

  auto timers = store().timers("c1");
  ASSERT_TRUE(timers) << timers.error().message;
  ASSERT_EQ(timers->size(), 2U);
  EXPECT_EQ((*timers)[0].name, "intake/after/0");
  const TimerRecord& got = (*timers)[1];
  EXPECT_LT(got.id, (*timers)[0].id);  // inserted first, listed second: by due time
  EXPECT_EQ(got.case_id, "c1");
  EXPECT_EQ(got.kind, "timer");
  EXPECT_EQ(got.name, "intake/every/0");
  EXPECT_EQ(got.purpose, "fire");
  EXPECT_FALSE(got.event);
  EXPECT_EQ(got.due_at, kT0 + 2 * kDay);
  EXPECT_EQ(got.occurrence, 3);
  EXPECT_EQ(got.anchor_at, kT0 - kDay);
  EXPECT_EQ(got.status, "pending");
  EXPECT_FALSE(got.fired_at);
  EXPECT_FALSE(got.note);
  EXPECT_EQ(got.created_at, kT0);
  EXPECT_EQ((*timers)[0].event, "escalate");
}

TEST_F(SqliteTimeTest, CancelsPendingTimersOfTheChangedCaseByKindBeforeInsertingNewOnes) {
  const CaseRecord c1 = make_case("c1");
  create(store(), c1,
         with_timers({make_timer("c1", "intake/after/0", kT0 + kDay),
                      make_timer("c1", "intake/every/0", kT0 + 2 * kDay),
                      make_timer("c1", "decision", kT0 + 3 * kDay, "clock")}));
  create(store(), make_case("c2"), with_timers({make_timer("c2", "intake/after/0", kT0 + kDay)}));

  const CaseChange change = change_of(c1, "review", kT0 + 5 * kMinute);
  CaseEffects effects;
  effects.timer_cancels = {{"timer", std::nullopt}};
  // Scheduled by the same change under a name that is being cancelled: it must survive.
  effects.timers = {make_timer("c1", "intake/after/0", kT0 + 4 * kDay)};
  auto updated = store().update_case(change.after, change.expected_version, change.entry,
                                     std::nullopt, effects);
  ASSERT_TRUE(updated) << updated.error().message;

  EXPECT_EQ(timer_states(store(), "c1"), (States{{"intake/after/0", "cancelled"},
                                                 {"intake/every/0", "cancelled"},
                                                 {"decision", "pending"},
                                                 {"intake/after/0", "pending"}}));
  auto timers = store().timers("c1");
  ASSERT_TRUE(timers);
  EXPECT_EQ((*timers)[0].fired_at, kT0 + 5 * kMinute);  // the change's time
  EXPECT_FALSE((*timers)[2].fired_at);
  // Another case's timers of the same kind and name are not touched.
  EXPECT_EQ(timer_states(store(), "c2"), (States{{"intake/after/0", "pending"}}));
}

TEST_F(SqliteTimeTest, CancelsByKindAndNameOnlyThatNameAndNeverFinishedTimers) {
  const CaseRecord c1 = make_case("c1");
  create(store(), c1,
         with_timers({make_timer("c1", "decision", kT0 + kDay, "clock"),
                      make_timer("c1", "decision", kT0 + 2 * kDay, "clock"),
                      make_timer("c1", "appeal", kT0 + 3 * kDay, "clock"),
                      make_timer("c1", "decision", kT0 + 4 * kDay, "timer")}));
  // The first "decision" clock timer has fired already.
  auto claimed = store().claim_timers(kT0 + kDay, kMinute, 1, "engine-a");
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1U);
  ASSERT_TRUE(store().finish_timer(finish_of((*claimed)[0].id, "engine-a", "fired", kT0 + kDay)));

  const CaseChange change = change_of(c1, "decided", kT0 + kDay + kMinute);
  CaseEffects effects;
  effects.timer_cancels = {{"clock", std::string("decision")}};
  ASSERT_TRUE(store().update_case(change.after, change.expected_version, change.entry, std::nullopt,
                                  effects));

  EXPECT_EQ(timer_states(store(), "c1"), (States{{"decision", "fired"},
                                                 {"decision", "cancelled"},
                                                 {"appeal", "pending"},
                                                 {"decision", "pending"}}));
  auto timers = store().timers("c1");
  ASSERT_TRUE(timers);
  EXPECT_EQ((*timers)[0].fired_at, kT0 + kDay);  // its firing time, not the cancel's
}

TEST_F(SqliteTimeTest, UpsertsClocksAndReadsBackEveryField) {
  ClockRecord clock = make_clock("c1", "decision", kT0 + 30 * kDay, kT0 + 25 * kDay);
  ClockRecord other = make_clock("c1", "appeal", std::nullopt, std::nullopt);
  other.started_at = kT0 - kDay;  // listed first
  const CaseRecord c1 = make_case("c1");
  create(store(), c1, with_clocks({clock, other}));

  auto clocks = store().clocks("c1");
  ASSERT_TRUE(clocks) << clocks.error().message;
  ASSERT_EQ(clocks->size(), 2U);
  EXPECT_EQ((*clocks)[0].name, "appeal");
  EXPECT_FALSE((*clocks)[0].due_at);
  const ClockRecord& first = (*clocks)[1];
  EXPECT_EQ(first.name, "decision");
  EXPECT_EQ(first.due_at, kT0 + 30 * kDay);
  EXPECT_EQ(first.warn_at, kT0 + 25 * kDay);
  EXPECT_FALSE(first.paused_since);
  EXPECT_TRUE(first.log.empty());

  // Paused by hand, then extended: every field changes and the row is replaced in place.
  ClockRecord paused = clock;
  paused.workflow = "aftercare-v2";
  paused.started_at = kT0 + 1;
  paused.base_due_at = kT0 + 37 * kDay;
  paused.excluded_ms = 3 * kDay;
  paused.paused_since = kT0 + 10 * kDay;
  paused.pause_kind = "paused";
  paused.due_at = std::nullopt;
  paused.warn_at = std::nullopt;
  paused.stopped_at = kT0 + 40 * kDay;
  paused.warned_at = kT0 + 25 * kDay;
  paused.breached_at = kT0 + 38 * kDay;
  paused.log = boost::json::array{
      {{"at", kT0 + 10 * kDay}, {"action", "pause"}, {"reason", "court recess"}, {"actor", "sup"}},
      {{"at", kT0 + 11 * kDay}, {"action", "extend"}, {"by", "P7D"}, {"actor", "sup"}}};
  const CaseChange change = change_of(c1, "paused", kT0 + 10 * kDay);
  ASSERT_TRUE(store().update_case(change.after, change.expected_version, change.entry, std::nullopt,
                                  with_clocks({paused})));

  clocks = store().clocks("c1");
  ASSERT_TRUE(clocks);
  ASSERT_EQ(clocks->size(), 2U);
  const ClockRecord& got = (*clocks)[1];
  EXPECT_EQ(got.case_id, "c1");
  EXPECT_EQ(got.name, "decision");
  EXPECT_EQ(got.workflow, "aftercare-v2");
  EXPECT_EQ(got.started_at, kT0 + 1);
  EXPECT_EQ(got.base_due_at, kT0 + 37 * kDay);
  EXPECT_EQ(got.excluded_ms, 3 * kDay);
  EXPECT_EQ(got.paused_since, kT0 + 10 * kDay);
  EXPECT_EQ(got.pause_kind, "paused");
  EXPECT_FALSE(got.due_at);
  EXPECT_FALSE(got.warn_at);
  EXPECT_EQ(got.stopped_at, kT0 + 40 * kDay);
  EXPECT_EQ(got.warned_at, kT0 + 25 * kDay);
  EXPECT_EQ(got.breached_at, kT0 + 38 * kDay);
  EXPECT_EQ(got.log, paused.log);
  EXPECT_TRUE(store().clocks("c2")->empty());
}

TEST_F(SqliteTimeTest, AJobFinishedWithoutAChangeCancelsTimersOfItsOwnCase) {
  OutboxJob job;
  job.case_id = "c1";
  job.workflow = "aftercare";
  job.workflow_version = 1;
  job.step_ref = "intake/steps/0";
  job.step_type = "legal_aid.refer";
  job.to = "intake";
  job.idempotency_key = "c1/1/intake/steps/0";
  job.next_at = kT0;
  job.created_at = kT0;
  CaseEffects effects = with_timers({make_timer("c1", "intake/after/0", kT0 + kDay)});
  effects.jobs = {job};
  create(store(), make_case("c1"), effects);
  create(store(), make_case("c2"), with_timers({make_timer("c2", "intake/after/0", kT0 + kDay)}));
  auto claimed = store().claim_jobs(kT0, kMinute, 10);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1U);

  JobResult result;
  result.status = "done";
  result.attempts = 1;
  result.effects.timer_cancels = {{"timer", std::nullopt}};
  TimerRecord next = make_timer("c1", "intake/after/1", kT0 + 2 * kDay);
  next.created_at = kT0 + kMinute;
  result.effects.timers = {next};
  auto finished = store().finish_job((*claimed)[0].id, result);
  ASSERT_TRUE(finished) << finished.error().message;

  EXPECT_EQ(timer_states(store(), "c1"),
            (States{{"intake/after/0", "cancelled"}, {"intake/after/1", "pending"}}));
  EXPECT_EQ(store().timers("c1")->front().fired_at, kT0 + kMinute);
  EXPECT_EQ(timer_states(store(), "c2"), (States{{"intake/after/0", "pending"}}));
}

// --- claims and leases -----------------------------------------------------------------------

TEST_F(SqliteTimeTest, ClaimsDueTimersInDueOrderThenId) {
  create(
      store(), make_case("c1"),
      with_timers({make_timer("c1", "third", kT0 + 3 * kMinute),
                   make_timer("c1", "first", kT0 + kMinute), make_timer("c1", "later", kT0 + kDay),
                   make_timer("c1", "second-a", kT0 + 2 * kMinute),
                   make_timer("c1", "second-b", kT0 + 2 * kMinute)}));

  auto none = store().claim_timers(kT0, kMinute, 10, "engine-a");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty());

  auto first = store().claim_timers(kT0 + 3 * kMinute, kMinute, 2, "engine-a");
  ASSERT_TRUE(first);
  EXPECT_EQ(claimed_names(*first), (Names{"first", "second-a"}));
  auto rest = store().claim_timers(kT0 + 3 * kMinute, kMinute, 10, "engine-a");
  ASSERT_TRUE(rest);
  EXPECT_EQ(claimed_names(*rest), (Names{"second-b", "third"}));
  EXPECT_EQ((*rest)[1].status, "pending");
  EXPECT_EQ((*rest)[1].due_at, kT0 + 3 * kMinute);
}

TEST_F(SqliteTimeTest, LeasedTimerIsClaimedAgainOnlyWhenItsLeaseEnds) {
  create(store(), make_case("c1"), with_timers({make_timer("c1", "after", kT0)}));
  auto claimed = store().claim_timers(kT0, 30'000, 10, "engine-a");
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1U);

  auto during = store().claim_timers(kT0 + 29'999, 30'000, 10, "engine-b");
  ASSERT_TRUE(during);
  EXPECT_TRUE(during->empty());

  auto after = store().claim_timers(kT0 + 30'000, 30'000, 10, "engine-b");
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1U);
  EXPECT_EQ((*after)[0].id, (*claimed)[0].id);

  auto refused = store().claim_timers(kT0, 0, 10, "engine-a");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
}

TEST_F(SqliteTimeTest, NextTimerAtIsTheEarliestPendingDueTimeWhateverItsLease) {
  auto empty = store().next_timer_at();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_FALSE(*empty);

  create(
      store(), make_case("c1"),
      with_timers({make_timer("c1", "b", kT0 + 2 * kMinute), make_timer("c1", "a", kT0 + kMinute),
                   make_timer("c1", "c", kT0 + 3 * kMinute)}));
  EXPECT_EQ(*store().next_timer_at(), kT0 + kMinute);

  auto claimed = store().claim_timers(kT0 + kMinute, kDay, 1, "engine-a");
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1U);
  EXPECT_EQ(*store().next_timer_at(), kT0 + kMinute);  // leased, still pending

  ASSERT_TRUE(
      store().finish_timer(finish_of((*claimed)[0].id, "engine-a", "fired", kT0 + kMinute)));
  EXPECT_EQ(*store().next_timer_at(), kT0 + 2 * kMinute);
}

TEST_F(SqliteTimeTest, TwoStoresClaimingConcurrentlyNeverGetTheSameTimer) {
  constexpr int kTimers = 1000;
  std::vector<TimerRecord> timers;
  timers.reserve(kTimers);
  for (int i = 0; i < kTimers; ++i) {
    timers.push_back(make_timer("c1", "t" + std::to_string(i), kT0 + i % 17));
  }
  create(store(), make_case("c1"), with_timers(timers));

  auto other = SqliteStore::open(path());
  ASSERT_TRUE(other) << other.error().message;
  std::array<std::vector<std::int64_t>, 2> ids;
  std::atomic<int> failures{0};
  auto worker = [&](SqliteStore& store, int number) {
    const std::string owner = "engine-" + std::to_string(number);
    for (;;) {
      auto claimed = store.claim_timers(kT0 + 100, kDay, 7, owner);
      if (!claimed) {
        ADD_FAILURE() << claimed.error().message;
        ++failures;
        return;
      }
      if (claimed->empty()) {
        return;
      }
      for (const auto& timer : *claimed) {
        ids[number].push_back(timer.id);
        // Every claim is its owner's to finish: no other engine holds it.
        auto finished = store.finish_timer(finish_of(timer.id, owner, "fired", kT0 + 100));
        if (!finished) {
          ADD_FAILURE() << finished.error().message;
          ++failures;
        }
      }
    }
  };
  std::thread first(worker, std::ref(store()), 0);
  std::thread second(worker, std::ref(**other), 1);
  first.join();
  second.join();
  ASSERT_EQ(failures.load(), 0);

  std::set<std::int64_t> unique(ids[0].begin(), ids[0].end());
  unique.insert(ids[1].begin(), ids[1].end());
  EXPECT_EQ(ids[0].size() + ids[1].size(), static_cast<std::size_t>(kTimers));
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kTimers));
  for (const auto& [name, status] : timer_states(store(), "c1")) {
    EXPECT_EQ(status, "fired") << name;
  }
  RecordProperty("claimed_by_first", static_cast<int>(ids[0].size()));
  RecordProperty("claimed_by_second", static_cast<int>(ids[1].size()));
}

// --- finishing a timer -----------------------------------------------------------------------

// A case with one due timer, claimed by "engine-a" (timer_).
class FinishTimerTest : public SqliteTimeTest {
 protected:
  void SetUp() override {
    SqliteTimeTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(
        create(store(), c1_, with_timers({make_timer("c1", "intake/after/0", kT0)})));
    auto claimed = store().claim_timers(kT0 + 10, kMinute, 10, "engine-a");
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->size(), 1U);
    timer_ = (*claimed)[0];
  }

  // A fired finish that moves the case on (version 1 to 2) and schedules the next timer.
  TimerFinish fired(const std::string& owner) const {
    TimerFinish finish = finish_of(timer_.id, owner, "fired", kT0 + 10);
    finish.change = change_of(c1_, "escalated", kT0 + 10);
    finish.effects.timers = {make_timer("c1", "escalated/after/0", kT0 + kDay)};
    return finish;
  }

  // Nothing of a refused finish is written: the timer is pending, the case and history as before.
  void expect_nothing_written() {
    EXPECT_EQ(timer_states(store(), "c1"), (States{{"intake/after/0", "pending"}}));
    auto got = store().get_case("c1");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->version, 1);
    EXPECT_EQ(got->state, "intake");
    EXPECT_EQ(store().history("c1", 10, std::nullopt)->items.size(), 1U);
  }

  const CaseRecord c1_ = make_case("c1");
  TimerRecord timer_;
};

TEST_F(FinishTimerTest, RecordsTheFiringWithTheChangeAndItsEffects) {
  auto finished = store().finish_timer(fired("engine-a"));
  ASSERT_TRUE(finished) << finished.error().message;

  auto timers = store().timers("c1");
  ASSERT_TRUE(timers);
  ASSERT_EQ(timers->size(), 2U);
  EXPECT_EQ((*timers)[0].status, "fired");
  EXPECT_EQ((*timers)[0].fired_at, kT0 + 10);
  EXPECT_FALSE((*timers)[0].note);
  EXPECT_EQ((*timers)[1].name, "escalated/after/0");
  EXPECT_EQ((*timers)[1].status, "pending");
  auto got = store().get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->state, "escalated");
  auto history = store().history("c1", 10, std::nullopt);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->items.size(), 2U);
  EXPECT_EQ(history->items[1].trigger, fired("engine-a").change->entry.trigger);
}

TEST_F(FinishTimerTest, RecordsASkippedTimerWithItsNoteAndNoChange) {
  TimerFinish skipped = finish_of(timer_.id, "engine-a", "skipped", kT0 + 20);
  skipped.note = "guard was false";
  // An `every` timer schedules its next occurrence even when this one is skipped; the cancel
  // applies to the timer's case.
  skipped.effects.timer_cancels = {{"clock", std::nullopt}};
  skipped.effects.timers = {make_timer("c1", "intake/every/0", kT0 + kDay)};
  ASSERT_TRUE(store().finish_timer(skipped));

  auto timers = store().timers("c1");
  ASSERT_TRUE(timers);
  ASSERT_EQ(timers->size(), 2U);
  EXPECT_EQ((*timers)[0].status, "skipped");
  EXPECT_EQ((*timers)[0].fired_at, kT0 + 20);
  EXPECT_EQ((*timers)[0].note, "guard was false");
  EXPECT_EQ((*timers)[1].status, "pending");
  EXPECT_EQ(store().get_case("c1")->version, 1);
}

TEST_F(FinishTimerTest, RefusesAnotherOwnerAndWritesNothing) {
  auto finished = store().finish_timer(fired("engine-b"));
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, Errc::conflict);
  EXPECT_EQ(finished.error().message, "timer " + std::to_string(timer_.id) +
                                          " is no longer pending or was claimed by another engine");
  expect_nothing_written();
}

TEST_F(FinishTimerTest, RefusesTheFormerOwnerOnceTheLeaseWasTakenOver) {
  auto taken = store().claim_timers(kT0 + 10 + kMinute, kMinute, 10, "engine-b");
  ASSERT_TRUE(taken);
  ASSERT_EQ(taken->size(), 1U);

  auto finished = store().finish_timer(fired("engine-a"));
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, Errc::conflict);
  expect_nothing_written();
  EXPECT_TRUE(store().finish_timer(fired("engine-b")));
}

TEST_F(FinishTimerTest, RefusesASecondFinishAndWritesNothingMore) {
  ASSERT_TRUE(store().finish_timer(fired("engine-a")));
  TimerFinish again = fired("engine-a");
  again.change = change_of(*store().get_case("c1"), "closed", kT0 + 20);
  auto finished = store().finish_timer(again);
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, Errc::conflict);

  EXPECT_EQ(store().get_case("c1")->version, 2);
  EXPECT_EQ(store().history("c1", 10, std::nullopt)->items.size(), 2U);
  EXPECT_EQ(store().timers("c1")->size(), 2U);  // the second finish's timer was not added
}

TEST_F(FinishTimerTest, RefusesATimerCancelledWhileClaimed) {
  const CaseChange change = change_of(c1_, "closed", kT0 + 5);
  CaseEffects effects;
  effects.timer_cancels = {{"timer", std::nullopt}};
  ASSERT_TRUE(store().update_case(change.after, change.expected_version, change.entry, std::nullopt,
                                  effects));

  const TimerFinish finish = finish_of(timer_.id, "engine-a", "fired", kT0 + 10);
  auto finished = store().finish_timer(finish);
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, Errc::conflict);
  EXPECT_EQ(timer_states(store(), "c1"), (States{{"intake/after/0", "cancelled"}}));
}

TEST_F(FinishTimerTest, KeepsTheTimerPendingWhenTheCaseVersionMoved) {
  const CaseChange by_person = change_of(c1_, "review", kT0 + 5);
  ASSERT_TRUE(store().update_case(by_person.after, by_person.expected_version, by_person.entry,
                                  std::nullopt, {}));

  auto finished = store().finish_timer(fired("engine-a"));  // built on version 1
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, Errc::precondition_failed);
  EXPECT_EQ(timer_states(store(), "c1"), (States{{"intake/after/0", "pending"}}));
  EXPECT_EQ(store().get_case("c1")->state, "review");

  // The engine retries on the current version, within its lease.
  TimerFinish retry = fired("engine-a");
  retry.change = change_of(*store().get_case("c1"), "escalated", kT0 + 10);
  ASSERT_TRUE(store().finish_timer(retry));
  EXPECT_EQ(timer_states(store(), "c1"),
            (States{{"intake/after/0", "fired"}, {"escalated/after/0", "pending"}}));
}

TEST_F(FinishTimerTest, RefusesAChangeToAnotherCaseOrAnUnknownStatus) {
  create(store(), make_case("c2"));
  TimerFinish finish = fired("engine-a");
  finish.change = change_of(make_case("c2"), "escalated", kT0 + 10);
  auto finished = store().finish_timer(finish);
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, Errc::invalid_argument);
  EXPECT_EQ(store().get_case("c2")->version, 1);
  expect_nothing_written();

  finished = store().finish_timer(finish_of(timer_.id, "engine-a", "cancelled", kT0 + 10));
  ASSERT_FALSE(finished);
  EXPECT_EQ(finished.error().code, Errc::invalid_argument);
  expect_nothing_written();
}

// --- the supervisor's lists ------------------------------------------------------------------

std::vector<std::string> clock_cases(const ClockPage& page) {
  std::vector<std::string> ids;
  for (const auto& clock : page.items) {
    ids.push_back(clock.case_id + "/" + clock.name);
  }
  return ids;
}

// Clocks of several cases and workflows, due and warned at known instants (days after kT0):
//   a/decision   due 10, warn 8,  running
//   b/decision   due 12, warn 9,  running
//   c/decision   due 11, warn 9,  running, other workflow
//   d/decision   due 5,           stopped at 4 (met)
//   e/decision   due 6,           stopped at 7 and breached at 6 (met late)
//   f/decision   paused (no due time), breached at 3
//   g/decision   due 10, warn 8,  running, breached already marked at 10
class ListClocksTest : public SqliteTimeTest {
 protected:
  void SetUp() override {
    SqliteTimeTest::SetUp();
    auto at = [](int days) { return std::optional<Timestamp>(kT0 + days * kDay); };
    ClockRecord d = make_clock("d", "decision", at(5), std::nullopt);
    d.stopped_at = at(4);
    ClockRecord e = make_clock("e", "decision", at(6), std::nullopt);
    e.stopped_at = at(7);
    e.breached_at = at(6);
    ClockRecord f = make_clock("f", "decision", std::nullopt, std::nullopt);
    f.paused_since = at(2);
    f.pause_kind = "paused";
    f.breached_at = at(3);
    ClockRecord g = make_clock("g", "decision", at(10), at(8));
    g.breached_at = at(10);
    const std::vector<ClockRecord> clocks = {make_clock("a", "decision", at(10), at(8)),
                                             make_clock("b", "decision", at(12), at(9)),
                                             make_clock("c", "decision", at(11), at(9), "adoption"),
                                             d,
                                             e,
                                             f,
                                             g};
    for (const auto& clock : clocks) {
      ASSERT_NO_FATAL_FAILURE(create(store(), make_case(clock.case_id), with_clocks({clock})));
    }
  }

  std::vector<std::string> list(const std::string& state, int days,
                                std::optional<std::string> workflow = std::nullopt) {
    ClockQuery query;
    query.state = state;
    query.now = kT0 + days * kDay;
    query.workflow = std::move(workflow);
    auto page = store().list_clocks(query);
    EXPECT_TRUE(page) << page.error().message;
    return page ? clock_cases(*page) : std::vector<std::string>{};
  }
};

TEST_F(ListClocksTest, ListsBreachedClocksAtAGivenInstantByDueTimeWithPausedOnesLast) {
  // Marked breached: listed whatever `now` is.
  EXPECT_EQ(list("breached", 1), (Names{"e/decision", "g/decision", "f/decision"}));
  EXPECT_EQ(list("breached", 10), (Names{"e/decision", "a/decision", "g/decision", "f/decision"}));
  EXPECT_EQ(list("breached", 12), (Names{"e/decision", "a/decision", "g/decision", "c/decision",
                                         "b/decision", "f/decision"}));
  EXPECT_EQ(list("breached", 12, "adoption"), (Names{"c/decision"}));
}

TEST_F(ListClocksTest, ListsWarningClocksBetweenWarnTimeAndDeadline) {
  EXPECT_EQ(list("warning", 7), Names{});
  EXPECT_EQ(list("warning", 8), (Names{"a/decision"}));  // g is already marked breached
  EXPECT_EQ(list("warning", 9), (Names{"a/decision", "c/decision", "b/decision"}));
  EXPECT_EQ(list("warning", 10), (Names{"c/decision", "b/decision"}));  // a is due at 10
  EXPECT_EQ(list("warning", 9, "aftercare"), (Names{"a/decision", "b/decision"}));
  EXPECT_EQ(list("warning", 12), Names{});
}

TEST_F(ListClocksTest, PagesThroughClocksWithACursorIncludingThoseWithoutDueTime) {
  for (std::size_t limit : {1U, 2U, 3U, 5U, 6U}) {
    ClockQuery query;
    query.state = "breached";
    query.now = kT0 + 12 * kDay;
    query.limit = limit;
    std::vector<std::string> seen;
    int pages = 0;
    for (;;) {
      auto page = store().list_clocks(query);
      ASSERT_TRUE(page) << page.error().message;
      ASSERT_LE(++pages, 6) << "the cursor does not advance";
      ASSERT_LE(page->items.size(), limit);
      for (const auto& id : clock_cases(*page)) {
        seen.push_back(id);
      }
      if (!page->next_cursor) {
        break;
      }
      EXPECT_EQ(page->items.size(), limit);
      query.cursor = page->next_cursor;
    }
    EXPECT_EQ(seen, (Names{"e/decision", "a/decision", "g/decision", "c/decision", "b/decision",
                           "f/decision"}))
        << "limit " << limit;
    EXPECT_EQ(pages, static_cast<int>((6 + limit - 1) / limit)) << "limit " << limit;
  }
}

TEST_F(ListClocksTest, RefusesAnUnknownStateAndMalformedCursors) {
  ClockQuery query;
  query.now = kT0;
  for (const std::string state : {"", "running", "Breached"}) {
    query.state = state;
    auto page = store().list_clocks(query);
    ASSERT_FALSE(page) << "accepted state '" << state << "'";
    EXPECT_EQ(page.error().code, Errc::invalid_argument);
  }

  query.state = "breached";
  query.now = kT0 + 12 * kDay;
  query.limit = 1;
  auto page = store().list_clocks(query);
  ASSERT_TRUE(page);
  ASSERT_TRUE(page->next_cursor);
  const std::string good = *page->next_cursor;
  ASSERT_EQ(good.size(), 33U);
  for (const std::string& bad :
       {std::string("garbage"), "c" + good.substr(1), good.substr(0, 32), good + "0",
        std::string(good).replace(20, 1, "G"), std::string(good).replace(1, 1, "A"),
        std::string("kffffffffffffffff")}) {
    query.cursor = bad;
    auto listed = store().list_clocks(query);
    ASSERT_FALSE(listed) << "accepted cursor '" << bad << "'";
    EXPECT_EQ(listed.error().code, Errc::invalid_argument);
  }
  // Nor is a clock cursor a case cursor.
  CaseQuery cases;
  cases.cursor = good.substr(0, 17);
  EXPECT_FALSE(store().list_cases(cases));
}

// a: overdue at day 10; b: overdue at 12 (other state); c: other workflow, overdue at 11;
// d: its clock stopped before its deadline; e: no clock; f: paused.
TEST_F(SqliteTimeTest, ListsCasesWithARunningClockPastItsDeadline) {
  auto at = [](int days) { return std::optional<Timestamp>(kT0 + days * kDay); };
  ClockRecord stopped = make_clock("d", "decision", at(5), std::nullopt);
  stopped.stopped_at = at(4);
  ClockRecord paused = make_clock("f", "decision", std::nullopt, std::nullopt);
  paused.paused_since = at(2);
  create(store(), make_case("a"),
         with_clocks({make_clock("a", "decision", at(10), std::nullopt),
                      make_clock("a", "appeal", at(11), std::nullopt)}));
  create(store(), make_case("b", "aftercare", "review"),
         with_clocks({make_clock("b", "decision", at(12), std::nullopt)}));
  create(store(), make_case("c", "adoption"),
         with_clocks({make_clock("c", "decision", at(11), std::nullopt, "adoption")}));
  create(store(), make_case("d"), with_clocks({stopped}));
  create(store(), make_case("e"));
  create(store(), make_case("f"), with_clocks({paused}));

  auto ids = [&](int days, std::optional<std::string> workflow = std::nullopt,
                 std::optional<std::string> state = std::nullopt) {
    CaseQuery query;
    query.overdue_at = kT0 + days * kDay;
    query.workflow = std::move(workflow);
    query.state = std::move(state);
    std::vector<std::string> result;
    auto page = store().list_cases(query);
    EXPECT_TRUE(page) << page.error().message;
    if (page) {
      for (const auto& item : page->items) {
        result.push_back(item.id);
      }
    }
    return result;
  };
  EXPECT_EQ(ids(9), Names{});
  EXPECT_EQ(ids(10), (Names{"a"}));
  EXPECT_EQ(ids(11), (Names{"a", "c"}));  // a once, although both its clocks are overdue
  EXPECT_EQ(ids(100), (Names{"a", "b", "c"}));
  EXPECT_EQ(ids(100, "aftercare"), (Names{"a", "b"}));
  EXPECT_EQ(ids(100, std::nullopt, "intake"), (Names{"a", "c"}));
  EXPECT_EQ(ids(100, "aftercare", "review"), (Names{"b"}));
  EXPECT_EQ(ids(100, "adoption", "review"), Names{});

  CaseQuery query;
  query.overdue_at = kT0 + 100 * kDay;
  query.limit = 2;
  auto first = store().list_cases(query);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->items.size(), 2U);
  ASSERT_TRUE(first->next_cursor);
  query.cursor = first->next_cursor;
  auto second = store().list_cases(query);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->items.size(), 1U);
  EXPECT_EQ(second->items[0].id, "c");
  EXPECT_FALSE(second->next_cursor);
}

// --- notifications ---------------------------------------------------------------------------

NotificationRecord make_notification(const std::string& id, const std::string& case_id,
                                     const std::string& role, Timestamp created_at,
                                     const std::string& kind = "clock_breach") {
  NotificationRecord notification;
  notification.id = id;
  notification.case_id = case_id;
  notification.workflow = "aftercare";
  notification.role = role;
  notification.kind = kind;
  notification.subject = "decision";
  notification.due_at = created_at - kMinute;
  notification.created_at = created_at;
  return notification;
}

CaseEffects with_notifications(std::vector<NotificationRecord> notifications) {
  CaseEffects effects;
  effects.notifications = std::move(notifications);
  return effects;
}

Names notification_ids(const NotificationPage& page) {
  Names ids;
  for (const auto& notification : page.items) {
    ids.push_back(notification.id);
  }
  return ids;
}

// Notifications of three cases, for the supervisor (s), the legal officer (l) and the
// caseworker (w), created minutes after kT0 as the number says; s3a and s3b at the same instant.
class NotificationsTest : public SqliteTimeTest {
 protected:
  void SetUp() override {
    SqliteTimeTest::SetUp();
    auto at = [](int minutes) { return kT0 + minutes * kMinute; };
    ASSERT_NO_FATAL_FAILURE(create(
        store(), make_case("a"),
        with_notifications({make_notification("s1", "a", "supervisor", at(1), "clock_warning"),
                            make_notification("l1", "a", "legal_officer", at(1))})));
    ASSERT_NO_FATAL_FAILURE(
        create(store(), make_case("b"),
               with_notifications({make_notification("s3a", "b", "supervisor", at(3)),
                                   make_notification("s3b", "b", "supervisor", at(3)),
                                   make_notification("w2", "b", "caseworker", at(2))})));
    // Through a timer's finish, as the engine writes them.
    ASSERT_NO_FATAL_FAILURE(create(store(), make_case("c"),
                                   with_timers({make_timer("c", "decision", at(4), "clock")})));
    auto claimed = store().claim_timers(at(5), kMinute, 10, "engine-a");
    ASSERT_TRUE(claimed) << claimed.error().message;
    ASSERT_EQ(claimed->size(), 1U);
    TimerFinish finish = finish_of((*claimed)[0].id, "engine-a", "fired", at(5));
    finish.effects.notifications = {make_notification("s5", "c", "supervisor", at(5)),
                                    make_notification("l5", "c", "legal_officer", at(5))};
    auto finished = store().finish_timer(finish);
    ASSERT_TRUE(finished) << finished.error().message;
  }

  Result<NotificationPage> page(Names roles, bool unacknowledged_only = false,
                                std::size_t limit = 50,
                                std::optional<std::string> cursor = std::nullopt) {
    NotificationQuery query;
    query.roles = std::move(roles);
    query.unacknowledged_only = unacknowledged_only;
    query.limit = limit;
    query.cursor = std::move(cursor);
    return store().list_notifications(query);
  }

  Names list(Names roles, bool unacknowledged_only = false) {
    auto listed = page(std::move(roles), unacknowledged_only);
    EXPECT_TRUE(listed) << listed.error().message;
    return listed ? notification_ids(*listed) : Names{};
  }
};

TEST_F(NotificationsTest, EffectsAndTimerFinishesRecordThemAsWrittenAndUnacknowledged) {
  auto listed = page({"supervisor"});
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->items.size(), 4U);
  const NotificationRecord& got = listed->items.back();
  EXPECT_EQ(got.id, "s1");
  EXPECT_EQ(got.case_id, "a");
  EXPECT_EQ(got.workflow, "aftercare");
  EXPECT_EQ(got.role, "supervisor");
  EXPECT_EQ(got.kind, "clock_warning");
  EXPECT_EQ(got.subject, "decision");
  EXPECT_EQ(got.due_at, kT0);
  EXPECT_EQ(got.created_at, kT0 + kMinute);
  EXPECT_FALSE(got.acknowledged_at);
  EXPECT_FALSE(got.acknowledged_by);
  EXPECT_EQ(listed->items.front().id, "s5");  // written by finish_timer
  EXPECT_EQ(listed->items.front().case_id, "c");
  EXPECT_FALSE(listed->next_cursor);
}

TEST_F(NotificationsTest, ListsOnlyTheCallersRolesNewestFirst) {
  // At the same instant, the one written later comes first.
  EXPECT_EQ(list({"supervisor"}), (Names{"s5", "s3b", "s3a", "s1"}));
  EXPECT_EQ(list({"legal_officer"}), (Names{"l5", "l1"}));
  EXPECT_EQ(list({"supervisor", "legal_officer"}), (Names{"l5", "s5", "s3b", "s3a", "l1", "s1"}));
  EXPECT_EQ(list({"caseworker", "caseworker"}), (Names{"w2"}));
  EXPECT_EQ(list({"counsellor"}), Names{});
  EXPECT_EQ(list({}), Names{});
}

TEST_F(NotificationsTest, PagesThroughSeveralRolesWithACursor) {
  const Names all = {"l5", "s5", "s3b", "s3a", "w2", "l1", "s1"};
  for (std::size_t limit : {1U, 2U, 3U, 6U, 7U}) {
    std::optional<std::string> cursor;
    Names seen;
    int pages = 0;
    for (;;) {
      auto listed = page({"supervisor", "legal_officer", "caseworker"}, false, limit, cursor);
      ASSERT_TRUE(listed) << listed.error().message;
      ASSERT_LE(++pages, 7) << "the cursor does not advance";
      ASSERT_LE(listed->items.size(), limit);
      for (const auto& id : notification_ids(*listed)) {
        seen.push_back(id);
      }
      if (!listed->next_cursor) {
        break;
      }
      EXPECT_EQ(listed->items.size(), limit);
      cursor = listed->next_cursor;
    }
    EXPECT_EQ(seen, all) << "limit " << limit;
    EXPECT_EQ(pages, static_cast<int>((all.size() + limit - 1) / limit)) << "limit " << limit;
  }
}

TEST_F(NotificationsTest, AcknowledgingKeepsTheFirstTimeAndUserAndFiltersTheUnacknowledged) {
  EXPECT_EQ(list({"supervisor"}, true), (Names{"s5", "s3b", "s3a", "s1"}));
  auto first =
      store().acknowledge_notification("s3a", {"caseworker", "supervisor"}, "ravi", kT0 + kDay);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->id, "s3a");
  EXPECT_EQ(first->case_id, "b");
  EXPECT_EQ(first->acknowledged_at, kT0 + kDay);
  EXPECT_EQ(first->acknowledged_by, "ravi");

  auto again = store().acknowledge_notification("s3a", {"supervisor"}, "meera", kT0 + 2 * kDay);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->acknowledged_at, kT0 + kDay);
  EXPECT_EQ(again->acknowledged_by, "ravi");

  EXPECT_EQ(list({"supervisor"}, true), (Names{"s5", "s3b", "s1"}));
  EXPECT_EQ(list({"supervisor"}), (Names{"s5", "s3b", "s3a", "s1"}));
  auto listed = page({"supervisor"});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->items[2].acknowledged_at, kT0 + kDay);
  EXPECT_EQ(listed->items[2].acknowledged_by, "ravi");

  // The unacknowledged pages too.
  auto one = page({"supervisor"}, true, 1);
  ASSERT_TRUE(one);
  ASSERT_TRUE(one->next_cursor);
  auto rest = page({"supervisor"}, true, 5, one->next_cursor);
  ASSERT_TRUE(rest);
  EXPECT_EQ(notification_ids(*rest), (Names{"s3b", "s1"}));
}

TEST_F(NotificationsTest, AcknowledgingAnotherRolesOrAnUnknownNotificationIsNotFound) {
  for (const auto& [id, roles] : std::vector<std::pair<std::string, Names>>{
           {"l1", {"supervisor", "caseworker"}}, {"s1", {}}, {"nope", {"supervisor"}}}) {
    auto acknowledged = store().acknowledge_notification(id, roles, "ravi", kT0 + kDay);
    ASSERT_FALSE(acknowledged) << id;
    EXPECT_EQ(acknowledged.error().code, Errc::not_found) << id;
  }
  EXPECT_EQ(list({"legal_officer"}, true), (Names{"l5", "l1"}));
  EXPECT_EQ(list({"supervisor"}, true), (Names{"s5", "s3b", "s3a", "s1"}));
}

TEST_F(NotificationsTest, RefusesMalformedCursors) {
  auto one = page({"supervisor"}, false, 1);
  ASSERT_TRUE(one);
  ASSERT_TRUE(one->next_cursor);
  const std::string good = *one->next_cursor;
  ASSERT_EQ(good.size(), 33U);
  for (const std::string& bad :
       {std::string("garbage"), "k" + good.substr(1), good.substr(0, 32), good + "0",
        std::string(good).replace(20, 1, "G"), std::string(good).replace(1, 1, "A"),
        std::string("nffffffffffffffff0000000000000000")}) {
    auto listed = page({"supervisor"}, false, 1, bad);
    ASSERT_FALSE(listed) << "accepted cursor '" << bad << "'";
    EXPECT_EQ(listed.error().code, Errc::invalid_argument);
  }
  // Nor is it a clock cursor.
  ClockQuery clocks;
  clocks.state = "breached";
  clocks.cursor = good;
  EXPECT_FALSE(store().list_clocks(clocks));
}

// --- query plans -----------------------------------------------------------------------------

// The EXPLAIN QUERY PLAN lines SQLite gives for `sql` on the store's file.
std::string plan_of(const std::string& path, std::string_view sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* statement = nullptr;
  const std::string text = "EXPLAIN QUERY PLAN " + std::string(sql);
  std::string plan;
  if (sqlite3_prepare_v2(db, text.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    plan = std::string("error: ") + sqlite3_errmsg(db);
  }
  while (statement != nullptr && sqlite3_step(statement) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
    plan += "\n";
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return plan;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// No ANALYZE statistics, as in a fresh deployment: these are the plans every database gets.
TEST_F(SqliteTimeTest, SchedulerAndListsReadOnlyThroughTheirIndexes) {
  const std::string claim = plan_of(path(), kClaimTimersSql);
  EXPECT_TRUE(contains(claim, "SEARCH timers USING INDEX timers_due (due_at<?)")) << claim;
  EXPECT_FALSE(contains(claim, "TEMP B-TREE")) << claim;  // the index gives the order

  const std::string next = plan_of(path(), kNextTimerSql);
  EXPECT_TRUE(contains(next, "SEARCH timers USING INDEX timers_due")) << next;

  for (auto sql : {kCancelTimersSql, kCancelNamedTimersSql}) {
    const std::string cancel = plan_of(path(), sql);
    EXPECT_TRUE(contains(cancel, "USING INDEX timers_pending_by_case (case_id=? AND kind=?"))
        << cancel;
  }

  const std::string breached = plan_of(path(), kBreachedClocksSql);
  EXPECT_TRUE(contains(breached, "SEARCH clocks USING INDEX clocks_breached")) << breached;
  EXPECT_TRUE(contains(breached,
                       "SEARCH clocks USING INDEX clocks_running_due (due_at>? AND "
                       "due_at<?)"))
      << breached;
  EXPECT_FALSE(contains(breached, "SCAN clocks")) << breached;

  const std::string warning = plan_of(path(), kWarningClocksSql);
  EXPECT_TRUE(contains(warning,
                       "SEARCH clocks USING INDEX clocks_warning (warn_at>? AND "
                       "warn_at<?)"))
      << warning;
  EXPECT_FALSE(contains(warning, "SCAN clocks")) << warning;

  for (int filters = 0; filters < 4; ++filters) {
    const std::string overdue =
        plan_of(path(), case_list_sql((filters & 1) != 0, (filters & 2) != 0, true));
    EXPECT_TRUE(contains(overdue, "SEARCH clocks USING INDEX clocks_running_due")) << overdue;
    EXPECT_TRUE(contains(overdue, "SEARCH cases USING INDEX sqlite_autoindex_cases_1 (id=?"))
        << overdue;
    EXPECT_FALSE(contains(overdue, "SCAN")) << overdue;
  }
  // An inbox page reads one role's index range backwards: no scan, no sort.
  const std::string inbox = plan_of(path(), kRoleNotificationsSql);
  EXPECT_TRUE(contains(inbox, "SEARCH notifications USING INDEX notifications_by_role (role=?"))
      << inbox;
  EXPECT_FALSE(contains(inbox, "TEMP B-TREE")) << inbox;
  EXPECT_FALSE(contains(inbox, "SCAN")) << inbox;
  const std::string unacknowledged = plan_of(path(), kRoleUnacknowledgedNotificationsSql);
  EXPECT_TRUE(contains(unacknowledged,
                       "SEARCH notifications USING INDEX notifications_unacknowledged (role=?"))
      << unacknowledged;
  EXPECT_FALSE(contains(unacknowledged, "TEMP B-TREE")) << unacknowledged;
  EXPECT_FALSE(contains(unacknowledged, "SCAN")) << unacknowledged;

  // Without overdue_at the filters keep their own indexes.
  const std::string by_workflow = plan_of(path(), case_list_sql(true, false, false));
  EXPECT_TRUE(contains(by_workflow, "USING INDEX cases_by_workflow (workflow=? AND rowid>?)"))
      << by_workflow;
  // A migration's batches read one version's index range in rowid order.
  const std::string by_version = plan_of(path(), case_list_sql(true, false, false, true));
  EXPECT_TRUE(contains(by_version,
                       "USING INDEX cases_by_workflow_version (workflow=? AND workflow_version=? "
                       "AND rowid>?)"))
      << by_version;
  EXPECT_FALSE(contains(by_version, "TEMP B-TREE")) << by_version;
  // A caller's scope (own cases, homes) is read through the assignee and placement indexes.
  const std::string scoped =
      plan_of(path(), case_list_sql(false, false, false, false, false, true));
  EXPECT_TRUE(contains(scoped, "cases_by_assignee")) << scoped;
  EXPECT_TRUE(contains(scoped, "cases_by_placement")) << scoped;
  EXPECT_FALSE(contains(scoped, "SCAN cases")) << scoped;
}

}  // namespace
}  // namespace carepath::store
