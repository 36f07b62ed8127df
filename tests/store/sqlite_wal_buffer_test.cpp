// The VFS that gathers a commit's writes to the log (store/sqlite_wal_buffer.hpp): whatever a
// commit wrote is in the log file when the commit returns, for a copy of the files as for another
// connection; large transactions, rollbacks and restarts of the log keep the database whole.
#include "store/sqlite_wal_buffer.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "tests/support/temp_dir.hpp"

namespace carepath::store {
namespace {

// A connection opened through `vfs` (nullptr: the default), closed at the end of the scope.
class Connection {
 public:
  Connection(const std::filesystem::path& path, const char* vfs) {
    sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
  }
  ~Connection() { sqlite3_close(db_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) = delete;
  Connection& operator=(Connection&&) = delete;

  int exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    std::string value = "(error)";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      const auto* bytes = sqlite3_column_text(statement, 0);
      value = bytes == nullptr ? "" : reinterpret_cast<const char*>(bytes);
    }
    sqlite3_finalize(statement);
    return value;
  }
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// The database as a crash would leave it now: its file and its log, copied while the writer
// keeps them open, opened through the default VFS.
std::string count_in_copy(const test::TempDir& dir, const std::string& name) {
  const auto copy = dir / ("copy-" + name);
  std::filesystem::remove(copy);
  std::filesystem::remove(copy.string() + "-wal");
  std::filesystem::copy_file(dir / "log.db", copy);
  std::filesystem::copy_file((dir / "log.db").string() + "-wal", copy.string() + "-wal");
  Connection reading(copy, nullptr);
  const std::string check = reading.text("PRAGMA integrity_check");
  if (check != "ok") {
    return "integrity: " + check;
  }
  return reading.text("SELECT count(*) FROM t");
}

TEST(WalBuffer, EveryCommitIsInTheLogWhenItReturns) {
  const char* vfs = wal_buffer_vfs();
  ASSERT_NE(vfs, nullptr);
  test::TempDir dir;
  Connection writer(dir / "log.db", vfs);
  ASSERT_EQ(writer.exec("PRAGMA journal_mode = WAL"), SQLITE_OK);
  ASSERT_EQ(writer.exec("PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
                        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);"
                        "CREATE INDEX t_v ON t (v)"),
            SQLITE_OK);
  Connection reader(dir / "log.db", nullptr);

  int rows = 0;
  for (int i = 0; i < 20; ++i) {  // small commits of one or two pages each
    ASSERT_EQ(writer.exec("INSERT INTO t (v) VALUES ('small " + std::to_string(i) + "')"),
              SQLITE_OK);
    ++rows;
    ASSERT_EQ(count_in_copy(dir, "small" + std::to_string(i)), std::to_string(rows));
    ASSERT_EQ(reader.text("SELECT count(*) FROM t"), std::to_string(rows));
  }
  // One commit of about 2 MB: many more frames than one gathered write holds.
  ASSERT_EQ(writer.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(writer.exec("INSERT INTO t (v) VALUES ('" + std::to_string(i) +
                          std::string(4000, 'x') + "')"),
              SQLITE_OK);
  }
  ASSERT_EQ(writer.exec("COMMIT"), SQLITE_OK);
  rows += 500;
  EXPECT_EQ(count_in_copy(dir, "large"), std::to_string(rows));
  EXPECT_EQ(reader.text("SELECT count(*) FROM t"), std::to_string(rows));

  // A transaction rolled back leaves nothing, and the next commit is whole.
  ASSERT_EQ(writer.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(writer.exec("INSERT INTO t (v) VALUES ('gone " + std::to_string(i) + "')"),
              SQLITE_OK);
  }
  ASSERT_EQ(writer.exec("ROLLBACK"), SQLITE_OK);
  ASSERT_EQ(writer.exec("INSERT INTO t (v) VALUES ('after the rollback')"), SQLITE_OK);
  ++rows;
  EXPECT_EQ(count_in_copy(dir, "rolled-back"), std::to_string(rows));

  // A checkpoint through the writer, then writes from the log's start again.
  ASSERT_EQ(writer.exec("PRAGMA wal_checkpoint(RESTART)"), SQLITE_OK);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(writer.exec("INSERT INTO t (v) VALUES ('restarted " + std::to_string(i) + "')"),
              SQLITE_OK);
    ++rows;
  }
  EXPECT_EQ(count_in_copy(dir, "restarted"), std::to_string(rows));
  EXPECT_EQ(reader.text("SELECT count(*) FROM t"), std::to_string(rows));
  EXPECT_EQ(writer.text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace carepath::store
