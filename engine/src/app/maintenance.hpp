// Checking, copying and restoring a database file: what `carepath verify`, `carepath backup`,
// `carepath restore` and the daily backup job do, over the store's whole-file primitives
// (store/sqlite_backup.hpp) and the history replay (runtime/verify.hpp).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "runtime/verify.hpp"
#include "store/sqlite_backup.hpp"

namespace carepath::app {

// PRAGMA integrity_check, then every case replayed from its history and compared with its row,
// reading the file without changing it. Errc::not_found: no file; Errc::storage: not a carepath
// database of this schema version, or integrity_check failed (the message quotes its first
// findings, which name tables and pages, never values). Mismatches are reported through
// `on_mismatch` and counted in the report.
Result<runtime::VerifyReport> verify_database(
    const std::string& path, const std::function<void(const runtime::CaseMismatch&)>& on_mismatch);

struct RestoreOptions {
  bool force = false;  // replace a database newer than the backup
  store::BackupOptions copy{};
};

struct RestoreReport {
  runtime::VerifyReport verified{};
  std::optional<Timestamp> backup_latest{};
  std::optional<Timestamp> target_latest{};
  bool replaced = false;  // there was a database at the target
};

// Restores the backup `file` to `target`: checks it (integrity_check, schema version no newer
// than this carepath's), copies it to `target`.tmp, upgrades and verifies the copy (every case
// replayed), refuses when `target` is newer than the backup (its latest recorded instant is
// later) unless options.force, refuses while `target` is in use, then swaps the copy in
// (store::replace_database). Whatever fails, `target` is left as it was and the .tmp removed.
// Errors: Errc::not_found (no backup file), Errc::storage (not a sound carepath database, or its
// history does not rebuild its cases), Errc::precondition_failed (target newer, no --force),
// Errc::unavailable (target in use), Errc::internal (file system).
Result<RestoreReport> restore_database(const std::string& file, const std::string& target,
                                       const RestoreOptions& options);

}  // namespace carepath::app
