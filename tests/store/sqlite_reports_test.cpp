// The report queries on a constructed set of case histories whose figures are worked out by hand
// below, their plans (no report reads every case or every history entry), and the upgrade of a
// version 9 database to version 10.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite_internal.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::store {
namespace {

constexpr Timestamp kT0 = 1'790'000'000'000;
constexpr std::int64_t kHour = 3'600'000;

Timestamp hours(std::int64_t h) {
  return kT0 + h * kHour;
}

struct Step {
  std::int64_t hour;
  std::string event;  // "opened" for the first
  std::string to;
};

// Invented test data only: no field values at all.
class SqliteReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::open(path());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    build();
  }

  std::string path() const { return (dir_ / "carepath.db").string(); }
  SqliteStore& store() { return *store_; }

  // A case that took `steps`; closed when `closes` and it ends in the last step's state.
  void add_case(const std::string& id, const std::string& workflow,
                const std::optional<std::string>& home, const std::string& assignee,
                const std::vector<Step>& steps, bool closes = false) {
    CaseRecord record;
    record.id = id;
    record.code = "CP-" + id;
    record.workflow = workflow;
    record.workflow_version = 1;
    record.state = steps.front().to;
    record.version = 1;
    record.created_at = hours(steps.front().hour);
    record.updated_at = record.created_at;
    record.assignee = assignee;
    record.placement = home;
    HistoryEntry opened;
    opened.at = record.created_at;
    opened.actor = "caseworker.one";
    opened.event = "opened";
    opened.to = record.state;
    auto created = store().create_case(record, opened, {});
    ASSERT_TRUE(created) << created.error().message;
    for (std::size_t i = 1; i < steps.size(); ++i) {
      CaseRecord after = record;
      after.state = steps[i].to;
      after.version = record.version + 1;
      after.updated_at = hours(steps[i].hour);
      if (closes && i + 1 == steps.size()) {
        after.closed_at = after.updated_at;
      }
      HistoryEntry entry;
      entry.at = after.updated_at;
      entry.actor = "caseworker.two";
      entry.event = steps[i].event;
      entry.from = record.state;
      entry.to = after.state;
      auto updated = store().update_case(after, record.version, entry, std::nullopt, {});
      ASSERT_TRUE(updated) << updated.error().message;
      record = after;
    }
  }

  // The histories (hours after kT0):
  //   c1 aftercare umang/alice: opened 0 intake, admitted 10 in_care, ready 40 reintegration,
  //      restored 100 follow_up, case_closed 200 closed (closed).
  //   c2 aftercare umang/bob: opened 0 intake, admitted 20 in_care, went_missing 60 missing.
  //   c3 aftercare udaan/alice: opened 5 intake, admitted 35 in_care, hearing 50 in_care (stays),
  //      ready 80 reintegration.
  //   c4 aftercare udaan/alice: opened 300 intake.
  //   c5 education_support: opened 0 enrolled, dropped 150 dropped_out (closed).
  //   c6 aftercare umang/carol: opened 0 intake, admitted 1 in_care, ready 2 reintegration,
  //      restored 3 follow_up; erased later (counted, never listed).
  void build() {
    add_case("c1", "aftercare", "umang", "alice",
             {{0, "opened", "intake"},
              {10, "admitted", "in_care"},
              {40, "ready", "reintegration"},
              {100, "restored", "follow_up"},
              {200, "case_closed", "closed"}},
             true);
    add_case(
        "c2", "aftercare", "umang", "bob",
        {{0, "opened", "intake"}, {20, "admitted", "in_care"}, {60, "went_missing", "missing"}});
    add_case("c3", "aftercare", "udaan", "alice",
             {{5, "opened", "intake"},
              {35, "admitted", "in_care"},
              {50, "hearing", "in_care"},
              {80, "ready", "reintegration"}});
    add_case("c4", "aftercare", "udaan", "alice", {{300, "opened", "intake"}});
    add_case("c5", "education_support", std::nullopt, "dana",
             {{0, "opened", "enrolled"}, {150, "dropped", "dropped_out"}}, true);
    add_case("c6", "aftercare", "umang", "carol",
             {{0, "opened", "intake"},
              {1, "admitted", "in_care"},
              {2, "ready", "reintegration"},
              {3, "restored", "follow_up"}});
    auto c6 = store().get_case("c6");
    ASSERT_TRUE(c6);
    CaseRecord erased = *c6;
    erased.version += 1;
    erased.erased_at = hours(4);
    HistoryEntry entry;
    entry.at = hours(4);
    entry.actor = "admin.one";
    entry.event = "erased";
    entry.from = erased.state;
    entry.to = erased.state;
    ASSERT_TRUE(store().erase_case(CaseChange{erased, c6->version, entry}, {}));
  }

  test::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

const StateStays* stays_of(const std::vector<StateStays>& all, const std::string& state) {
  for (const auto& s : all) {
    if (s.state == state) {
      return &s;
    }
  }
  return nullptr;
}

TEST_F(SqliteReportsTest, CaseloadCountsOpenCasesByStateHomeAndAssignee) {
  auto rows = store().report_caseload(std::nullopt);
  ASSERT_TRUE(rows) << rows.error().message;
  // c1 and c5 are closed; c6 is erased but open: it still counts. Ordered by workflow, state,
  // home, assignee.
  ASSERT_EQ(rows->size(), 4U);
  const auto& r = *rows;
  EXPECT_EQ(r[0].workflow, "aftercare");
  EXPECT_EQ(r[0].state, "follow_up");
  EXPECT_EQ(r[0].placement, "umang");
  EXPECT_EQ(r[0].assignee, "carol");
  EXPECT_EQ(r[1].state, "intake");
  EXPECT_EQ(r[1].placement, "udaan");
  EXPECT_EQ(r[2].state, "missing");
  EXPECT_EQ(r[2].assignee, "bob");
  EXPECT_EQ(r[3].state, "reintegration");
  EXPECT_EQ(r[3].placement, "udaan");
  EXPECT_EQ(r[3].assignee, "alice");
  for (const auto& row : r) {
    EXPECT_EQ(row.count, 1);
  }
  auto none = store().report_caseload(std::string("education_support"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());  // c5 is closed
}

TEST_F(SqliteReportsTest, EventCountsGroupTheEntriesOfTheNamedEventsInThePeriod) {
  auto rows = store().report_event_counts(hours(0), hours(250), std::string("aftercare"),
                                          {"opened", "restored", "hearing", "restored"});
  ASSERT_TRUE(rows) << rows.error().message;
  std::int64_t opened = 0;
  std::int64_t restored = 0;
  std::int64_t restored_cases = 0;
  std::int64_t total = 0;
  for (const auto& r : *rows) {
    EXPECT_EQ(r.workflow, "aftercare");
    EXPECT_EQ(r.workflow_version, 1);
    total += r.count;
    if (r.event == "opened") {
      opened += r.count;
      EXPECT_FALSE(r.from_state.has_value());
    }
    if (r.event == "restored") {
      restored += r.count;
      restored_cases += r.cases;
      EXPECT_EQ(r.from_state, "reintegration");
      EXPECT_EQ(r.placement, "umang");
    }
  }
  EXPECT_EQ(opened, 4);    // c1, c2, c3, c6 (c4 opens at 300)
  EXPECT_EQ(restored, 2);  // c1 at 100, c6 at 3 (named twice, counted once)
  EXPECT_EQ(restored_cases, 2);
  EXPECT_EQ(total, 4 + 2 + 1);  // and c3's hearing

  // The period is half-open: an entry at `to` is not in it, one at `from` is.
  auto edge = store().report_event_counts(hours(100), hours(200), std::string("aftercare"),
                                          {"restored", "case_closed"});
  ASSERT_TRUE(edge);
  ASSERT_EQ(edge->size(), 1U);
  EXPECT_EQ(edge->front().event, "restored");

  // Other workflows' entries are left out; no events, no rows.
  auto education = store().report_event_counts(hours(0), hours(250),
                                               std::string("education_support"), {"restored"});
  ASSERT_TRUE(education);
  EXPECT_TRUE(education->empty());
  auto none = store().report_event_counts(hours(0), hours(250), std::nullopt, {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  auto backwards = store().report_event_counts(hours(2), hours(1), std::nullopt, {"opened"});
  ASSERT_FALSE(backwards);
  EXPECT_EQ(backwards.error().code, Errc::invalid_argument);
}

TEST_F(SqliteReportsTest, MovesCountEntriesThatOpenedACaseOrChangedItsState) {
  auto rows = store().report_moves(hours(0), hours(250), std::string("aftercare"));
  ASSERT_TRUE(rows) << rows.error().message;
  std::int64_t total = 0;
  std::int64_t opened = 0;
  std::int64_t ready = 0;
  for (const auto& r : *rows) {
    EXPECT_EQ(r.workflow, "aftercare");
    EXPECT_NE(r.from_state, std::optional<std::string>(r.to_state));
    total += r.count;
    if (!r.from_state) {
      EXPECT_EQ(r.to_state, "intake");
      opened += r.count;
    }
    if (r.from_state == "in_care" && r.to_state == "reintegration") {
      ready = r.count;
    }
  }
  EXPECT_EQ(opened, 4);
  EXPECT_EQ(ready, 3);  // c1, c3, c6
  // Every entry but c3's hearing and c6's erasure, which kept them where they were.
  EXPECT_EQ(total, 5 + 3 + 3 + 4);

  auto edge = store().report_moves(hours(100), hours(200), std::nullopt);
  ASSERT_TRUE(edge);
  ASSERT_EQ(edge->size(), 2U);  // c1 restored at 100, c5 dropped at 150
  auto backwards = store().report_moves(hours(2), hours(1), std::nullopt);
  ASSERT_FALSE(backwards);
  EXPECT_EQ(backwards.error().code, Errc::invalid_argument);
}

TEST_F(SqliteReportsTest, StaysRunFromTheEntryThatChangedTheStateToTheOneThatLeftIt) {
  auto all = store().report_stays(hours(0), hours(250), std::string("aftercare"));
  ASSERT_TRUE(all) << all.error().message;
  const StateStays* intake = stays_of(*all, "intake");
  ASSERT_NE(intake, nullptr);
  // c6 1h, c1 10h, c2 20h, c3 30h: ascending.
  EXPECT_EQ(intake->durations_ms,
            (std::vector<std::int64_t>{1 * kHour, 10 * kHour, 20 * kHour, 30 * kHour}));
  const StateStays* in_care = stays_of(*all, "in_care");
  ASSERT_NE(in_care, nullptr);
  // c6 1h, c1 30h, c2 40h, c3 45h: c3's hearing at 50 kept her in care and ends nothing.
  EXPECT_EQ(in_care->durations_ms,
            (std::vector<std::int64_t>{1 * kHour, 30 * kHour, 40 * kHour, 45 * kHour}));
  const StateStays* follow_up = stays_of(*all, "follow_up");
  ASSERT_NE(follow_up, nullptr);
  EXPECT_EQ(follow_up->durations_ms, (std::vector<std::int64_t>{100 * kHour}));

  // Only stays that ended in the period: [0, 36h) ends the intake stays and c6's in_care.
  auto early = store().report_stays(hours(0), hours(36), std::nullopt);
  ASSERT_TRUE(early);
  ASSERT_EQ(early->size(), 3U);  // intake, in_care, reintegration (c6)
  EXPECT_EQ(stays_of(*early, "in_care")->durations_ms, (std::vector<std::int64_t>{kHour}));

  auto education = store().report_stays(hours(0), hours(250), std::string("education_support"));
  ASSERT_TRUE(education);
  ASSERT_EQ(education->size(), 1U);
  EXPECT_EQ(education->front().state, "enrolled");
  EXPECT_EQ(education->front().durations_ms, (std::vector<std::int64_t>{150 * kHour}));
}

TEST_F(SqliteReportsTest, ClosedCasesByFinalState) {
  auto all = store().report_closed(std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2U);
  EXPECT_EQ((*all)[0].workflow, "aftercare");
  EXPECT_EQ((*all)[0].state, "closed");
  EXPECT_EQ((*all)[0].count, 1);
  EXPECT_EQ((*all)[1].workflow, "education_support");
  EXPECT_EQ((*all)[1].state, "dropped_out");

  auto late = store().report_closed(hours(160), std::nullopt, std::nullopt);
  ASSERT_TRUE(late);
  ASSERT_EQ(late->size(), 1U);
  EXPECT_EQ(late->front().state, "closed");
  auto early = store().report_closed(hours(0), hours(160), std::nullopt);
  ASSERT_TRUE(early);
  ASSERT_EQ(early->size(), 1U);
  EXPECT_EQ(early->front().state, "dropped_out");
  auto one = store().report_closed(std::nullopt, std::nullopt, std::string("education_support"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->size(), 1U);
}

TEST_F(SqliteReportsTest, LeftCareListsEachCaseOnceWithItsStateAtTheEnd) {
  LeftCareQuery query;
  query.workflow = "aftercare";
  query.events = {{"restored", std::string("reintegration")}};
  query.since = hours(150);
  query.until = hours(250);
  auto rows = store().report_left_care(query);
  ASSERT_TRUE(rows) << rows.error().message;
  // c1 only: c6 was erased (counted, never listed).
  ASSERT_EQ(rows->size(), 1U);
  const LeftCareRecord& c1 = rows->front();
  EXPECT_EQ(c1.code, "CP-c1");
  EXPECT_EQ(c1.placement, "umang");
  EXPECT_EQ(c1.left_at, hours(100));
  EXPECT_EQ(c1.left_from, "reintegration");
  EXPECT_EQ(c1.state_at, "closed");
  EXPECT_EQ(c1.state, "closed");
  EXPECT_EQ(c1.closed_at, hours(200));

  // At the end of a period that ended before she was closed, she was in follow_up.
  query.since = hours(100);
  query.until = hours(150);
  rows = store().report_left_care(query);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1U);
  EXPECT_EQ(rows->front().state_at, "follow_up");

  // Closed before the period began: no longer in aftercare.
  query.since = hours(210);
  query.until = hours(300);
  rows = store().report_left_care(query);
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());

  // Restored after the period: not yet.
  query.since = hours(0);
  query.until = hours(50);
  rows = store().report_left_care(query);
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());

  // Another state of origin than the one the event was taken from: none.
  query.since = hours(0);
  query.until = hours(250);
  query.events = {{"restored", std::string("in_care")}};
  rows = store().report_left_care(query);
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
}

// Many cases, so that the join in memory holds hundreds of ids: each case's last leaving before
// the end counts, cases closed before the start and cases that never left are not listed, the
// state at the end comes from the first change of state after it, and the list is in order of
// leaving, then code. The expected list is worked out case by case from the same plan.
TEST_F(SqliteReportsTest, LeftCareJoinsHundredsOfCasesByTheirLastLeaving) {
  constexpr int kCases = 400;
  struct Expected {
    std::string code;
    Timestamp left_at;
    std::string event;
    std::string state_at;
    std::string state;
  };
  std::vector<Expected> expected;
  for (int i = 0; i < kCases; ++i) {
    const std::string id = "m" + std::to_string(1000 + i);
    const std::int64_t t = i % 37;  // spreads the leavings, with ties between cases
    switch (i % 4) {
      case 0:  // restored, readmitted, restored again before the end: the second one counts
        add_case(id, "aftercare_many", "umang", "alice",
                 {{0, "opened", "intake"},
                  {5, "admitted", "in_care"},
                  {10, "ready", "reintegration"},
                  {20 + t, "restored", "follow_up"},
                  {110, "readmitted", "in_care"},
                  {120, "ready", "reintegration"},
                  {130 + t, "restored", "follow_up"}});
        expected.push_back({"CP-" + id, hours(130 + t), "restored", "follow_up", "follow_up"});
        break;
      case 1:  // aged out, then closed before the start: no longer in aftercare
        add_case(id, "aftercare_many", "udaan", "bob",
                 {{0, "opened", "intake"},
                  {5, "admitted", "in_care"},
                  {20 + t, "aged_out", "follow_up"},
                  {60, "case_closed", "closed"}},
                 true);
        break;
      case 2:  // never left care
        add_case(id, "aftercare_many", "udaan", "bob",
                 {{0, "opened", "intake"}, {5 + t, "admitted", "in_care"}});
        break;
      default:  // aged out before the start, closed after the end
        add_case(id, "aftercare_many", "umang", "carol",
                 {{0, "opened", "intake"},
                  {5, "admitted", "in_care"},
                  {90 + t, "aged_out", "follow_up"},
                  {210 + t, "case_closed", "closed"}},
                 true);
        expected.push_back({"CP-" + id, hours(90 + t), "aged_out", "follow_up", "closed"});
        break;
    }
  }
  std::sort(expected.begin(), expected.end(), [](const Expected& a, const Expected& b) {
    return a.left_at != b.left_at ? a.left_at < b.left_at : a.code < b.code;
  });

  LeftCareQuery query;
  query.workflow = "aftercare_many";
  query.events = {{"restored", std::string("reintegration")}, {"aged_out", std::nullopt}};
  query.since = hours(100);
  query.until = hours(200);
  auto rows = store().report_left_care(query);
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const LeftCareRecord& row = (*rows)[i];
    SCOPED_TRACE(expected[i].code);
    EXPECT_EQ(row.code, expected[i].code);
    EXPECT_EQ(row.workflow, "aftercare_many");
    EXPECT_EQ(row.left_at, expected[i].left_at);
    EXPECT_EQ(row.event, expected[i].event);
    EXPECT_EQ(row.left_from, expected[i].event == "restored" ? "reintegration" : "in_care");
    EXPECT_EQ(row.state_at, expected[i].state_at);
    EXPECT_EQ(row.state, expected[i].state);
  }
  // The other workflow's cases are not mixed in, and theirs not in it.
  query.workflow = "aftercare";
  rows = store().report_left_care(query);
  ASSERT_TRUE(rows);
  for (const auto& row : *rows) {
    EXPECT_EQ(row.code.rfind("CP-m", 0), std::string::npos) << row.code;
  }
}

// --- plans ---------------------------------------------------------------------------------

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

// No ANALYZE statistics, as in a fresh deployment. "SCAN cases" or "SCAN events" without an
// index would read every case or every history entry; a covering index scan of a partial index
// reads only the open (or closed) cases.
TEST_F(SqliteReportsTest, NoReportReadsEveryCaseOrEveryEntry) {
  const std::string caseload = plan_of(path(), kReportCaseloadSql);
  EXPECT_TRUE(contains(caseload, "USING COVERING INDEX cases_open")) << caseload;

  // The period reports read history entries alone, through an index that holds every column
  // they use: no case is read.
  const std::string counts = plan_of(path(), kReportEventCountsSql);
  EXPECT_TRUE(contains(counts,
                       "SEARCH events USING COVERING INDEX events_counted (event=? AND at>? AND "
                       "at<?)"))
      << counts;
  const std::string moves = plan_of(path(), kReportMovesSql);
  EXPECT_TRUE(contains(moves, "SEARCH events USING COVERING INDEX events_moves (at>? AND at<?)"))
      << moves;
  const std::string stays = plan_of(path(), kReportStaysSql);
  EXPECT_TRUE(contains(stays, "SEARCH events USING COVERING INDEX events_moves (at>? AND at<?)"))
      << stays;

  const std::string closed = plan_of(path(), kReportClosedSql);
  EXPECT_TRUE(contains(
      closed, "SEARCH cases USING COVERING INDEX cases_closed_when (closed_at>? AND closed_at<?)"))
      << closed;
  const std::string closed_all = plan_of(path(), kReportClosedAllSql);
  EXPECT_TRUE(contains(closed_all, "USING COVERING INDEX cases_closed_by_state")) << closed_all;

  // The aftercare list: three index-only reads.
  const std::string left = plan_of(path(), kReportLeftCareSql);
  EXPECT_TRUE(
      contains(left, "SEARCH events USING COVERING INDEX events_counted (event=? AND at<?)"))
      << left;
  const std::string listed = plan_of(path(), kReportListedCasesSql);
  EXPECT_TRUE(contains(
      listed, "SEARCH cases USING COVERING INDEX cases_listed (workflow=? AND closed_at=?)"))
      << listed;
  EXPECT_TRUE(contains(
      listed, "SEARCH cases USING COVERING INDEX cases_listed (workflow=? AND closed_at>?)"))
      << listed;
  const std::string since = plan_of(path(), kReportMovesSinceSql);
  EXPECT_TRUE(contains(since, "SEARCH events USING COVERING INDEX events_moves (at>?)")) << since;
  const std::string counted = plan_of(path(), kReportLeftCareCountSql);
  EXPECT_TRUE(
      contains(counted, "SEARCH events USING COVERING INDEX events_counted (event=? AND at<?)"))
      << counted;

  // The whole set, for whoever reads a failure.
  const std::vector<std::string> plans{caseload,   counts, moves,  stays, closed,
                                       closed_all, left,   listed, since, counted};
  std::string all;
  for (const auto& plan : plans) {
    all += plan;
  }
  RecordProperty("plans", all);
  for (const auto& plan : plans) {
    EXPECT_FALSE(contains(plan, "SCAN cases\n")) << plan;
    EXPECT_FALSE(contains(plan, "SCAN c\n")) << plan;
    EXPECT_FALSE(contains(plan, "SCAN e\n")) << plan;
    EXPECT_FALSE(contains(plan, "SCAN events\n")) << plan;
  }
}

// A database left by version 9 gets the report indexes (of versions 10 and 11), and its cases
// are reported.
TEST(SqliteReportsUpgrade, VersionNineDatabaseGetsTheReportIndexes) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  std::string schema;
  for (std::size_t i = 0; i < 9; ++i) {
    schema += std::string(kMigrations[i]);
  }
  schema +=
      "PRAGMA user_version = 9;"
      "INSERT INTO cases (id, code, workflow, workflow_version, state, data_json, version, "
      "created_at, updated_at, assignee, placement, closed_at) VALUES "
      "('c1', 'CP-c1', 'aftercare', 2, 'in_care', '{}', 2, 1000, 2000, 'alice', 'umang', NULL),"
      "('c2', 'CP-c2', 'aftercare', 2, 'closed', '{}', 2, 1000, 3000, 'bob', 'udaan', 3000);"
      "INSERT INTO events (case_id, seq, at, actor, event, from_state, to_state, version, "
      "changed_json, payload_json) VALUES "
      "('c1', 1, 1000, 'a', 'opened', NULL, 'intake', 1, '[]', '{}'),"
      "('c1', 2, 2000, 'a', 'admitted', 'intake', 'in_care', 2, '[]', '{}'),"
      "('c2', 1, 1000, 'a', 'opened', NULL, 'follow_up', 1, '[]', '{}'),"
      "('c2', 2, 3000, 'a', 'case_closed', 'follow_up', 'closed', 2, '[]', '{}');";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, schema.c_str(), nullptr, nullptr, &message);
  const std::string error = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << error;

  auto store = SqliteStore::open(path);
  ASSERT_TRUE(store) << store.error().message;
  for (const char* index : {"cases_open", "cases_closed_by_state", "events_moves", "events_counted",
                            "cases_closed_when", "cases_listed"}) {
    sqlite3* check = nullptr;
    sqlite3_open(path.c_str(), &check);
    sqlite3_stmt* statement = nullptr;
    const std::string sql = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = '" +
                            std::string(index) + "'";
    sqlite3_prepare_v2(check, sql.c_str(), -1, &statement, nullptr);
    ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(statement, 0), 1) << index;
    sqlite3_finalize(statement);
    sqlite3_close(check);
  }
  auto caseload = (*store)->report_caseload(std::nullopt);
  ASSERT_TRUE(caseload) << caseload.error().message;
  ASSERT_EQ(caseload->size(), 1U);
  EXPECT_EQ(caseload->front().state, "in_care");
  auto stays = (*store)->report_stays(0, 10'000, std::nullopt);
  ASSERT_TRUE(stays);
  ASSERT_EQ(stays->size(), 2U);
  EXPECT_EQ(stays->front().state, "follow_up");
  EXPECT_EQ(stays->front().durations_ms, (std::vector<std::int64_t>{2000}));
}

std::vector<std::string> rows_of(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* statement = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    rows.push_back(std::string("error: ") + sqlite3_errmsg(db));
  }
  while (statement != nullptr && sqlite3_step(statement) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      const auto* text = sqlite3_column_text(statement, i);
      row += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
      row += "|";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

// The same histories written by version 10 (without the columns version 11 adds to each entry):
// the upgrade fills them in as the store writes them, and every report gives the same figures.
TEST_F(SqliteReportsTest, VersionTenDatabaseIsUpgradedAndReportsTheSameFigures) {
  const std::string old_path = (dir_ / "version10.db").string();
  std::string sql;
  for (std::size_t i = 0; i < 10; ++i) {
    sql += std::string(kMigrations[i]);
  }
  sql += "PRAGMA user_version = 10; ATTACH DATABASE '" + path() +
         "' AS now; INSERT INTO workflows SELECT * FROM now.workflows; "
         "INSERT INTO cases SELECT * FROM now.cases; "
         "INSERT INTO events (case_id, seq, at, actor, event, from_state, to_state, version, "
         "changed_json, comment, payload_json, trigger_json) SELECT case_id, seq, at, actor, "
         "event, from_state, to_state, version, changed_json, comment, payload_json, "
         "trigger_json FROM now.events; DETACH DATABASE now;";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(old_path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string error = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << error;
  ASSERT_EQ(rows_of(old_path, "PRAGMA user_version"), std::vector<std::string>{"10|"});

  auto opened = SqliteStore::open(old_path);
  ASSERT_TRUE(opened) << opened.error().message;
  SqliteStore& old_store = **opened;
  EXPECT_EQ(rows_of(old_path, "PRAGMA user_version"),
            std::vector<std::string>{std::to_string(SqliteStore::kSchemaVersion) + "|"});

  // Each entry carries what the store would have written with it.
  const std::string columns =
      "SELECT case_id, seq, workflow, workflow_version, placement, entered_at FROM events "
      "ORDER BY case_id, seq";
  const auto upgraded = rows_of(old_path, columns);
  EXPECT_EQ(upgraded.size(), 5U + 3 + 4 + 1 + 2 + 5);
  EXPECT_EQ(upgraded, rows_of(path(), columns));

  const auto moves = old_store.report_moves(hours(0), hours(400), std::nullopt);
  const auto expected_moves = store().report_moves(hours(0), hours(400), std::nullopt);
  ASSERT_TRUE(moves && expected_moves);
  ASSERT_EQ(moves->size(), expected_moves->size());
  for (std::size_t i = 0; i < moves->size(); ++i) {
    EXPECT_EQ((*moves)[i].workflow, (*expected_moves)[i].workflow);
    EXPECT_EQ((*moves)[i].from_state, (*expected_moves)[i].from_state);
    EXPECT_EQ((*moves)[i].to_state, (*expected_moves)[i].to_state);
    EXPECT_EQ((*moves)[i].count, (*expected_moves)[i].count);
  }

  const auto stays = old_store.report_stays(hours(0), hours(400), std::nullopt);
  const auto expected_stays = store().report_stays(hours(0), hours(400), std::nullopt);
  ASSERT_TRUE(stays && expected_stays);
  ASSERT_EQ(stays->size(), expected_stays->size());
  for (std::size_t i = 0; i < stays->size(); ++i) {
    EXPECT_EQ((*stays)[i].state, (*expected_stays)[i].state);
    EXPECT_EQ((*stays)[i].durations_ms, (*expected_stays)[i].durations_ms);
  }
  ASSERT_NE(stays_of(*stays, "in_care"), nullptr);
  EXPECT_EQ(stays_of(*stays, "in_care")->durations_ms,
            (std::vector<std::int64_t>{1 * kHour, 30 * kHour, 40 * kHour, 45 * kHour}));

  const std::vector<std::string> events{"opened", "restored", "went_missing", "hearing"};
  const auto counts = old_store.report_event_counts(hours(0), hours(400), std::nullopt, events);
  const auto expected_counts =
      store().report_event_counts(hours(0), hours(400), std::nullopt, events);
  ASSERT_TRUE(counts && expected_counts);
  ASSERT_EQ(counts->size(), expected_counts->size());
  for (std::size_t i = 0; i < counts->size(); ++i) {
    EXPECT_EQ((*counts)[i].event, (*expected_counts)[i].event);
    EXPECT_EQ((*counts)[i].placement, (*expected_counts)[i].placement);
    EXPECT_EQ((*counts)[i].workflow_version, (*expected_counts)[i].workflow_version);
    EXPECT_EQ((*counts)[i].count, (*expected_counts)[i].count);
  }

  LeftCareQuery query;
  query.workflow = "aftercare";
  query.events = {{"restored", std::string("reintegration")}};
  query.since = hours(100);
  query.until = hours(150);
  const auto left = old_store.report_left_care(query);
  ASSERT_TRUE(left) << left.error().message;
  ASSERT_EQ(left->size(), 1U);
  EXPECT_EQ(left->front().code, "CP-c1");
  EXPECT_EQ(left->front().state_at, "follow_up");
  EXPECT_EQ(left->front().state, "closed");

  // And the store goes on writing entries with the new columns.
  auto c4 = old_store.get_case("c4");
  ASSERT_TRUE(c4);
  CaseRecord after = *c4;
  after.state = "in_care";
  after.version += 1;
  after.updated_at = hours(310);
  HistoryEntry entry;
  entry.at = after.updated_at;
  entry.actor = "caseworker.two";
  entry.event = "admitted";
  entry.from = c4->state;
  entry.to = after.state;
  ASSERT_TRUE(old_store.update_case(after, c4->version, entry, std::nullopt, {}));
  const auto later = old_store.report_stays(hours(300), hours(400), std::nullopt);
  ASSERT_TRUE(later);
  ASSERT_NE(stays_of(*later, "intake"), nullptr);
  EXPECT_EQ(stays_of(*later, "intake")->durations_ms, (std::vector<std::int64_t>{10 * kHour}));
}

// An entry's columns for the reports are the case's after the change it records, and entered_at
// marks when the case entered the state an entry took it out of.
TEST_F(SqliteReportsTest, EntriesCarryTheirCasesWorkflowVersionHomeAndEntryIntoTheState) {
  auto c2 = store().get_case("c2");
  ASSERT_TRUE(c2);
  CaseRecord after = *c2;
  after.state = "in_care";
  after.version += 1;
  after.workflow_version = 2;
  after.placement = "udaan";
  after.updated_at = hours(70);
  HistoryEntry entry;
  entry.at = after.updated_at;
  entry.actor = "caseworker.two";
  entry.event = "found";
  entry.from = c2->state;
  entry.to = after.state;
  ASSERT_TRUE(store().update_case(after, c2->version, entry, std::nullopt, {}));
  EXPECT_EQ(
      rows_of(path(), "SELECT seq, workflow, workflow_version, placement, entered_at - " +
                          std::to_string(kT0) + " FROM events WHERE case_id = 'c2' ORDER BY seq"),
      (std::vector<std::string>{"1|aftercare|1|umang|NULL|", "2|aftercare|1|umang|0|",
                                "3|aftercare|1|umang|" + std::to_string(20 * kHour) + "|",
                                "4|aftercare|2|udaan|" + std::to_string(60 * kHour) + "|"}));
  // Nobody can rewrite them afterwards: history stays append-only.
  sqlite3* db = nullptr;
  sqlite3_open(path().c_str(), &db);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, "UPDATE events SET placement = 'umeed' WHERE case_id = 'c2'",
                              nullptr, nullptr, &message);
  const std::string error = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  EXPECT_NE(rc, SQLITE_OK);
  EXPECT_NE(error.find("append-only"), std::string::npos) << error;
}

}  // namespace
}  // namespace carepath::store
