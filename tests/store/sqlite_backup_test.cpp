// The whole-file primitives: the online backup while another connection writes (restarts, then
// one step), integrity and schema checks, the latest recorded instant, and the in-use check.
#include "store/sqlite_backup.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::store {
namespace {

namespace fs = std::filesystem;

constexpr Timestamp kT0 = 1'790'000'000'000;

CaseRecord make_case(int i) {
  CaseRecord r;
  r.id = "case-" + std::to_string(i);
  r.code = "CP-" + std::to_string(i);
  r.workflow = "hostel";
  r.workflow_version = 1;
  r.state = "intake";
  // Some bulk, so the database spans many pages.
  r.data = {{"notes", std::string(2000, 'x')}, {"n", i}};
  r.version = 1;
  r.created_at = kT0 + i;
  r.updated_at = kT0 + i;
  return r;
}

HistoryEntry opened(const CaseRecord& r) {
  HistoryEntry e;
  e.at = r.created_at;
  e.actor = "asha";
  e.event = "opened";
  e.to = r.state;
  e.version = 1;
  e.changed = {"notes", "n"};
  e.payload = r.data;
  return e;
}

std::int64_t count(const fs::path& db, const char* sql) {
  sqlite3* handle = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(handle, sql, -1, &statement, nullptr), SQLITE_OK);
  std::int64_t n = -1;
  if (statement != nullptr && sqlite3_step(statement) == SQLITE_ROW) {
    n = sqlite3_column_int64(statement, 0);
  }
  sqlite3_finalize(statement);
  sqlite3_close(handle);
  return n;
}

class SqliteBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::open(db().string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    for (int i = 0; i < 200; ++i) {
      const auto r = make_case(i);
      ASSERT_TRUE(store_->create_case(r, opened(r), {}));
    }
  }

  fs::path db() const { return dir_ / "live.db"; }

  test::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  int next_ = 1000;
};

TEST_F(SqliteBackupTest, ACopyTakenWhileAnotherConnectionWritesIsOneConsistentSnapshot) {
  BackupOptions options;
  options.pages_per_step = 16;
  int steps = 0;
  std::int64_t last_total = 0;
  // Between steps a case is written through the store's own connection: every write makes the
  // copy start again, until it is done in one step.
  options.on_progress = [&](const BackupProgress& p) {
    ++steps;
    last_total = p.pages_total;
    EXPECT_LE(p.pages_done, p.pages_total);
    if (steps < 50) {
      const auto r = make_case(next_++);
      ASSERT_TRUE(store_->create_case(r, opened(r), {}));
    }
  };
  const fs::path copy = dir_ / "copy.db";
  auto written = backup_database(db().string(), copy.string(), options);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_GT(last_total, 32);  // more than two steps' worth: the restarts were real
  EXPECT_FALSE(fs::exists(dir_ / "copy.db.tmp"));
  EXPECT_FALSE(fs::exists(dir_ / "copy.db-wal"));

  auto problems = integrity_check(copy.string());
  ASSERT_TRUE(problems) << problems.error().message;
  EXPECT_TRUE(problems->empty());
  // Every case has its opening entry: no case row without its history, nor the reverse.
  const auto cases = count(copy, "SELECT COUNT(*) FROM cases");
  EXPECT_GE(cases, 200);
  EXPECT_EQ(count(copy, "SELECT COUNT(*) FROM events"), cases);
  EXPECT_EQ(count(copy, "SELECT COUNT(*) FROM cases WHERE id NOT IN (SELECT case_id FROM events)"),
            0);
  auto version = schema_version(copy.string());
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, SqliteStore::kSchemaVersion);
}

TEST_F(SqliteBackupTest, BackupRefusesAnExistingFileAndAMissingDirectory) {
  const fs::path existing = dir_ / "existing.db";
  std::ofstream(existing) << "keep";
  auto refused = backup_database(db().string(), existing.string());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::conflict);
  auto nowhere = backup_database(db().string(), (dir_ / "no" / "copy.db").string());
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error().code, Errc::invalid_argument);
  auto no_source = backup_database((dir_ / "absent.db").string(), (dir_ / "c.db").string());
  ASSERT_FALSE(no_source);
  EXPECT_EQ(no_source.error().code, Errc::not_found);
  EXPECT_FALSE(fs::exists(dir_ / "c.db"));
  EXPECT_FALSE(fs::exists(dir_ / "c.db.tmp"));
}

TEST_F(SqliteBackupTest, LatestActivityIsTheLastHistoryAuditOrCaseTime) {
  auto latest = latest_activity(db().string());
  ASSERT_TRUE(latest) << latest.error().message;
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ(**latest, kT0 + 199);
  auto empty = SqliteStore::open((dir_ / "empty.db").string());
  ASSERT_TRUE(empty);
  auto none = latest_activity((dir_ / "empty.db").string());
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST_F(SqliteBackupTest, AnOpenConnectionMakesTheDatabaseInUse) {
  // The store of this process holds it; the check looks for other processes, so a child asks.
  const pid_t child = ::fork();
  if (child == 0) {
    const auto checked = check_not_in_use(db().string());
    ::_exit(!checked && checked.error().code == Errc::unavailable ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child saw no one using it";
  store_.reset();
  EXPECT_TRUE(check_not_in_use(db().string()));
  EXPECT_TRUE(check_not_in_use((dir_ / "absent.db").string()));
}

}  // namespace
}  // namespace carepath::store
