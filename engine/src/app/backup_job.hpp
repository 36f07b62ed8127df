// The daily backup (config `backup_dir`, `backup_keep`, `backup_at`): once a day at a local time
// of day in the organisation's time zone, the server copies its database into `backup_dir` as
// carepath-YYYYMMDDTHHMMSS.db (local time) through the online backup API, then deletes the
// oldest such files beyond `keep`. Scheduled like the retention job (runtime/retention_job.hpp):
// a thread of its own that sleeps until the next run, the poll interval, or a wake-up.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "core/timezone.hpp"
#include "runtime/due_loop.hpp"

namespace carepath::app {

struct BackupJobOptions {
  std::string db{};         // the database to copy
  std::string directory{};  // where copies go; must exist
  int keep = 7;             // copies kept, the newest
  int at_minute = 150;      // minutes after local midnight (02:30)
  std::int64_t poll_ms = 60'000;
};

// The file name of a backup taken at `at`: carepath-YYYYMMDDTHHMMSS.db in `zone`'s local time.
std::string backup_file_name(Timestamp at, const TimeZone& zone);

// Whether `name` is a file name backup_file_name makes (the only files pruning may delete).
bool is_backup_file_name(const std::string& name);

// The first instant after `now` (strictly) whose local time of day in `zone` is `at_minute`.
Timestamp next_backup_at(Timestamp now, int at_minute, const TimeZone& zone);

// Thread-safety: start(), stop() and wake() may be called from any thread.
class BackupJob {
 public:
  BackupJob(BackupJobOptions options, const Clock& clock, TimeZone zone);
  ~BackupJob();
  BackupJob(const BackupJob&) = delete;
  BackupJob& operator=(const BackupJob&) = delete;
  BackupJob(BackupJob&&) = delete;
  BackupJob& operator=(BackupJob&&) = delete;

  // Errc::invalid_argument when the directory does not exist or the database is ":memory:"
  // (nothing to copy): what `serve` checks before it starts.
  Result<void> check() const;

  void start();
  void stop();
  void wake();

  // Takes the backup when it is due (the first call only schedules the first run); returns 1
  // when it ran, whether or not it succeeded. Failures are logged, never thrown.
  std::size_t run_due();

  // Takes one backup named for `now` and prunes; returns the new file's path.
  Result<std::string> run_once(Timestamp now);

  // The backups in the directory, oldest first (by name).
  Result<std::vector<std::string>> backups() const;

 private:
  BackupJobOptions options_;
  const Clock& clock_;
  TimeZone zone_;
  std::mutex mutex_;
  std::optional<Timestamp> next_at_;  // GUARDED_BY(mutex_): nullopt until the first call
  runtime::DueLoop loop_;             // last: its thread uses the members above
};

// The job `config` asks for (backup_dir, backup_keep, backup_at, db); see BackupJob::check.
std::unique_ptr<BackupJob> make_backup_job(const Config& config, const Clock& clock,
                                           const TimeZone& zone);

}  // namespace carepath::app
