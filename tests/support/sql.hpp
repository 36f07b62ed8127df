// Running SQL on a database file directly, as someone holding the file (and not the key) could:
// for tests that tamper with what the engine wrote.
#pragma once

#include <filesystem>
#include <string>

namespace carepath::test {

// Runs `statement` on the SQLite file at `db`; a failure fails the current test.
void run_sql(const std::filesystem::path& db, const std::string& statement);

}  // namespace carepath::test
