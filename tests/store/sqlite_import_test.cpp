// SqliteStore's bulk import (store/sqlite_import.cpp): many cases with their histories in one
// transaction, all or none, with the rows create_case and update_case would write.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/audit.hpp"
#include "core/replay.hpp"
#include "store/sqlite_store.hpp"

namespace carepath::store {
namespace {

constexpr Timestamp kT0 = 1'790'000'000'000;

// Not a real digest: enough to chain audit rows in a store test.
std::string test_digest(std::string_view data) {
  return std::to_string(std::hash<std::string_view>{}(data));
}

ImportedCase make_case(const std::string& id, const std::string& code, int events) {
  ImportedCase c;
  CaseRecord& r = c.record;
  r.id = id;
  r.code = code;
  r.workflow = "shelter";
  r.workflow_version = 1;
  r.state = "in_care";
  r.data = {{"age", 12}};
  r.version = events;
  r.created_at = kT0;
  r.updated_at = kT0 + events - 1;
  r.assignee = "test-worker";
  r.placement = "north";
  r.blind_index = {{"name", "digest-of-fake-name"}};
  for (int i = 1; i <= events; ++i) {
    HistoryEntry e;
    e.seq = i;
    e.version = i;
    e.at = kT0 + i - 1;
    e.actor = "test-worker";
    e.event = i == 1 ? "opened" : "updated";
    if (i > 1) {
      e.from = "in_care";
    }
    e.to = "in_care";
    e.changed = {"age"};
    e.payload = {{"age", 12}};
    if (i == 2) {
      e.comment = "fake comment";
    }
    c.history.push_back(std::move(e));
  }
  TimerRecord timer;
  timer.case_id = id;
  timer.kind = "timer";
  timer.name = "in_care/after/0";
  timer.purpose = "fire";
  timer.event = "review";
  timer.due_at = kT0 + 1000;
  timer.anchor_at = kT0;
  timer.created_at = kT0;
  c.effects.timers.push_back(timer);
  return c;
}

std::unique_ptr<SqliteStore> open_store() {
  auto store = SqliteStore::open(":memory:", &test_digest);
  EXPECT_TRUE(store);
  return std::move(*store);
}

TEST(SqliteImport, WritesCasesHistoriesIndexTimersAndOneAuditRowEach) {
  auto store = open_store();
  ASSERT_TRUE(store->import_cases({make_case("id-1", "TEST-1", 3), make_case("id-2", "TEST-2", 1)},
                                  "cli:tester", kT0 + 5000));
  auto c = store->get_case("id-1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->code, "TEST-1");
  EXPECT_EQ(c->version, 3);
  EXPECT_EQ(c->assignee, "test-worker");
  EXPECT_EQ(c->placement, "north");
  auto history = store->history("id-1", 50, std::nullopt);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->items.size(), 3U);
  EXPECT_EQ(history->items[1].seq, 2);
  EXPECT_EQ(history->items[1].comment, "fake comment");
  EXPECT_FALSE(history->items[0].from);
  // What `carepath verify` checks holds.
  EXPECT_TRUE(compare(replay(history->items), *c).empty());
  // The blind index (the store compares digests as given).
  CaseQuery query;
  query.match = CaseQuery::Match{"name", "digest-of-fake-name"};
  auto matched = store->list_cases(query);
  ASSERT_TRUE(matched);
  EXPECT_EQ(matched->items.size(), 2U);
  auto timers = store->timers("id-2");
  ASSERT_TRUE(timers);
  ASSERT_EQ(timers->size(), 1U);
  EXPECT_EQ((*timers)[0].status, "pending");
  // One case.import row per case, chained.
  AuditQuery audit;
  audit.action = std::string(kAuditCaseImport);
  auto rows = store->audit_page(audit);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->items.size(), 2U);
  EXPECT_EQ(rows->items[0].actor, "cli:tester");
  EXPECT_EQ(rows->items[0].case_id, "id-1");
  EXPECT_EQ(rows->items[0].fields, (std::vector<std::string>{"age"}));
  EXPECT_EQ(rows->items[0].details.at("events").as_int64(), 3);
  AuditVerifier verifier(&test_digest);
  auto trail = store->audit_page({});
  ASSERT_TRUE(trail);
  for (const auto& row : trail->items) {
    EXPECT_FALSE(verifier.feed(row));
  }
  EXPECT_EQ(verifier.count(), 2);
}

TEST(SqliteImport, ADuplicateCodeRefusesTheWholeBatch) {
  auto store = open_store();
  ASSERT_TRUE(store->import_cases({make_case("id-1", "TEST-1", 1)}, "cli:tester", kT0));
  auto refused = store->import_cases(
      {make_case("id-2", "TEST-2", 2), make_case("id-3", "TEST-1", 2)}, "cli:tester", kT0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_NE(refused.error().message.find("TEST-1"), std::string::npos);
  EXPECT_EQ(store->get_case("id-2").error().code, Errc::not_found);
  EXPECT_EQ(store->list_cases({})->items.size(), 1U);
  EXPECT_EQ(store->audit_page({})->items.size(), 1U);
}

TEST(SqliteImport, RefusesCasesWhoseHistoryDoesNotNumberFromOne) {
  auto store = open_store();
  auto empty = make_case("id-1", "TEST-1", 1);
  empty.history.clear();
  EXPECT_EQ(store->import_cases({empty}, "cli:tester", kT0).error().code, Errc::invalid_argument);
  auto gap = make_case("id-1", "TEST-1", 3);
  gap.history[2].seq = 4;
  EXPECT_EQ(store->import_cases({gap}, "cli:tester", kT0).error().code, Errc::invalid_argument);
  auto wrong_version = make_case("id-1", "TEST-1", 3);
  wrong_version.record.version = 2;
  EXPECT_EQ(store->import_cases({wrong_version}, "cli:tester", kT0).error().code,
            Errc::invalid_argument);
  EXPECT_TRUE(store->list_cases({})->items.empty());
}

TEST(SqliteImport, WritesOnlyABatchItPreparedItself) {
  auto store = open_store();
  auto other = open_store();
  auto batch = other->prepare_import({make_case("id-1", "TEST-1", 2)});
  ASSERT_TRUE(batch) << batch.error().message;
  auto refused = store->write_import(*batch, "cli:tester", kT0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_TRUE(store->list_cases({})->items.empty());
  EXPECT_TRUE(store->audit_page({})->items.empty());
  ASSERT_TRUE(other->write_import(*batch, "cli:tester", kT0));
  EXPECT_EQ(other->get_case("id-1")->version, 2);
}

TEST(SqliteImport, FindsWhichCodesExist) {
  auto store = open_store();
  ASSERT_TRUE(store->import_cases({make_case("id-1", "TEST-1", 1), make_case("id-2", "TEST-2", 1)},
                                  "cli:tester", kT0));
  auto found = store->existing_codes({"TEST-0", "TEST-2", "TEST-1"});
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, (std::vector<std::string>{"TEST-2", "TEST-1"}));
  EXPECT_TRUE(store->existing_codes({})->empty());
}

// Imported history counts in the period reports like history the engine wrote: its entries carry
// the workflow, version and home the reports group by, and when the case entered a state it left.
TEST(SqliteImport, ImportedHistoryCountsInThePeriodReports) {
  auto store = open_store();
  ImportedCase c = make_case("id-1", "TEST-1", 3);
  c.history[0].to = "intake";
  c.history[1].event = "admitted";
  c.history[1].from = "intake";
  c.history[1].to = "in_care";
  c.history[1].at = kT0 + 60'000;
  c.history[2].at = kT0 + 120'000;
  c.record.updated_at = kT0 + 120'000;
  ASSERT_TRUE(store->import_cases({c}, "cli:tester", kT0 + 200'000));

  auto moves = store->report_moves(kT0, kT0 + 200'000, std::string("shelter"));
  ASSERT_TRUE(moves) << moves.error().message;
  std::int64_t admitted = 0;
  for (const MoveCount& m : *moves) {
    if (m.from_state == "intake" && m.to_state == "in_care") {
      admitted += m.count;
    }
  }
  EXPECT_EQ(admitted, 1);
  auto counts =
      store->report_event_counts(kT0, kT0 + 200'000, std::string("shelter"), {"admitted"});
  ASSERT_TRUE(counts) << counts.error().message;
  ASSERT_EQ(counts->size(), 1U);
  EXPECT_EQ(counts->front().workflow_version, 1);
  EXPECT_EQ(counts->front().placement, "north");
  auto stays = store->report_stays(kT0, kT0 + 200'000, std::string("shelter"));
  ASSERT_TRUE(stays) << stays.error().message;
  ASSERT_EQ(stays->size(), 1U);
  EXPECT_EQ(stays->front().state, "intake");
  EXPECT_EQ(stays->front().durations_ms, std::vector<std::int64_t>{60'000});
}

}  // namespace
}  // namespace carepath::store
