#include "tests/support/sql.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace carepath::test {

void run_sql(const std::filesystem::path& db, const std::string& statement) {
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(handle, statement.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
  sqlite3_free(message);
  sqlite3_close(handle);
}

std::vector<std::vector<std::string>> query_sql(const std::filesystem::path& db,
                                                const std::string& query) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* handle = nullptr;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db << ": " << sqlite3_errmsg(handle);
    sqlite3_close(handle);
    return rows;
  }
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(handle, query.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot prepare '" << query << "': " << sqlite3_errmsg(handle);
    sqlite3_close(handle);
    return rows;
  }
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      const unsigned char* text = sqlite3_column_text(statement, i);
      row.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    ADD_FAILURE() << "query '" << query << "' failed: " << sqlite3_errmsg(handle);
  }
  sqlite3_finalize(statement);
  sqlite3_close(handle);
  return rows;
}

}  // namespace carepath::test
