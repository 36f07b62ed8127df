// SqliteStore's erasure and retention writes: what they remove, what they keep, and that the
// history stays append-only in every other way.
#include <memory>
#include <string>
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

class SqliteErasureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::open(path());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    record_.id = "c1";
    record_.code = "CP-C1";
    record_.workflow = "hostel";
    record_.workflow_version = 1;
    record_.state = "intake";
    record_.data = {{"name", "Qzyxwv Tarnobel"}, {"age", 12}, {"school", "Umbrel High"}};
    record_.version = 1;
    record_.created_at = kT0;
    record_.updated_at = kT0;
    record_.data_key = "k1.wrapped";
    record_.blind_index = {{"name", "digest-of-name"}};
    HistoryEntry opened;
    opened.at = kT0;
    opened.actor = "asha";
    opened.event = "opened";
    opened.to = "intake";
    opened.version = 1;
    opened.changed = {"name", "age", "school"};
    opened.payload = record_.data;
    CaseEffects effects;
    effects.timers.push_back(TimerRecord{0,
                                         "c1",
                                         "timer",
                                         "intake/after/0",
                                         "fire",
                                         "remind",
                                         kT0 + 1000,
                                         1,
                                         kT0,
                                         "pending",
                                         {},
                                         {},
                                         kT0});
    ASSERT_TRUE(store_->create_case(record_, opened, effects));
  }

  std::string path() const { return (dir_ / "cases.db").string(); }

  // A change of the stored case to `after` with an entry named `event`.
  CaseChange change(CaseRecord after, const std::string& event) {
    after.version = record_.version + 1;
    after.updated_at = kT0 + 5000;
    HistoryEntry entry;
    entry.at = after.updated_at;
    entry.actor = "root";
    entry.event = event;
    entry.from = after.state;
    entry.to = after.state;
    entry.version = after.version;
    return CaseChange{std::move(after), record_.version, std::move(entry)};
  }

  // Runs SQL on the file, as someone holding it could; returns SQLite's result code.
  int raw(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path().c_str(), &db);
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    return rc;
  }

  test::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  CaseRecord record_;
};

TEST_F(SqliteErasureTest, EraseDestroysTheKeyIndexAndPendingWorkAndKeepsTheRest) {
  CaseRecord after = record_;
  after.data.erase("name");
  after.blind_index.clear();
  after.erased_at = kT0 + 5000;
  auto erased = store_->erase_case(change(after, "erased"), {});
  ASSERT_TRUE(erased) << erased.error().message;

  auto stored = store_->get_case("c1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->data_key, "");
  EXPECT_EQ(stored->erased_at, kT0 + 5000);
  EXPECT_EQ(stored->state, "intake");
  EXPECT_FALSE(stored->data.contains("name"));
  EXPECT_EQ(stored->data.at("age"), 12);
  auto timers = store_->timers("c1");
  ASSERT_TRUE(timers);
  ASSERT_EQ(timers->size(), 1U);
  EXPECT_EQ(timers->at(0).status, "cancelled");
  CaseQuery match;
  match.match = CaseQuery::Match{"name", "digest-of-name"};
  auto found = store_->list_cases(match);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->items.empty());
  // Not a case written before encryption: the key check must not count it.
  auto plain = store_->count_cases_without_key();
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, 0);
}

// The start-up count of cases without a key reads only those, through their index (not every
// case: seconds at a million cases), and still counts such a case.
TEST_F(SqliteErasureTest, CountOfCasesWithoutKeyReadsOnlyThoseCases) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* plan = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + std::string(kCountCasesWithoutKeySql);
  ASSERT_EQ(sqlite3_prepare_v2(db, explain.c_str(), -1, &plan, nullptr), SQLITE_OK);
  std::string details;
  while (sqlite3_step(plan) == SQLITE_ROW) {
    details += reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
    details += ";";
  }
  sqlite3_finalize(plan);
  sqlite3_close(db);
  EXPECT_EQ(details,
            "SEARCH cases USING COVERING INDEX cases_without_key (erased_at=? AND data_key=?);");

  ASSERT_EQ(raw("UPDATE cases SET data_key = NULL WHERE id = 'c1'"), SQLITE_OK);
  auto plain = store_->count_cases_without_key();
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(*plain, 1);
}

TEST_F(SqliteErasureTest, StripRemovesFieldsFromDataAndPayloadsOnceAndOnlyThem) {
  CaseRecord after = record_;
  after.data.erase("school");
  auto stripped = store_->strip_fields(change(after, "retention_applied"), {"school"}, {});
  ASSERT_TRUE(stripped) << stripped.error().message;
  EXPECT_EQ(*stripped, std::vector<std::int64_t>{2});  // the case data and one payload
  auto history = store_->history("c1", 10, std::nullopt);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->items.size(), 2U);
  EXPECT_FALSE(history->items[0].payload.contains("school"));
  EXPECT_EQ(history->items[0].payload.at("name"), "Qzyxwv Tarnobel");
  EXPECT_EQ(history->items[1].event, "retention_applied");

  // Nothing left: nothing written, not even a history entry.
  record_.version = 2;
  auto again = store_->strip_fields(change(after, "retention_applied"), {"school"}, {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, std::vector<std::int64_t>{0});
  auto unchanged = store_->get_case("c1");
  ASSERT_TRUE(unchanged);
  EXPECT_EQ(unchanged->version, 2);
}

TEST_F(SqliteErasureTest, HistoryStaysAppendOnlyBesidesRemovingPayloadMembers) {
  store_.reset();
  EXPECT_NE(raw("UPDATE events SET actor = 'mallory'"), SQLITE_OK);
  EXPECT_NE(raw("DELETE FROM events"), SQLITE_OK);
  EXPECT_NE(raw("UPDATE events SET payload_json = json_set(payload_json, '$.age', 13)"), SQLITE_OK);
  EXPECT_NE(raw("UPDATE events SET payload_json = json_set(payload_json, '$.extra', 1)"),
            SQLITE_OK);
  EXPECT_EQ(raw("UPDATE events SET payload_json = json_remove(payload_json, '$.age')"), SQLITE_OK);
}

}  // namespace
}  // namespace carepath::store
