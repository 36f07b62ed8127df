// Running SQL on a database file directly, as someone holding the file (and not the key) could:
// for tests that tamper with what the engine wrote.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace carepath::test {

// Runs `statement` on the SQLite file at `db`; a failure fails the current test.
void run_sql(const std::filesystem::path& db, const std::string& statement);

// The rows of `query` on the SQLite file at `db`, opened read-only, each column as text (NULL as
// ""); a failure fails the current test and gives no rows.
std::vector<std::vector<std::string>> query_sql(const std::filesystem::path& db,
                                                const std::string& query);

}  // namespace carepath::test
