#include "store/sqlite_store.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/sqlite_checkpoint.hpp"
#include "store/sqlite_internal.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::store {
namespace {

constexpr Timestamp kT0 = 1'790'000'000'000;

std::unique_ptr<SqliteStore> open_store(const std::string& path) {
  auto store = SqliteStore::open(path);
  if (!store) {
    ADD_FAILURE() << "open failed: " << store.error().message;
    return nullptr;
  }
  return std::move(*store);
}

std::unique_ptr<SqliteStore> memory_store() {
  return open_store(":memory:");
}

// Invented test data only.
CaseRecord make_case(const std::string& id, const std::string& workflow = "aftercare",
                     const std::string& state = "intake") {
  CaseRecord record;
  record.id = id;
  record.code = "CP-" + id;
  record.workflow = workflow;
  record.workflow_version = 1;
  record.state = state;
  record.data = {{"first_name", "Asha"}, {"age", 14}};
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
  entry.changed = {"first_name", "age"};
  entry.payload = record.data;
  return entry;
}

void create(Store& store, const CaseRecord& record) {
  auto created = store.create_case(record, opened_entry(record), {});
  ASSERT_TRUE(created) << created.error().message;
}

// The next version of `before`: moves it to `state` and sets one field.
std::pair<CaseRecord, HistoryEntry> next_version(const CaseRecord& before, const std::string& state,
                                                 const std::string& field, int value) {
  CaseRecord after = before;
  after.state = state;
  after.data[field] = value;
  after.version = before.version + 1;
  after.updated_at = before.updated_at + 1000;
  HistoryEntry entry;
  entry.at = after.updated_at;
  entry.actor = "caseworker.two";
  entry.event = "assess";
  entry.from = before.state;
  entry.to = state;
  entry.version = after.version;
  entry.changed = {field};
  entry.comment = "home visit done";
  entry.payload = {{field, value}};
  return {after, entry};
}

IdempotencyRecord make_idempotency(const std::string& case_id, const std::string& key) {
  IdempotencyRecord record;
  record.case_id = case_id;
  record.actor = "caseworker.two";
  record.key = key;
  record.request_hash = std::string(64, 'a');
  record.status = 200;
  record.response = R"({"id":"c1"})";
  record.created_at = kT0;
  return record;
}

// Runs `sql` on the file through a connection of its own, bypassing the store.
std::string exec_raw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_busy_timeout(db, 5000);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  std::string result = rc == SQLITE_OK ? "" : (message != nullptr ? message : "error");
  sqlite3_free(message);
  sqlite3_close(db);
  return result;
}

std::string query_raw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr);
  std::string result;
  if (statement != nullptr && sqlite3_step(statement) == SQLITE_ROW) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return result;
}

TEST(SqliteStore, CreatesAndReadsCase) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);

  auto got = store->get_case("c1");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->id, "c1");
  EXPECT_EQ(got->code, "CP-c1");
  EXPECT_EQ(got->workflow, "aftercare");
  EXPECT_EQ(got->workflow_version, 1);
  EXPECT_EQ(got->state, "intake");
  EXPECT_EQ(got->data, record.data);
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->created_at, kT0);
  EXPECT_EQ(got->updated_at, kT0);

  auto history = store->history("c1", 50, std::nullopt);
  ASSERT_TRUE(history) << history.error().message;
  ASSERT_EQ(history->items.size(), 1U);
  const HistoryEntry& opened = history->items[0];
  EXPECT_EQ(opened.seq, 1);
  EXPECT_EQ(opened.event, "opened");
  EXPECT_FALSE(opened.from);
  EXPECT_EQ(opened.to, "intake");
  EXPECT_EQ(opened.version, 1);
  EXPECT_EQ(opened.changed, (std::vector<std::string>{"first_name", "age"}));
  EXPECT_FALSE(opened.comment);
  EXPECT_EQ(opened.payload, record.data);
  EXPECT_TRUE(opened.trigger.empty());
  EXPECT_FALSE(history->next_cursor);
}

TEST(SqliteStore, ReportsUnknownCaseAsNotFound) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  auto got = store->get_case("nope");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::not_found);
  auto history = store->history("nope", 10, std::nullopt);
  ASSERT_FALSE(history);
  EXPECT_EQ(history.error().code, Errc::not_found);
}

TEST(SqliteStore, RefusesDuplicateIdOrCode) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  create(*store, make_case("c1"));

  CaseRecord same_id = make_case("c1");
  same_id.code = "CP-other";
  auto created = store->create_case(same_id, opened_entry(same_id), {});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, Errc::conflict);

  CaseRecord same_code = make_case("c2");
  same_code.code = "CP-c1";
  created = store->create_case(same_code, opened_entry(same_code), {});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, Errc::conflict);
  EXPECT_EQ(store->get_case("c2").error().code, Errc::not_found);
}

// An update replaces the case's blind index entries with the record's: kept when they are the
// same, replaced when a value changed, removed when the record has none.
TEST(SqliteStore, UpdatesKeepOrReplaceTheBlindIndex) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  CaseRecord record = make_case("c1");
  record.blind_index = {{"name", "digest-one"}, {"alias", "digest-alias"}};
  create(*store, record);
  const auto matching = [&](const std::string& field, const std::string& digest) {
    CaseQuery query;
    query.match = CaseQuery::Match{field, digest};
    auto page = store->list_cases(query);
    EXPECT_TRUE(page) << page.error().message;
    return page ? page->items.size() : 0;
  };

  auto [same, e2] = next_version(record, "assessment", "score", 1);
  same.blind_index = {{"alias", "digest-alias"}, {"name", "digest-one"}};  // another order
  ASSERT_TRUE(store->update_case(same, 1, e2, std::nullopt, {}));
  EXPECT_EQ(matching("name", "digest-one"), 1U);
  EXPECT_EQ(matching("alias", "digest-alias"), 1U);

  auto [changed, e3] = next_version(same, "assessment", "score", 2);
  changed.blind_index = {{"name", "digest-two"}, {"alias", "digest-alias"}};
  ASSERT_TRUE(store->update_case(changed, 2, e3, std::nullopt, {}));
  EXPECT_EQ(matching("name", "digest-one"), 0U);
  EXPECT_EQ(matching("name", "digest-two"), 1U);
  EXPECT_EQ(matching("alias", "digest-alias"), 1U);

  auto [fewer, e4] = next_version(changed, "assessment", "score", 3);
  fewer.blind_index = {{"name", "digest-two"}};
  ASSERT_TRUE(store->update_case(fewer, 3, e4, std::nullopt, {}));
  EXPECT_EQ(matching("name", "digest-two"), 1U);
  EXPECT_EQ(matching("alias", "digest-alias"), 0U);

  auto [none, e5] = next_version(fewer, "assessment", "score", 4);
  none.blind_index.clear();
  ASSERT_TRUE(store->update_case(none, 4, e5, std::nullopt, {}));
  EXPECT_EQ(matching("name", "digest-two"), 0U);
}

// The pages of `index` (one for a small table), as dbstat lists them, through a connection of
// its own.
std::set<std::uint32_t> index_pages(const std::string& path, const std::string& index) {
  std::set<std::uint32_t> pages;
  std::stringstream list(
      query_raw(path, "SELECT group_concat(pageno) FROM dbstat WHERE name = '" + index + "'"));
  for (std::string page; std::getline(list, page, ',');) {
    pages.insert(static_cast<std::uint32_t>(std::stoul(page)));
  }
  return pages;
}

// The pages written to the log from byte `from` on: each frame is a 24-byte header, whose first
// four bytes are the page number (big-endian), then the page.
std::set<std::uint32_t> logged_pages(const std::string& path, std::uintmax_t from) {
  constexpr std::size_t kPageSize = 4096;
  constexpr std::size_t kFrameHeader = 24;
  std::ifstream log(path + "-wal", std::ios::binary);
  log.seekg(static_cast<std::streamoff>(std::max<std::uintmax_t>(from, 32)));
  std::set<std::uint32_t> pages;
  std::array<unsigned char, kFrameHeader + kPageSize> frame{};
  while (log.read(reinterpret_cast<char*>(frame.data()), frame.size())) {
    pages.insert((std::uint32_t{frame[0]} << 24U) | (std::uint32_t{frame[1]} << 16U) |
                 (std::uint32_t{frame[2]} << 8U) | std::uint32_t{frame[3]});
  }
  return pages;
}

bool shares_a_page(const std::set<std::uint32_t>& a, const std::set<std::uint32_t>& b) {
  return std::any_of(a.begin(), a.end(), [&b](std::uint32_t page) { return b.count(page) > 0; });
}

// Opening a store turns off SQLite's allocation counters, whose one process-wide mutex every
// connection took on each allocation (a tenth of all futex calls at 64 connections). The check
// runs in a fresh process (the "threadsafe" death-test style re-runs this binary), because
// SQLite takes the setting only before its first use in a process.
TEST(SqliteStore, OpeningTurnsOffSqliteAllocationCounters) {
  const std::string style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const test::TempDir dir;
  const std::string path = (dir / "counters.db").string();
  EXPECT_EXIT(
      {
        auto store = SqliteStore::open(path);
        const CaseRecord record = make_case("c1");
        if (!store || !(*store)->create_case(record, opened_entry(record), {})) {
          std::_Exit(2);
        }
        // With the counters off SQLite reports no memory in use at all.
        std::_Exit(sqlite3_memory_used() == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  GTEST_FLAG_SET(death_test_style, style);
}

// An update sets only the indexed columns that change: naming one in the UPDATE would rewrite
// its index entries with the same values, a page more in the log for each index.
TEST(SqliteStore, AnUpdateWritesOnlyTheIndexesOfColumnsItChanges) {
  const test::TempDir dir;
  const std::string path = (dir / "pages.db").string();
  auto store = open_store(path);
  ASSERT_TRUE(store);
  CaseRecord record = make_case("c1");
  record.assignee = "caseworker.one";
  record.placement = "home-a";
  create(*store, record);
  const auto workflow_pages = index_pages(path, "cases_by_workflow");
  const auto version_pages = index_pages(path, "cases_by_workflow_version");
  const auto assignee_pages = index_pages(path, "cases_by_assignee");
  const auto placement_pages = index_pages(path, "cases_by_placement");
  const auto state_pages = index_pages(path, "cases_by_state");
  const auto case_pages = index_pages(path, "cases");
  ASSERT_FALSE(workflow_pages.empty());
  ASSERT_FALSE(assignee_pages.empty());
  ASSERT_FALSE(placement_pages.empty());
  ASSERT_FALSE(state_pages.empty());

  // The same state: only the data changes.
  auto log_size = std::filesystem::file_size(path + "-wal");
  auto [edited, e2] = next_version(record, "intake", "score", 1);
  ASSERT_TRUE(store->update_case(edited, 1, e2, std::nullopt, {}));
  auto written = logged_pages(path, log_size);
  EXPECT_TRUE(shares_a_page(written, case_pages));  // the frames are read right
  EXPECT_FALSE(shares_a_page(written, workflow_pages));
  EXPECT_FALSE(shares_a_page(written, version_pages));
  EXPECT_FALSE(shares_a_page(written, assignee_pages));
  EXPECT_FALSE(shares_a_page(written, placement_pages));
  EXPECT_FALSE(shares_a_page(written, state_pages));

  // A new state rewrites the state's indexes, still not the others.
  log_size = std::filesystem::file_size(path + "-wal");
  auto [moved, e3] = next_version(edited, "assessment", "score", 2);
  ASSERT_TRUE(store->update_case(moved, 2, e3, std::nullopt, {}));
  written = logged_pages(path, log_size);
  EXPECT_TRUE(shares_a_page(written, state_pages));
  EXPECT_FALSE(shares_a_page(written, workflow_pages));
  EXPECT_FALSE(shares_a_page(written, assignee_pages));
}

// Each indexed column an update may leave out is stored when it alone changes, and found
// through its index.
TEST(SqliteStore, UpdatesEachIndexedColumnAlone) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  CaseRecord record = make_case("c1");
  create(*store, record);
  int score = 0;
  const auto update = [&](const std::function<void(CaseRecord&)>& change) {
    auto [after, entry] = next_version(record, record.state, "score", ++score);
    change(after);
    auto updated = store->update_case(after, record.version, entry, std::nullopt, {});
    EXPECT_TRUE(updated) << updated.error().message;
    auto stored = store->get_case("c1");
    EXPECT_TRUE(stored) << stored.error().message;
    if (stored) {
      record = *stored;
    }
  };
  const auto listed = [&](const std::optional<std::string>& workflow,
                          const std::optional<std::string>& state) {
    CaseQuery query;
    query.workflow = workflow;
    query.state = state;
    auto page = store->list_cases(query);
    EXPECT_TRUE(page) << page.error().message;
    return page ? page->items.size() : 0;
  };

  update([](CaseRecord& after) { after.state = "assessment"; });
  EXPECT_EQ(record.state, "assessment");
  EXPECT_EQ(listed(std::nullopt, "assessment"), 1U);
  EXPECT_EQ(listed(std::nullopt, "intake"), 0U);
  update([](CaseRecord& after) { after.workflow = "education_support"; });
  EXPECT_EQ(record.workflow, "education_support");
  EXPECT_EQ(listed("education_support", "assessment"), 1U);
  EXPECT_EQ(listed("aftercare", std::nullopt), 0U);
  update([](CaseRecord& after) { after.workflow_version = 2; });
  EXPECT_EQ(record.workflow_version, 2);
  update([](CaseRecord& after) { after.assignee = "caseworker.two"; });
  EXPECT_EQ(record.assignee, "caseworker.two");
  update([](CaseRecord& after) { after.assignee.clear(); });
  EXPECT_EQ(record.assignee, "");
  update([](CaseRecord& after) { after.placement = "home-b"; });
  EXPECT_EQ(record.placement, std::optional<std::string>("home-b"));
  update([](CaseRecord& after) { after.placement.reset(); });
  EXPECT_EQ(record.placement, std::nullopt);
  update([](CaseRecord& after) { after.closed_at = kT0 + 5000; });
  EXPECT_EQ(record.closed_at, std::optional<Timestamp>(kT0 + 5000));
  update([](CaseRecord& after) { after.erased_at = kT0 + 6000; });
  EXPECT_EQ(record.erased_at, std::optional<Timestamp>(kT0 + 6000));
  EXPECT_EQ(record.data.at("score"), score);  // the unindexed columns changed every time
  EXPECT_EQ(record.version, 1 + score);
}

TEST(SqliteStore, UpdatesCaseAndAppendsHistory) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);

  auto [after, entry] = next_version(record, "assessment", "score", 3);
  entry.version = 0;  // the store writes after.version
  auto updated = store->update_case(after, 1, entry, std::nullopt, {});
  ASSERT_TRUE(updated) << updated.error().message;

  auto got = store->get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, "assessment");
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->data.at("score"), 3);
  EXPECT_EQ(got->created_at, kT0);
  EXPECT_EQ(got->updated_at, kT0 + 1000);

  auto history = store->history("c1", 50, std::nullopt);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->items.size(), 2U);
  const HistoryEntry& second = history->items[1];
  EXPECT_EQ(second.seq, 2);
  EXPECT_EQ(second.at, kT0 + 1000);
  EXPECT_EQ(second.actor, "caseworker.two");
  EXPECT_EQ(second.event, "assess");
  EXPECT_EQ(second.from, "intake");
  EXPECT_EQ(second.to, "assessment");
  EXPECT_EQ(second.version, 2);
  EXPECT_EQ(second.changed, std::vector<std::string>{"score"});
  EXPECT_EQ(second.comment, "home visit done");
  EXPECT_EQ(second.payload, (boost::json::object{{"score", 3}}));
}

TEST(SqliteStore, ReportsStaleVersionWithCurrentVersion) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);
  auto [v2, e2] = next_version(record, "assessment", "score", 1);
  ASSERT_TRUE(store->update_case(v2, 1, e2, std::nullopt, {}));

  // A second writer that also read version 1.
  auto [stale, stale_entry] = next_version(record, "closed", "score", 9);
  auto updated = store->update_case(stale, 1, stale_entry, std::nullopt, {});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, Errc::precondition_failed);
  EXPECT_EQ(updated.error().type, "version-mismatch");
  ASSERT_TRUE(updated.error().details.contains("current_version"));
  EXPECT_EQ(updated.error().details.at("current_version").as_int64(), 2);

  auto got = store->get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->state, "assessment");
  EXPECT_EQ(store->history("c1", 50, std::nullopt)->items.size(), 2U);
}

TEST(SqliteStore, ReportsUpdateOfUnknownCaseAsNotFound) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  auto [after, entry] = next_version(make_case("ghost"), "assessment", "score", 1);
  auto updated = store->update_case(after, 1, entry, std::nullopt, {});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, Errc::not_found);
}

TEST(SqliteStore, RejectsVersionThatIsNotExpectedPlusOne) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);
  auto [after, entry] = next_version(record, "assessment", "score", 1);
  after.version = 5;
  auto updated = store->update_case(after, 1, entry, std::nullopt, {});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, Errc::invalid_argument);
}

TEST(SqliteStore, StoresAndFindsIdempotencyRecord) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);
  auto [after, entry] = next_version(record, "assessment", "score", 1);
  ASSERT_TRUE(store->update_case(after, 1, entry, make_idempotency("c1", "key-1"), {}));

  auto found = store->find_idempotency("c1", "caseworker.two", "key-1");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(*found);
  EXPECT_EQ((*found)->status, 200);
  EXPECT_EQ((*found)->response, R"({"id":"c1"})");
  EXPECT_EQ((*found)->request_hash, std::string(64, 'a'));
  EXPECT_EQ((*found)->created_at, kT0);

  auto other_actor = store->find_idempotency("c1", "caseworker.one", "key-1");
  ASSERT_TRUE(other_actor);
  EXPECT_FALSE(*other_actor);
}

TEST(SqliteStore, RollsBackEverythingWhenIdempotencyKeyClashes) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);
  auto [v2, e2] = next_version(record, "assessment", "score", 1);
  ASSERT_TRUE(store->update_case(v2, 1, e2, make_idempotency("c1", "key-1"), {}));

  auto [v3, e3] = next_version(v2, "closed", "score", 2);
  auto updated = store->update_case(v3, 2, e3, make_idempotency("c1", "key-1"), {});
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, Errc::conflict);

  auto got = store->get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->state, "assessment");
  EXPECT_EQ(got->data.at("score"), 1);
  auto history = store->history("c1", 50, std::nullopt);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->items.size(), 2U);

  // The failed attempt left nothing half-done: the same update without the key goes through.
  ASSERT_TRUE(store->update_case(v3, 2, e3, std::nullopt, {}));
  EXPECT_EQ(store->history("c1", 50, std::nullopt)->items.back().seq, 3);
}

TEST(SqliteStore, PagesThroughCasesInCreationOrder) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  // Ids deliberately not in creation order, to show the order is by insertion.
  const std::vector<std::string> ids = {"m", "b", "z", "a", "k", "c", "x"};
  for (const auto& id : ids) {
    create(*store, make_case(id));
  }

  std::vector<std::string> seen;
  CaseQuery query;
  query.limit = 3;
  int pages = 0;
  for (;;) {
    auto page = store->list_cases(query);
    ASSERT_TRUE(page) << page.error().message;
    ++pages;
    for (const auto& item : page->items) {
      seen.push_back(item.id);
    }
    if (!page->next_cursor) {
      break;
    }
    EXPECT_EQ(page->items.size(), 3U);
    query.cursor = page->next_cursor;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);
}

TEST(SqliteStore, ReturnsNoCursorWhenLastPageIsExactlyFull) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  for (const auto* id : {"a", "b", "c"}) {
    create(*store, make_case(id));
  }
  CaseQuery query;
  query.limit = 3;
  auto page = store->list_cases(query);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 3U);
  EXPECT_FALSE(page->next_cursor);
}

TEST(SqliteStore, FiltersCasesByWorkflowAndState) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  create(*store, make_case("a1", "aftercare", "intake"));
  create(*store, make_case("a2", "aftercare", "closed"));
  create(*store, make_case("r1", "repatriation", "intake"));
  create(*store, make_case("a3", "aftercare", "intake"));

  auto ids = [&](std::optional<std::string> workflow, std::optional<std::string> state) {
    CaseQuery query;
    query.workflow = std::move(workflow);
    query.state = std::move(state);
    std::vector<std::string> result;
    auto page = store->list_cases(query);
    EXPECT_TRUE(page);
    if (page) {
      for (const auto& item : page->items) {
        result.push_back(item.id);
      }
    }
    return result;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids(std::nullopt, std::nullopt), (Ids{"a1", "a2", "r1", "a3"}));
  EXPECT_EQ(ids("aftercare", std::nullopt), (Ids{"a1", "a2", "a3"}));
  EXPECT_EQ(ids(std::nullopt, "intake"), (Ids{"a1", "r1", "a3"}));
  EXPECT_EQ(ids("aftercare", "intake"), (Ids{"a1", "a3"}));
  EXPECT_EQ(ids("repatriation", "closed"), Ids{});

  // A cursor keeps working with filters: the second page of aftercare/intake.
  CaseQuery query;
  query.workflow = "aftercare";
  query.state = "intake";
  query.limit = 1;
  auto first = store->list_cases(query);
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->next_cursor);
  query.cursor = first->next_cursor;
  auto second = store->list_cases(query);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->items.size(), 1U);
  EXPECT_EQ(second->items[0].id, "a3");
  EXPECT_FALSE(second->next_cursor);
}

TEST(SqliteStore, ClampsListLimitToOneThroughFiveHundred) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 502; ++i) {
    create(*store, make_case("c" + std::to_string(i)));
  }
  CaseQuery query;
  query.limit = 0;
  auto page = store->list_cases(query);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 1U);
  EXPECT_TRUE(page->next_cursor);

  query.limit = 100000;
  page = store->list_cases(query);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 500U);
  ASSERT_TRUE(page->next_cursor);
  query.cursor = page->next_cursor;
  page = store->list_cases(query);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 2U);
  EXPECT_FALSE(page->next_cursor);
}

TEST(SqliteStore, PagesThroughHistoryInSeqOrder) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  CaseRecord current = make_case("c1");
  create(*store, current);
  for (int i = 0; i < 6; ++i) {
    auto [after, entry] = next_version(current, "state" + std::to_string(i), "step", i);
    ASSERT_TRUE(store->update_case(after, current.version, entry, std::nullopt, {}));
    current = after;
  }

  std::vector<std::int64_t> seqs;
  std::optional<std::string> cursor;
  int pages = 0;
  for (;;) {
    auto page = store->history("c1", 4, cursor);
    ASSERT_TRUE(page) << page.error().message;
    ++pages;
    for (const auto& item : page->items) {
      seqs.push_back(item.seq);
      EXPECT_EQ(item.version, item.seq);
    }
    if (!page->next_cursor) {
      break;
    }
    cursor = page->next_cursor;
  }
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(pages, 2);
}

TEST(SqliteStore, RejectsMalformedCursor) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  create(*store, make_case("a"));
  create(*store, make_case("b"));
  CaseQuery query;
  query.limit = 1;
  auto page = store->list_cases(query);
  ASSERT_TRUE(page);
  ASSERT_TRUE(page->next_cursor);
  const std::string good = *page->next_cursor;

  for (const std::string& bad :
       {std::string(), std::string("garbage"), good + "0", good.substr(0, good.size() - 1),
        "h" + good.substr(1), std::string(good).replace(1, 1, "G"),
        std::string(good).replace(1, 1, "A"), std::string("cffffffffffffffff")}) {
    query.cursor = bad;
    auto listed = store->list_cases(query);
    ASSERT_FALSE(listed) << "accepted cursor '" << bad << "'";
    EXPECT_EQ(listed.error().code, Errc::invalid_argument);
    EXPECT_EQ(listed.error().message, "invalid cursor");
  }

  // A case cursor is not a history cursor.
  auto history = store->history("a", 10, good);
  ASSERT_FALSE(history);
  EXPECT_EQ(history.error().code, Errc::invalid_argument);
}

TEST(SqliteStore, KeepsEverythingAcrossReopen) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  const CaseRecord record = make_case("c1");
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    create(*store, record);
    auto [after, entry] = next_version(record, "assessment", "score", 4);
    ASSERT_TRUE(store->update_case(after, 1, entry, make_idempotency("c1", "key-1"), {}));
    ASSERT_TRUE(store->put_workflow({"aftercare", 1, std::string(64, 'b'), "version: 1\n", kT0}));
    TokenRecord token{"0123456789ab", std::string(64, 'c'), "caseworker.one", {"caseworker"}, kT0,
                      std::nullopt};
    ASSERT_TRUE(store->create_token(token));
  }
  auto store = open_store(path);
  ASSERT_TRUE(store);
  auto got = store->get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->data.at("score"), 4);
  EXPECT_EQ(store->history("c1", 10, std::nullopt)->items.size(), 2U);
  EXPECT_TRUE(*store->find_idempotency("c1", "caseworker.two", "key-1"));
  auto workflows = store->workflows();
  ASSERT_TRUE(workflows);
  ASSERT_EQ(workflows->size(), 1U);
  EXPECT_EQ((*workflows)[0].source, "version: 1\n");
  auto token = store->find_token(std::string(64, 'c'));
  ASSERT_TRUE(token);
  ASSERT_TRUE(*token);
  EXPECT_EQ((*token)->user, "caseworker.one");
}

TEST(SqliteStore, UsesWalModeForFiles) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  auto store = open_store(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(query_raw(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_raw(path, "PRAGMA user_version"), std::to_string(SqliteStore::kSchemaVersion));
}

TEST(SqliteStore, LosesNoUpdateWithTwoStoresWritingOneCase) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  auto first = open_store(path);
  auto second = open_store(path);
  ASSERT_TRUE(first && second);
  CaseRecord record = make_case("c1");
  record.data = {{"count", 0}};
  create(*first, record);

  constexpr int kThreadsPerStore = 2;
  constexpr int kIncrementsPerThread = 25;
  std::atomic<int> failures{0};
  std::atomic<int> conflicts{0};
  auto worker = [&](Store& store, int thread_number) {
    for (int i = 0; i < kIncrementsPerThread; ++i) {
      for (;;) {  // optimistic retry: read, change, write if nobody else wrote in between
        auto current = store.get_case("c1");
        if (!current) {
          ++failures;
          return;
        }
        CaseRecord after = *current;
        after.data["count"] = after.data.at("count").as_int64() + 1;
        after.version = current->version + 1;
        HistoryEntry entry;
        entry.at = kT0 + after.version;
        entry.actor = "worker." + std::to_string(thread_number);
        entry.event = "updated";
        entry.from = current->state;
        entry.to = current->state;
        entry.changed = {"count"};
        entry.payload = {{"count", after.data.at("count")}};
        auto updated = store.update_case(after, current->version, entry, std::nullopt, {});
        if (updated) {
          break;
        }
        if (updated.error().code != Errc::precondition_failed) {
          ADD_FAILURE() << updated.error().message;
          ++failures;
          return;
        }
        ++conflicts;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreadsPerStore; ++t) {
    threads.emplace_back(worker, std::ref(*first), t);
    threads.emplace_back(worker, std::ref(*second), kThreadsPerStore + t);
  }
  for (auto& thread : threads) {
    thread.join();
  }
  ASSERT_EQ(failures.load(), 0);

  constexpr int kTotal = 2 * kThreadsPerStore * kIncrementsPerThread;
  auto got = first->get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data.at("count").as_int64(), kTotal);
  EXPECT_EQ(got->version, kTotal + 1);

  std::vector<HistoryEntry> history;
  std::optional<std::string> cursor;
  for (;;) {
    auto page = second->history("c1", 500, cursor);
    ASSERT_TRUE(page);
    history.insert(history.end(), page->items.begin(), page->items.end());
    if (!page->next_cursor) {
      break;
    }
    cursor = page->next_cursor;
  }
  ASSERT_EQ(history.size(), static_cast<std::size_t>(kTotal + 1));
  for (std::size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(history[i].seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(history[i].version, static_cast<std::int64_t>(i + 1));
    if (i > 0) {
      EXPECT_EQ(history[i].payload.at("count").as_int64(), static_cast<std::int64_t>(i));
    }
  }
  RecordProperty("version_conflicts", conflicts.load());
}

// The figures GET /metrics reads: cases per workflow and state, and pending work of every kind,
// each counting only what is still pending, open or breached.
TEST(SqliteStore, GaugesCountCasesByStateAndPendingWork) {
  test::TempDir dir;
  const std::string path = (dir / "gauges.db").string();
  auto store = open_store(path);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->ping());
  auto empty = store->gauges();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->cases.empty());
  EXPECT_EQ(empty->outbox_pending + empty->incidents_open + empty->timers_pending +
                empty->clocks_breached,
            0);

  create(*store, make_case("a1", "aftercare", "intake"));
  create(*store, make_case("a2", "aftercare", "intake"));
  create(*store, make_case("a3", "aftercare", "in_care"));
  create(*store, make_case("e1", "education_support", "enrolment"));
  const std::string failure = exec_raw(path, R"sql(
    INSERT INTO outbox (case_id, workflow, workflow_version, step_ref, step_type, to_state,
                        idempotency_key, attempts, max_attempts, backoff_ms, next_at, status,
                        created_at)
    VALUES ('a1', 'aftercare', 1, 's', 'legal_aid.refer', 'intake', 'k1', 0, 3, 10, 0, 'pending', 0),
           ('a1', 'aftercare', 1, 's', 'legal_aid.refer', 'intake', 'k2', 1, 3, 10, 0, 'done', 0),
           ('a2', 'aftercare', 1, 's', 'legal_aid.refer', 'intake', 'k3', 0, 3, 10, 0, 'pending', 0);
    INSERT INTO incidents (id, case_id, step_type, message, attempts, status, created_at)
    VALUES ('i1', 'a1', 'medical.check', 'down', 3, 'open', 0),
           ('i2', 'a2', 'medical.check', 'down', 3, 'resolved', 0);
    INSERT INTO timers (case_id, kind, name, purpose, due_at, occurrence, anchor_at, status,
                        created_at)
    VALUES ('a1', 'after', 't', 'p', 1, 1, 0, 'pending', 0),
           ('a2', 'after', 't', 'p', 1, 1, 0, 'fired', 0),
           ('a3', 'after', 't', 'p', 1, 1, 0, 'pending', 0),
           ('e1', 'after', 't', 'p', 1, 1, 0, 'cancelled', 0);
    INSERT INTO clocks (case_id, name, workflow, started_at, base_due_at, excluded_ms, due_at,
                        breached_at, stopped_at, log_json)
    VALUES ('a1', 'c', 'aftercare', 0, 1, 0, 1, 2, NULL, '[]'),
           ('a2', 'c', 'aftercare', 0, 1, 0, 1, 2, 3, '[]'),
           ('a3', 'c', 'aftercare', 0, 9, 0, 9, NULL, NULL, '[]');
  )sql");
  ASSERT_EQ(failure, "");

  auto gauges = store->gauges();
  ASSERT_TRUE(gauges) << gauges.error().message;
  ASSERT_EQ(gauges->cases.size(), 3U);
  EXPECT_EQ(gauges->cases[0].workflow, "aftercare");
  EXPECT_EQ(gauges->cases[0].state, "in_care");
  EXPECT_EQ(gauges->cases[0].count, 1);
  EXPECT_EQ(gauges->cases[1].state, "intake");
  EXPECT_EQ(gauges->cases[1].count, 2);
  EXPECT_EQ(gauges->cases[2].workflow, "education_support");
  EXPECT_EQ(gauges->cases[2].count, 1);
  EXPECT_EQ(gauges->outbox_pending, 2);
  EXPECT_EQ(gauges->incidents_open, 1);
  EXPECT_EQ(gauges->timers_pending, 2);
  EXPECT_EQ(gauges->clocks_breached, 1);  // the stopped one no longer counts
}

TEST(SqliteStore, EventsTableRejectsUpdateAndDelete) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    create(*store, make_case("c1"));
  }
  EXPECT_NE(exec_raw(path, "UPDATE events SET actor = 'someone.else'").find("append-only"),
            std::string::npos);
  EXPECT_NE(exec_raw(path, "DELETE FROM events").find("append-only"), std::string::npos);
  EXPECT_EQ(query_raw(path, "SELECT actor FROM events WHERE case_id = 'c1'"), "caseworker.one");
  // Cases with history cannot be deleted either: the foreign key holds them.
  EXPECT_NE(exec_raw(path, "PRAGMA foreign_keys = ON; DELETE FROM cases"), "");
}

TEST(SqliteStore, PutWorkflowIgnoresIdenticalReplacesUnusedRefusesUsed) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const WorkflowSource v1{"aftercare", 1, std::string(64, '1'), "version: 1\n# one\n", kT0};
  ASSERT_TRUE(store->put_workflow(v1));

  WorkflowSource identical = v1;
  identical.loaded_at = kT0 + 5;
  ASSERT_TRUE(store->put_workflow(identical));
  auto workflows = store->workflows();
  ASSERT_TRUE(workflows);
  ASSERT_EQ(workflows->size(), 1U);
  EXPECT_EQ((*workflows)[0].loaded_at, kT0);  // untouched

  WorkflowSource changed = v1;
  changed.sha256 = std::string(64, '2');
  changed.source = "version: 1\n# two\n";
  changed.loaded_at = kT0 + 10;
  ASSERT_TRUE(store->put_workflow(changed));  // no case uses it yet
  workflows = store->workflows();
  ASSERT_TRUE(workflows);
  ASSERT_EQ(workflows->size(), 1U);
  EXPECT_EQ((*workflows)[0].sha256, changed.sha256);
  EXPECT_EQ((*workflows)[0].source, changed.source);

  for (const auto* id : {"c1", "c2", "c3"}) {
    create(*store, make_case(id));
  }
  WorkflowSource third = v1;
  third.sha256 = std::string(64, '3');
  auto refused = store->put_workflow(third);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_EQ(refused.error().message,
            "workflow 'aftercare' version 1 is already used by 3 cases and its file has changed; "
            "give the changed workflow a new version");
  EXPECT_EQ((*store->workflows())[0].sha256, changed.sha256);

  // Another version of the same workflow is a new row, listed in order.
  ASSERT_TRUE(store->put_workflow({"aftercare", 2, std::string(64, '4'), "version: 1\n", kT0}));
  ASSERT_TRUE(store->put_workflow({"adoption", 1, std::string(64, '5'), "version: 1\n", kT0}));
  workflows = store->workflows();
  ASSERT_TRUE(workflows);
  ASSERT_EQ(workflows->size(), 3U);
  EXPECT_EQ((*workflows)[0].name, "adoption");
  EXPECT_EQ((*workflows)[1].version, 1);
  EXPECT_EQ((*workflows)[2].version, 2);
}

TEST(SqliteStore, CreatesFindsRevokesAndListsTokens) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  const TokenRecord first{
      "aaaaaaaaaaaa", std::string(64, '1'), "caseworker.one", {"caseworker", "supervisor"}, kT0,
      std::nullopt};
  const TokenRecord second{"bbbbbbbbbbbb", std::string(64, '2'), "admin@ngo.example", {"admin"},
                           kT0 + 1,        std::nullopt};
  ASSERT_TRUE(store->create_token(first));
  ASSERT_TRUE(store->create_token(second));

  auto duplicate = store->create_token(first);
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, Errc::conflict);

  auto found = store->find_token(first.hash);
  ASSERT_TRUE(found);
  ASSERT_TRUE(*found);
  EXPECT_EQ((*found)->id, first.id);
  EXPECT_EQ((*found)->user, first.user);
  EXPECT_EQ((*found)->roles, first.roles);
  EXPECT_FALSE((*found)->revoked_at);
  EXPECT_FALSE(*store->find_token(std::string(64, '9')));

  ASSERT_TRUE(store->revoke_token(first.id, kT0 + 100));
  EXPECT_FALSE(*store->find_token(first.hash));
  ASSERT_TRUE(store->revoke_token(first.id, kT0 + 200));  // again: fine, time kept
  auto missing = store->revoke_token("cccccccccccc", kT0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);

  auto tokens = store->tokens();
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 2U);
  EXPECT_EQ((*tokens)[0].id, first.id);
  EXPECT_EQ((*tokens)[0].revoked_at, kT0 + 100);
  EXPECT_EQ((*tokens)[1].id, second.id);
  EXPECT_FALSE((*tokens)[1].revoked_at);
}

TEST(SqliteStore, KeepsWhatTriggeredAChangeAndStoresNoneForPeople) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  auto store = open_store(path);
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);
  auto [after, entry] = next_version(record, "escalated", "score", 1);
  entry.actor = "engine";
  entry.trigger = {{"timer", "intake/after/0"},
                   {"due_at", kT0 + 900},
                   {"late_ms", 100},
                   {"nested", {{"clock", "decision"}}}};
  ASSERT_TRUE(store->update_case(after, 1, entry, std::nullopt, {}));

  auto history = store->history("c1", 10, std::nullopt);
  ASSERT_TRUE(history) << history.error().message;
  ASSERT_EQ(history->items.size(), 2U);
  EXPECT_TRUE(history->items[0].trigger.empty());
  EXPECT_EQ(history->items[1].trigger, entry.trigger);
  // An empty trigger is stored as NULL, not "{}", like every entry written before version 3.
  EXPECT_EQ(query_raw(path, "SELECT COUNT(*) FROM events WHERE trigger_json IS NULL"), "1");
}

TEST(SqliteStore, MigratesAVersionTwoDatabaseWithCases) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  // The file as carepath with schema version 2 left it: its tables, one case and its history.
  ASSERT_EQ(exec_raw(path, std::string(kSchemaV1) + std::string(kSchemaV2) +
                               "PRAGMA user_version = 2;"
                               "INSERT INTO cases (id, code, workflow, workflow_version, state, "
                               "data_json, version, created_at, updated_at) VALUES ('c1', "
                               "'CP-c1', 'aftercare', 1, 'intake', '{\"age\":14}', 1, 1000, 1000);"
                               "INSERT INTO events (case_id, seq, at, actor, event, from_state, "
                               "to_state, version, changed_json, comment, payload_json) VALUES "
                               "('c1', 1, 1000, 'caseworker.one', 'opened', NULL, 'intake', 1, "
                               "'[\"age\"]', NULL, '{\"age\":14}');"
                               "INSERT INTO cases (id, code, workflow, workflow_version, state, "
                               "data_json, version, created_at, updated_at) VALUES ('c2', "
                               "'CP-c2', 'aftercare', 1, 'intake', "
                               "'{\"assigned_to\":\"team:night_shift\"}', 1, 1000, 1000);"),
            "");
  ASSERT_EQ(query_raw(path, "PRAGMA user_version"), "2");

  auto store = open_store(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(query_raw(path, "PRAGMA user_version"), std::to_string(SqliteStore::kSchemaVersion));
  auto history = store->history("c1", 10, std::nullopt);
  ASSERT_TRUE(history) << history.error().message;
  ASSERT_EQ(history->items.size(), 1U);
  EXPECT_EQ(history->items[0].actor, "caseworker.one");
  EXPECT_EQ(history->items[0].payload, (boost::json::object{{"age", 14}}));
  EXPECT_TRUE(history->items[0].trigger.empty());

  // The old case takes part in the new tables.
  auto before = store->get_case("c1");
  ASSERT_TRUE(before) << before.error().message;
  // Version 8 gave it a holder: not assigned, so whoever opened it.
  EXPECT_EQ(before->assignee, "caseworker.one");
  EXPECT_EQ(query_raw(path, "SELECT assignee FROM cases WHERE id = 'c2'"), "team:night_shift");
  EXPECT_TRUE(before->consents.empty());
  EXPECT_FALSE(before->erased_at);
  auto [after, entry] = next_version(*before, "review", "score", 2);
  entry.trigger = {{"timer", "intake/after/0"}};
  CaseEffects effects;
  TimerRecord timer;
  timer.case_id = "c1";
  timer.kind = "timer";
  timer.name = "review/after/0";
  timer.purpose = "fire";
  timer.due_at = 5000;
  effects.timers = {timer};
  ClockRecord clock;
  clock.case_id = "c1";
  clock.name = "decision";
  clock.workflow = "aftercare";
  clock.due_at = 9000;
  effects.clocks = {clock};
  NotificationRecord notification;
  notification.id = "n1";
  notification.case_id = "c1";
  notification.workflow = "aftercare";
  notification.role = "supervisor";
  notification.kind = "clock_breach";
  notification.subject = "decision";
  effects.notifications = {notification};
  auto updated = store->update_case(after, 1, entry, std::nullopt, effects);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(store->history("c1", 10, std::nullopt)->items[1].trigger, entry.trigger);
  EXPECT_EQ(store->timers("c1")->size(), 1U);
  EXPECT_EQ(store->clocks("c1")->size(), 1U);
  NotificationQuery inbox;
  inbox.roles = {"supervisor"};
  EXPECT_EQ(store->list_notifications(inbox)->items.size(), 1U);
}

TEST(SqliteStore, RefusesDatabaseWithNewerSchema) {
  test::TempDir dir;
  const std::string path = (dir / "carepath.db").string();
  ASSERT_TRUE(open_store(path));
  ASSERT_EQ(
      exec_raw(path, "PRAGMA user_version = " + std::to_string(SqliteStore::kSchemaVersion + 1)),
      "");
  auto store = SqliteStore::open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::storage);
  EXPECT_NE(store.error().message.find("newer"), std::string::npos) << store.error().message;
}

// A write the storage refuses or cannot make durable is a 503 storage-unavailable for its request
// (never a silent retry); a busy database is a plain unavailable; anything else stays storage.
TEST(SqliteStore, MapsDurabilityFailuresToStorageUnavailable) {
  for (const int rc : {SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_FSYNC, SQLITE_IOERR_WRITE,
                       SQLITE_READONLY, SQLITE_READONLY_DBMOVED, SQLITE_CANTOPEN}) {
    const Error e = sqlite_error(nullptr, rc, "commit");
    EXPECT_EQ(e.code, Errc::unavailable) << rc;
    EXPECT_EQ(e.type, kStorageUnavailable) << rc;
    EXPECT_NE(e.message.find("sqlite: commit: "), std::string::npos) << e.message;
  }
  const Error busy = sqlite_error(nullptr, SQLITE_BUSY, "commit");
  EXPECT_EQ(busy.code, Errc::unavailable);
  EXPECT_EQ(busy.type, "");
  for (const int rc : {SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_CONSTRAINT}) {
    const Error e = sqlite_error(nullptr, rc, "commit");
    EXPECT_EQ(e.code, Errc::storage) << rc;
    EXPECT_EQ(e.type, "") << rc;
  }
}

// A VFS over the default one whose files fail xSync while `fail` is set: an fsync error, which no
// file system can be asked for. Each file opened through it gets a copy of its methods with
// xSync replaced (the base file's own functions do not look at pMethods).
class FailingSyncVfs {
 public:
  FailingSyncVfs() {
    base_ = sqlite3_vfs_find(nullptr);
    vfs_ = *base_;
    vfs_.zName = "carepath-failing-sync";
    vfs_.pAppData = this;
    vfs_.xOpen = &FailingSyncVfs::open;
    sqlite3_vfs_register(&vfs_, 1);  // the default for the stores the test opens
  }
  ~FailingSyncVfs() {
    sqlite3_vfs_register(base_, 1);
    sqlite3_vfs_unregister(&vfs_);
  }
  FailingSyncVfs(const FailingSyncVfs&) = delete;
  FailingSyncVfs& operator=(const FailingSyncVfs&) = delete;

  static inline std::atomic<bool> fail{false};
  static inline std::atomic<int> failed{0};

 private:
  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                  int* out_flags) {
    auto* self = static_cast<FailingSyncVfs*>(vfs->pAppData);
    const int rc = self->base_->xOpen(self->base_, name, file, flags, out_flags);
    if (rc == SQLITE_OK && file->pMethods != nullptr) {
      std::lock_guard lock(self->mutex_);
      auto& methods = self->methods_[file->pMethods];
      if (methods == nullptr) {
        methods = std::make_unique<sqlite3_io_methods>(*file->pMethods);
        methods->xSync = &FailingSyncVfs::sync;
        self->syncs_[methods.get()] = file->pMethods->xSync;
      }
      file->pMethods = methods.get();
    }
    return rc;
  }

  static int sync(sqlite3_file* file, int flags) {
    if (fail.load()) {
      ++failed;
      return SQLITE_IOERR_FSYNC;
    }
    return instance_sync(file)(file, flags);
  }

  using SyncFn = int (*)(sqlite3_file*, int);
  static SyncFn instance_sync(sqlite3_file* file) {
    auto* self = static_cast<FailingSyncVfs*>(sqlite3_vfs_find("carepath-failing-sync")->pAppData);
    std::lock_guard lock(self->mutex_);
    return self->syncs_.at(file->pMethods);
  }

  sqlite3_vfs* base_ = nullptr;
  sqlite3_vfs vfs_{};
  std::mutex mutex_;
  // The base methods -> their copy, and each copy -> the base xSync.
  std::map<const sqlite3_io_methods*, std::unique_ptr<sqlite3_io_methods>> methods_;
  std::map<const sqlite3_io_methods*, SyncFn> syncs_;
};

// synchronous = FULL: the commit fsyncs the WAL. When that fails the change is refused as
// storage-unavailable (503 for its request), the store does not try again by itself, and the
// next write, once fsync works again, is made.
TEST(SqliteStore, AFailedFsyncFailsTheCommitAsStorageUnavailable) {
  FailingSyncVfs vfs;
  test::TempDir dir;
  auto store = open_store((dir / "carepath.db").string());
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);

  auto [after, entry] = next_version(record, "assessment", "score", 3);
  FailingSyncVfs::fail = true;
  auto updated = store->update_case(after, 1, entry, std::nullopt, {});
  FailingSyncVfs::fail = false;
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, Errc::unavailable);
  EXPECT_EQ(updated.error().type, kStorageUnavailable);
  EXPECT_EQ(FailingSyncVfs::failed.load(), 1);  // one fsync tried, none retried

  auto again = store->update_case(after, 1, entry, std::nullopt, {});
  ASSERT_TRUE(again) << again.error().message;
  auto got = store->get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, 2);
  auto history = store->history("c1", 50, std::nullopt);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->items.size(), 2U);
}

TEST(SqliteStore, ReportsMissingDirectory) {
  test::TempDir dir;
  const std::string path = (dir / "no-such-dir" / "carepath.db").string();
  auto store = SqliteStore::open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::invalid_argument);
  EXPECT_NE(store.error().message.find("does not exist"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "no-such-dir"));
}

TEST(SqliteStore, ReportsFileThatIsNotADatabase) {
  test::TempDir dir;
  const std::string path = (dir / "notes.txt").string();
  {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr);
    const std::string text(4096, 'x');
    std::fwrite(text.data(), 1, text.size(), file);
    std::fclose(file);
  }
  auto store = SqliteStore::open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::storage);
}

TEST(SqliteStoreMigrations, ListsOneVersionsCasesAndResumesUnfinishedRuns) {
  auto store = memory_store();
  ASSERT_TRUE(store);
  create(*store, make_case("a"));
  CaseRecord newer = make_case("b");
  newer.workflow_version = 2;
  create(*store, newer);
  create(*store, make_case("c"));
  CaseQuery query;
  query.workflow = "aftercare";
  query.workflow_version = 1;
  query.limit = 1;
  auto first = store->list_cases(query);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 1U);
  EXPECT_EQ(first->items[0].id, "a");
  query.cursor = first->next_cursor;
  auto second = store->list_cases(query);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->items.size(), 1U);
  EXPECT_EQ(second->items[0].id, "c");
  EXPECT_FALSE(second->next_cursor);
  CaseQuery without_workflow;
  without_workflow.workflow_version = 1;
  EXPECT_EQ(store->list_cases(without_workflow).error().code, Errc::invalid_argument);

  auto work = store->pending_work("a");
  ASSERT_TRUE(work);
  EXPECT_EQ(*work, 0);

  MigrationRun run;
  run.plan = "aftercare-1-to-2";
  run.workflow = "aftercare";
  run.from_version = 1;
  run.to_version = 2;
  run.actor = "priya.admin";
  run.started_at = kT0;
  auto started = store->start_migration(run);
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_FALSE(started->resumed);
  EXPECT_EQ(started->status, "running");
  // Killed before it finished: the next start takes the same run up.
  auto again = store->start_migration(run);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->id, started->id);
  again->status = "interrupted";
  again->moved = 40;
  again->finished_at = kT0 + 1000;
  ASSERT_TRUE(store->finish_migration(*again));
  auto third = store->start_migration(run);
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->resumed);
  EXPECT_EQ(third->moved, 40);
  third->status = "finished";
  third->finished_at = kT0 + 2000;
  ASSERT_TRUE(store->finish_migration(*third));
  // A finished run is not taken up: running the plan again is a new run.
  auto fresh = store->start_migration(run);
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->resumed);
  EXPECT_NE(fresh->id, started->id);
  EXPECT_EQ(fresh->moved, 0);
}

}  // namespace

// Reaches the group commit queue from tests, to build a known group.
class GroupCommitProbe {
 public:
  static Result<void> write(SqliteStore& store, const std::function<Result<void>()>& body) {
    return store.write_grouped(body);
  }
  static std::size_t queued(SqliteStore& store) {
    std::lock_guard lock(store.group_mutex_);
    return store.group_queue_.size();
  }
  // Within a body (the connection's mutex held by the group's leader).
  static Result<void> put(SqliteStore& store, const std::string& name) {
    auto insert = store.prepare("INSERT INTO settings (name, value) VALUES (?1, 'x')");
    if (!insert) {
      return insert.error();
    }
    insert->bind_text(1, name);
    return insert->run("put setting");
  }
  // The value a PRAGMA statement answers (its first row's first column).
  static Result<std::int64_t> pragma_value(Result<Statement> pragma) {
    if (!pragma) {
      return pragma.error();
    }
    auto row = pragma->step("read a pragma");
    if (!row) {
      return row.error();
    }
    return pragma->int64(0);
  }
  // PRAGMA cache_size as a read connection of `store` answers it.
  static Result<std::int64_t> read_cache_size(SqliteStore& store) {
    auto reading = store.reader();
    if (!reading) {
      return reading.error();
    }
    return pragma_value(reading->prepare("PRAGMA cache_size"));
  }
  // PRAGMA temp_store as the writer answers it.
  static Result<std::int64_t> writer_temp_store(SqliteStore& store) {
    std::lock_guard lock(store.mutex_);
    return pragma_value(store.prepare("PRAGMA temp_store"));
  }
  static std::uint64_t checkpoints(SqliteStore& store) {
    return store.checkpointer_ ? store.checkpointer_->runs() : 0;
  }
  static int log_frames(SqliteStore& store) {
    return store.checkpointer_ ? store.checkpointer_->log_frames() : 0;
  }
  static void set_max_log_frames(SqliteStore& store, int frames) {
    store.max_log_frames_.store(frames);
  }
  // A read connection holding a snapshot of the database as it is now.
  static Result<SqliteStore::Reader> snapshot(SqliteStore& store) {
    auto reading = store.reader();
    if (!reading) {
      return reading.error();
    }
    if (auto begun = reading->begin_snapshot(); !begun) {
      return begun.error();
    }
    auto count = reading->prepare("SELECT count(*) FROM settings");
    if (!count) {
      return count.error();
    }
    if (auto row = count->step("count settings"); !row) {
      return row.error();
    }
    return std::move(*reading);
  }
  // Waits until `count` writes are queued (the running leader's included).
  static void wait_queued(SqliteStore& store, std::size_t count) {
    for (int i = 0; i < 10'000 && queued(store) < count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
};

namespace {

// Writes that queue while a group commits form the next group: one transaction for all of them.
// One that fails is rolled back alone; the others of its group commit.
TEST(GroupCommit, WritesQueuedBehindALeaderCommitTogetherAndFailAlone) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  const auto groups_before = metrics::engine().db_commit_group.count({});
  const auto timed_before = metrics::engine().db_write_group.count({});
  constexpr std::size_t kWriters = 12;
  constexpr std::size_t kFailing = 5;

  std::thread leader([&] {
    auto written = GroupCommitProbe::write(*store, [&]() -> Result<void> {
      if (auto put = GroupCommitProbe::put(*store, "leader"); !put) {
        return put;
      }
      // Holds this group open until every other writer is queued behind it.
      GroupCommitProbe::wait_queued(*store, 1 + kWriters);
      return {};
    });
    EXPECT_TRUE(written) << written.error().message;
  });
  GroupCommitProbe::wait_queued(*store, 1);
  std::vector<Result<void>> results(kWriters);
  std::vector<std::thread> writers;
  for (std::size_t i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      results[i] = GroupCommitProbe::write(*store, [&, i]() -> Result<void> {
        if (auto put = GroupCommitProbe::put(*store, "writer" + std::to_string(i)); !put) {
          return put;
        }
        if (i == kFailing) {
          return make_error(Errc::conflict, "this write fails after writing");
        }
        return {};
      });
    });
  }
  leader.join();
  for (auto& writer : writers) {
    writer.join();
  }

  EXPECT_EQ(metrics::engine().db_commit_group.count({}) - groups_before, 2U)
      << "the leader's group, then one group of all the writers queued behind it";
  EXPECT_EQ(metrics::engine().db_write_group.count({}) - timed_before, 2U)
      << "each group's time under the write lock is observed once";
  for (std::size_t i = 0; i < kWriters; ++i) {
    auto value = store->setting("writer" + std::to_string(i));
    ASSERT_TRUE(value) << value.error().message;
    if (i == kFailing) {
      ASSERT_FALSE(results[i]);
      EXPECT_EQ(results[i].error().code, Errc::conflict);
      EXPECT_FALSE(value->has_value()) << "a failed write is rolled back";
    } else {
      EXPECT_TRUE(results[i]) << results[i].error().message;
      EXPECT_TRUE(value->has_value()) << "writer " << i;
    }
  }
}

// The writer wakes a group's first caller and each woken caller wakes two more: in a group of 40
// (five levels of that tree) every caller returns, each with its own write's result.
TEST(GroupCommit, EveryCallerOfALargeGroupIsWokenWithItsOwnResult) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  const auto groups_before = metrics::engine().db_commit_group.count({});
  constexpr std::size_t kWriters = 40;
  const std::set<std::size_t> failing = {0, 17, 39};  // the tree's root, a middle and a leaf

  std::thread leader([&] {
    auto written = GroupCommitProbe::write(*store, [&]() -> Result<void> {
      GroupCommitProbe::wait_queued(*store, 1 + kWriters);
      return {};
    });
    EXPECT_TRUE(written) << written.error().message;
  });
  GroupCommitProbe::wait_queued(*store, 1);
  std::vector<Result<void>> results(kWriters);
  std::atomic<std::size_t> returned{0};
  std::vector<std::thread> writers;
  for (std::size_t i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      // Queued one after another, so that the group's order is the writers' order.
      GroupCommitProbe::wait_queued(*store, 1 + i);
      results[i] = GroupCommitProbe::write(*store, [&, i]() -> Result<void> {
        if (auto put = GroupCommitProbe::put(*store, "writer" + std::to_string(i)); !put) {
          return put;
        }
        if (failing.contains(i)) {
          return make_error(Errc::conflict, "write " + std::to_string(i) + " fails");
        }
        return {};
      });
      ++returned;
    });
  }
  // A caller nobody wakes would wait for ever: fail clearly instead of hanging.
  for (int i = 0; i < 30'000 && returned.load() < kWriters; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (returned.load() < kWriters) {
    ADD_FAILURE() << kWriters - returned.load() << " of " << kWriters
                  << " callers were never woken";
    std::abort();  // their threads wait on the store: neither joinable nor safe to leave
  }
  leader.join();
  for (auto& writer : writers) {
    writer.join();
  }

  EXPECT_EQ(metrics::engine().db_commit_group.count({}) - groups_before, 2U)
      << "the leader's group, then one group of all the writers queued behind it";
  for (std::size_t i = 0; i < kWriters; ++i) {
    if (failing.contains(i)) {
      ASSERT_FALSE(results[i]) << "writer " << i;
      EXPECT_EQ(results[i].error().message, "write " + std::to_string(i) + " fails");
    } else {
      EXPECT_TRUE(results[i]) << "writer " << i << ": " << results[i].error().message;
    }
  }
}

// Two changes of one case in one group: the first commits, the second finds the version moved
// and fails with precondition_failed, as it would in separate transactions.
TEST(GroupCommit, TwoChangesOfOneCaseInOneGroupDoNotRace) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  const CaseRecord record = make_case("c1");
  create(*store, record);

  std::thread leader([&] {
    auto written = GroupCommitProbe::write(*store, [&]() -> Result<void> {
      GroupCommitProbe::wait_queued(*store, 3);
      return {};
    });
    EXPECT_TRUE(written);
  });
  GroupCommitProbe::wait_queued(*store, 1);
  std::vector<Result<void>> results(2);
  std::vector<std::thread> writers;
  for (int i = 0; i < 2; ++i) {
    writers.emplace_back([&, i] {
      auto [after, entry] = next_version(record, "assessment", "age", 15 + i);
      results[static_cast<std::size_t>(i)] = store->update_case(after, 1, entry, std::nullopt, {});
    });
  }
  leader.join();
  for (auto& writer : writers) {
    writer.join();
  }

  const int won = results[0] ? 0 : 1;
  ASSERT_TRUE(results[static_cast<std::size_t>(won)]);
  ASSERT_FALSE(results[static_cast<std::size_t>(1 - won)]);
  EXPECT_EQ(results[static_cast<std::size_t>(1 - won)].error().code, Errc::precondition_failed);
  auto got = store->get_case("c1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->data.at("age").as_int64(), 15 + won);
  auto history = store->history("c1", 10, std::nullopt);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->items.size(), 2U);
}

// Read connections keep a small page cache (the kernel's holds the pages anyway); the database in
// memory reads through its one connection, which keeps SQLite's default.
TEST(ReadConnections, KeepASmallPageCache) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  const auto size = GroupCommitProbe::read_cache_size(*store);
  ASSERT_TRUE(size) << size.error().message;
  EXPECT_EQ(*size, -SqliteStore::kReadCacheKiB);

  auto memory = memory_store();
  ASSERT_TRUE(memory);
  const auto memory_size = GroupCommitProbe::read_cache_size(*memory);
  ASSERT_TRUE(memory_size) << memory_size.error().message;
  EXPECT_NE(*memory_size, -SqliteStore::kReadCacheKiB);
}

// The write-ahead log is checkpointed by the store's own thread once it passes its threshold,
// not inside a commit; a database in memory has no log and no checkpointer.
TEST(Checkpoint, RunsInTheBackgroundOnceTheLogHasGrown) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  EXPECT_EQ(GroupCommitProbe::checkpoints(*store), 0U);
  // Each commit appends at least a page to the log: enough commits pass the threshold.
  for (int i = 0; i < Checkpointer::kFrames + 100; ++i) {
    ASSERT_TRUE(store->put_setting("s" + std::to_string(i % 50), std::to_string(i)));
  }
  for (int i = 0; i < 5000 && GroupCommitProbe::checkpoints(*store) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(GroupCommitProbe::checkpoints(*store), 1U);
  // The log is reused from its start after a checkpoint instead of growing without bound.
  const auto wal_pages = std::filesystem::file_size(dir / "cases.db-wal") / 4096;
  EXPECT_LT(wal_pages, 3U * Checkpointer::kFrames) << wal_pages;

  auto memory = memory_store();
  ASSERT_TRUE(memory);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(memory->put_setting("s", std::to_string(i)));
  }
  EXPECT_EQ(GroupCommitProbe::checkpoints(*memory), 0U);
}

// The writer keeps its temporary files in memory: a commit group's savepoint journal outgrows
// SQLite's in-memory 64 KiB with one transition, and was a file created and deleted in /var/tmp for
// every commit.
TEST(GroupCommit, KeepsItsSavepointJournalInMemory) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  const auto temp_store = GroupCommitProbe::writer_temp_store(*store);
  ASSERT_TRUE(temp_store) << temp_store.error().message;
  EXPECT_EQ(*temp_store, 2);  // MEMORY
}

// A checkpoint starts once the log holds kFrames pages that no checkpoint copied yet, not
// whenever it is longer than that: under sustained writes the log is never started again from
// its beginning, and its length alone started a checkpoint (two more fsyncs) after every commit.
TEST(Checkpoint, StartsOnlyForPagesNotYetCopied) {
  EXPECT_FALSE(Checkpointer::due(Checkpointer::kFrames - 1, 0));
  EXPECT_TRUE(Checkpointer::due(Checkpointer::kFrames, 0));
  EXPECT_FALSE(Checkpointer::due(5000, 4500));
  EXPECT_TRUE(Checkpointer::due(4500 + Checkpointer::kFrames, 4500));
  // A log shorter than what was copied was started again: all of it is new.
  EXPECT_FALSE(Checkpointer::due(10, 4500));
  EXPECT_TRUE(Checkpointer::due(Checkpointer::kFrames + 10, Checkpointer::kFrames + 4500));

  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  // Until no checkpoint has finished for half a second: one still running (slow under a loaded
  // machine or a sanitizer) would otherwise be counted after `before`.
  const auto settle = [&] {
    for (std::uint64_t seen = ~0ULL; seen != GroupCommitProbe::checkpoints(*store);) {
      seen = GroupCommitProbe::checkpoints(*store);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  };
  {
    // A reader on the first snapshot keeps the log from being started again while it grows.
    auto first = GroupCommitProbe::snapshot(*store);
    ASSERT_TRUE(first) << first.error().message;
    for (int i = 0; i < Checkpointer::kFrames + 100; ++i) {
      ASSERT_TRUE(store->put_setting("s" + std::to_string(i % 50), std::to_string(i)));
    }
  }
  // A reader on the log as it is now lets a checkpoint copy all of it, but still keeps the log
  // from being started again: it stays longer than kFrames.
  auto now = GroupCommitProbe::snapshot(*store);
  ASSERT_TRUE(now) << now.error().message;
  ASSERT_TRUE(store->put_setting("s0", "after"));
  settle();
  const std::uint64_t before = GroupCommitProbe::checkpoints(*store);
  ASSERT_GE(before, 1U);
  ASSERT_GE(GroupCommitProbe::log_frames(*store), Checkpointer::kFrames);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(store->put_setting("s" + std::to_string(i), "more"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(GroupCommitProbe::checkpoints(*store), before);
}

// Under sustained writes the background checkpoints copy the log but never catch up with it, so
// it would only grow; a commit that finds it past the limit restarts it. Simulated with a reader
// on an old snapshot, which keeps every checkpoint from catching up: while it reads, commits give
// up on the restart at once instead of waiting for it; once it is gone, the next commit restarts
// the log.
TEST(Checkpoint, ACommitRestartsALogThatGrewPastItsLimit) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  constexpr int kLimit = 300;
  GroupCommitProbe::set_max_log_frames(*store, kLimit);
  const auto put = [&](const std::string& name) {
    return GroupCommitProbe::write(*store, [&] { return GroupCommitProbe::put(*store, name); });
  };
  {
    auto reading = GroupCommitProbe::snapshot(*store);
    ASSERT_TRUE(reading) << reading.error().message;
    for (int i = 0; i < kLimit + 100; ++i) {
      ASSERT_TRUE(put("held-" + std::to_string(i)));
    }
    EXPECT_GE(GroupCommitProbe::log_frames(*store), kLimit);
  }
  ASSERT_TRUE(put("after-1"));  // restarts the log once committed
  ASSERT_TRUE(put("after-2"));  // written from the start of the log
  EXPECT_LT(GroupCommitProbe::log_frames(*store), 20);
  auto value = store->setting("after-2");
  ASSERT_TRUE(value && *value);
}

// Many threads changing their own cases at once: every change commits, each case's history is
// complete and in order.
TEST(GroupCommit, ConcurrentChangesOfManyCasesAllCommit) {
  test::TempDir dir;
  auto store = open_store((dir / "cases.db").string());
  ASSERT_TRUE(store);
  constexpr int kThreads = 8;
  constexpr int kChanges = 20;
  for (int t = 0; t < kThreads; ++t) {
    create(*store, make_case("c" + std::to_string(t)));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      CaseRecord current = make_case("c" + std::to_string(t));
      for (int n = 0; n < kChanges; ++n) {
        auto [after, entry] = next_version(current, "assessment", "age", n);
        if (!store->update_case(after, current.version, entry, std::nullopt, {})) {
          ++failures;
          return;
        }
        current = after;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    auto got = store->get_case("c" + std::to_string(t));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->version, 1 + kChanges);
    auto history = store->history(got->id, 500, std::nullopt);
    ASSERT_TRUE(history);
    ASSERT_EQ(history->items.size(), static_cast<std::size_t>(1 + kChanges));
    for (std::size_t i = 0; i < history->items.size(); ++i) {
      EXPECT_EQ(history->items[i].seq, static_cast<std::int64_t>(i + 1));
    }
  }
}

}  // namespace
}  // namespace carepath::store
