// Whole-file operations on a SQLite database: checking a file, copying a running database with
// SQLite's online backup API, and putting a copy in place of a database (`carepath verify`,
// `carepath backup`, `carepath restore`, the daily backup job). The SQL and the sqlite3 calls stay
// here; the app layer decides what to check and in which order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/time.hpp"

namespace carepath::store {

// PRAGMA integrity_check of the database file at `path`, read only: the problems it reports
// (empty: the file is sound; at most 100 lines). Errc::not_found when there is no file;
// Errc::storage when it is not a SQLite database at all (garbage, a truncated header).
Result<std::vector<std::string>> integrity_check(const std::string& path);

// The schema version (PRAGMA user_version) of the database at `path`, read only.
Result<int> schema_version(const std::string& path);

// The latest instant the database recorded anything: the greatest of its history entries' and
// audit rows' times and its cases' updated_at; nullopt when it holds none. What "newer" means
// when a restore would replace one database by another.
Result<std::optional<Timestamp>> latest_activity(const std::string& path);

struct BackupProgress {
  std::int64_t pages_done = 0;
  std::int64_t pages_total = 0;
};

struct BackupOptions {
  int pages_per_step = 256;
  // Called after every step. May be empty.
  std::function<void(const BackupProgress&)> on_progress{};
  // After this many restarts (a write to the source makes the next step start again), the rest
  // is copied in one step, under one read transaction: in WAL mode writers go on meanwhile.
  int restarts_before_one_step = 3;
};

// Copies the database at `source` (which may be in use by running engines: the copy is one
// consistent snapshot) to `destination` through `destination`.tmp (created, or replaced when a
// stale one is there), fsynced and then renamed, so `destination` appears whole or not at all.
// The copy is a single file in rollback-journal mode. Errc::conflict when `destination` exists;
// Errc::not_found when `source` does not; Errc::storage or Errc::internal for the rest (the .tmp
// file is removed).
Result<void> backup_database(const std::string& source, const std::string& destination,
                             const BackupOptions& options = {});

// Copies the database file `source` (a backup: opened read-only) to `destination`, replacing a
// `destination` that exists, and fsyncs it: the .tmp step of a restore. No rename: the caller
// checks the copy and then calls replace_database.
Result<void> copy_database(const std::string& source, const std::string& destination,
                           const BackupOptions& options = {});

// Puts the database file `prepared` (a copy in the same directory, e.g. target.tmp) in place of
// `target` atomically: takes an exclusive lock on `target` without waiting (Errc::unavailable
// when a server or another command has it open: every open connection of an engine holds a
// shared lock in WAL mode), folds its write-ahead log into it, fsyncs `prepared`, renames it over
// `target`, fsyncs the directory, and removes `target`'s stale -wal and -shm files. `target` may
// be absent.
Result<void> replace_database(const std::string& prepared, const std::string& target);

// Errc::unavailable when another connection (a running server, another command) has the
// database at `path` open; succeeds when `path` does not exist.
Result<void> check_not_in_use(const std::string& path);

}  // namespace carepath::store
