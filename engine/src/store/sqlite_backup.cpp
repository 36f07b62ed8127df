#include "store/sqlite_backup.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/sqlite_internal.hpp"

namespace carepath::store {
namespace {

struct Close {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, Close>;

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

Result<Db> open_db(const std::string& path, int flags) {
  configure_sqlite_library();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return sqlite_error(raw, rc, "open database '" + path + "'");
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Result<Db> open_existing(const std::string& path, bool read_only, int busy_timeout_ms) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return make_error(Errc::not_found, "there is no database at '" + path + "'");
  }
  auto db = open_db(path, read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  if (db) {
    sqlite3_busy_timeout(db->get(), busy_timeout_ms);
  }
  return db;
}

// Runs `sql` and hands each row's first column (as text) to `row`.
Result<void> each_row(sqlite3* db, const std::string& sql, std::string_view what,
                      const std::function<void(sqlite3_stmt*)>& row) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK) {
    return sqlite_error(db, rc, what);
  }
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    if (row) {
      row(raw);
    }
  }
  if (rc != SQLITE_DONE) {
    return sqlite_error(db, rc, what);
  }
  return {};
}

Result<void> exec(sqlite3* db, const std::string& sql, std::string_view what) {
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return sqlite_error(db, rc, what);
  }
  return {};
}

// Whether another process has the database open in WAL mode. Every connection that uses the
// WAL index holds a shared lock on its "dead man switch" byte in the -shm file for as long as it
// is open (SQLite's os_unix.c: UNIX_SHM_DMS, byte 128), idle or not. F_GETLK only asks: it
// takes no lock, so closing the descriptor afterwards cannot drop a lock of ours.
bool wal_in_use(const std::string& path) {
  constexpr off_t kDeadManSwitch = 128;
  const int fd = ::open((path + "-shm").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;  // no WAL index: no connection uses it
  }
  struct flock query {};
  query.l_type = F_WRLCK;
  query.l_whence = SEEK_SET;
  query.l_start = kDeadManSwitch;
  query.l_len = 1;
  const bool held = ::fcntl(fd, F_GETLK, &query) == 0 && query.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

Error in_use(const std::string& path) {
  return make_error(Errc::unavailable, "the database at '" + path +
                                           "' is in use (a running carepath server, or another "
                                           "carepath command); stop it first");
}

// Takes the database's file lock for good (exclusive locking mode) without waiting: refused
// while any other connection reads or writes it. Together with wal_in_use, which sees the
// connections that are open but idle. nullopt when the file is not a database at all (a damaged
// header): nothing can be using it as one.
Result<std::optional<Db>> lock_exclusively(const std::string& path) {
  if (wal_in_use(path)) {
    return in_use(path);
  }
  auto db = open_existing(path, false, 0);
  if (!db) {
    return db.error();
  }
  const int rc = sqlite3_exec(db->get(), "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE",
                              nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    const int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      return in_use(path);
    }
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
      return std::optional<Db>();
    }
    return sqlite_error(db->get(), rc, "lock '" + path + "'");
  }
  sqlite3_exec(db->get(), "COMMIT", nullptr, nullptr, nullptr);
  // A connection that opened meanwhile would hold the dead man switch now.
  if (wal_in_use(path)) {
    return in_use(path);
  }
  return std::optional<Db>(std::move(*db));
}

Error system_error(std::string what) {
  return make_error(Errc::internal, what + ": " + std::generic_category().message(errno));
}

Result<void> fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return system_error("open '" + path + "' to sync it");
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) {
    return system_error("fsync '" + path + "'");
  }
  return {};
}

std::string directory_of(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

// Copies `source` into `destination` (replaced when it exists) with the backup API.
// `live`: the source may be a running database (WAL mode), opened read-write because a reader
// of a WAL database needs its shared memory file; otherwise it is a backup, opened read-only.
Result<void> copy_pages(const std::string& source, const std::string& destination,
                        const BackupOptions& options, bool live) {
  auto from = open_existing(source, !live, SqliteStore::kBusyTimeoutMs);
  if (!from) {
    return from.error();
  }
  remove_quietly(destination);
  remove_quietly(destination + "-journal");
  auto to = open_db(destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!to) {
    return to.error();
  }
  sqlite3_busy_timeout(to->get(), SqliteStore::kBusyTimeoutMs);
  sqlite3_backup* backup = sqlite3_backup_init(to->get(), "main", from->get(), "main");
  if (backup == nullptr) {
    return sqlite_error(to->get(), sqlite3_errcode(to->get()), "start backup of '" + source + "'");
  }
  const int pages = std::max(options.pages_per_step, 1);
  int step_pages = pages;
  int restarts = 0;
  int last_done = -1;
  int busy = 0;
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(backup, step_pages);
    const int remaining = sqlite3_backup_remaining(backup);
    const int total = sqlite3_backup_pagecount(backup);
    const int done = total - remaining;
    // A step that did not move the copy on means someone wrote to the source: it started again.
    if (rc == SQLITE_OK && last_done >= 0 && done <= last_done) {
      if (++restarts >= options.restarts_before_one_step) {
        step_pages = -1;
      }
    }
    last_done = done;
    if (options.on_progress) {
      options.on_progress(BackupProgress{done, total});
    }
    if (rc == SQLITE_DONE) {
      break;
    }
    if (rc == SQLITE_OK) {
      continue;
    }
    const int primary = rc & 0xff;
    // The destination is ours; the source may be held by a writer in rollback mode: wait a
    // while (kBusyTimeoutMs in all), then give up.
    if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) &&
        ++busy * 50 < SqliteStore::kBusyTimeoutMs) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    break;
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return sqlite_error(to->get(), rc, "copy '" + source + "'");
  }
  // One self-contained file: no write-ahead log beside it.
  if (auto mode = exec(to->get(), "PRAGMA journal_mode = DELETE", "set the copy's journal mode");
      !mode) {
    return mode.error();
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> integrity_check(const std::string& path) {
  auto db = open_existing(path, true, SqliteStore::kBusyTimeoutMs);
  if (!db) {
    return db.error();
  }
  std::vector<std::string> problems;
  auto checked = each_row(db->get(), "PRAGMA integrity_check(100)",
                          "check integrity of '" + path + "'", [&](sqlite3_stmt* row) {
                            const auto* text = sqlite3_column_text(row, 0);
                            std::string line = text != nullptr ? reinterpret_cast<const char*>(text)
                                                               : std::string();
                            if (line != "ok") {
                              problems.push_back(std::move(line));
                            }
                          });
  if (!checked) {
    return checked.error();
  }
  return problems;
}

Result<int> schema_version(const std::string& path) {
  auto db = open_existing(path, true, SqliteStore::kBusyTimeoutMs);
  if (!db) {
    return db.error();
  }
  int version = 0;
  auto read = each_row(db->get(), "PRAGMA user_version", "read schema version of '" + path + "'",
                       [&](sqlite3_stmt* row) { version = sqlite3_column_int(row, 0); });
  if (!read) {
    return read.error();
  }
  return version;
}

Result<std::optional<Timestamp>> latest_activity(const std::string& path) {
  auto db = open_existing(path, true, SqliteStore::kBusyTimeoutMs);
  if (!db) {
    return db.error();
  }
  std::vector<std::string> tables;
  auto listed =
      each_row(db->get(),
               "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN "
               "('events', 'audit', 'cases')",
               "list tables of '" + path + "'", [&](sqlite3_stmt* row) {
                 tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(row, 0)));
               });
  if (!listed) {
    return listed.error();
  }
  std::optional<Timestamp> latest;
  for (const auto& table : tables) {
    const std::string column = table == "cases" ? "updated_at" : "at";
    auto read = each_row(db->get(), "SELECT MAX(" + column + ") FROM " + table,
                         "read the latest time of '" + path + "'", [&](sqlite3_stmt* row) {
                           if (sqlite3_column_type(row, 0) != SQLITE_NULL) {
                             const Timestamp at = sqlite3_column_int64(row, 0);
                             latest = latest ? std::max(*latest, at) : at;
                           }
                         });
    if (!read) {
      return read.error();
    }
  }
  return latest;
}

Result<void> copy_database(const std::string& source, const std::string& destination,
                           const BackupOptions& options) {
  auto copied = copy_pages(source, destination, options, false);
  if (!copied) {
    remove_quietly(destination);
    remove_quietly(destination + "-journal");
    return copied.error();
  }
  return fsync_path(destination, false);
}

Result<void> backup_database(const std::string& source, const std::string& destination,
                             const BackupOptions& options) {
  if (exists(destination)) {
    return make_error(Errc::conflict, "'" + destination +
                                          "' exists; a backup never replaces a "
                                          "file: name a new one");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(directory_of(destination), ec)) {
    return make_error(Errc::invalid_argument,
                      "directory '" + directory_of(destination) + "' does not exist");
  }
  const std::string tmp = destination + ".tmp";
  auto copied = copy_pages(source, tmp, options, true);
  if (copied) {
    copied = fsync_path(tmp, false);
  }
  if (!copied) {
    remove_quietly(tmp);
    remove_quietly(tmp + "-journal");
    return copied.error();
  }
  // link() rather than rename(): it fails instead of replacing a file that appeared meanwhile.
  // A file system without hard links (some network shares) gets a rename after a last look.
  if (::link(tmp.c_str(), destination.c_str()) != 0) {
    const int error = errno;
    const bool no_links = error == EPERM || error == ENOTSUP || error == EOPNOTSUPP ||
                          error == ENOSYS || error == EMLINK;
    if (error == EEXIST || (no_links && exists(destination))) {
      remove_quietly(tmp);
      return make_error(Errc::conflict,
                        "'" + destination + "' exists; a backup never replaces a file");
    }
    if (!no_links || ::rename(tmp.c_str(), destination.c_str()) != 0) {
      const Error e = system_error("rename '" + tmp + "' to '" + destination + "'");
      remove_quietly(tmp);
      return e;
    }
    return fsync_path(directory_of(destination), true);
  }
  remove_quietly(tmp);
  return fsync_path(directory_of(destination), true);
}

Result<void> check_not_in_use(const std::string& path) {
  if (!exists(path)) {
    return {};
  }
  auto locked = lock_exclusively(path);
  if (!locked) {
    return locked.error();
  }
  return {};
}

Result<void> replace_database(const std::string& prepared, const std::string& target) {
  std::optional<Db> lock;
  if (exists(target)) {
    auto locked = lock_exclusively(target);
    if (!locked) {
      return locked.error();
    }
    lock = std::move(*locked);
    if (lock) {
      // Still holding the exclusive lock (locking_mode): fold the old log in, so that no -wal
      // of the old file is left to be read against the new one. Best effort: a damaged file
      // may refuse, and its -wal is removed below all the same.
      (void)exec(lock->get(), "PRAGMA journal_mode = DELETE", "close the old log");
    }
  }
  if (auto synced = fsync_path(prepared, false); !synced) {
    return synced.error();
  }
  if (::rename(prepared.c_str(), target.c_str()) != 0) {
    return system_error("rename '" + prepared + "' to '" + target + "'");
  }
  auto synced = fsync_path(directory_of(target), true);
  lock.reset();  // releases the old file's lock
  remove_quietly(target + "-wal");
  remove_quietly(target + "-shm");
  remove_quietly(prepared + "-journal");
  return synced;
}

}  // namespace carepath::store
