#include "app/backup_job.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "core/log.hpp"
#include "store/sqlite_backup.hpp"

namespace carepath::app {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::string_view kPrefix = "carepath-";
constexpr std::string_view kSuffix = ".db";

}  // namespace

std::string backup_file_name(Timestamp at, const TimeZone& zone) {
  const LocalTime local = zone.to_local(at);
  const std::int64_t seconds = local.ms_of_day / 1000;
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "carepath-%04d%02d%02dT%02d%02d%02d.db", local.year,
                local.month, local.day, static_cast<int>(seconds / 3600),
                static_cast<int>(seconds / 60 % 60), static_cast<int>(seconds % 60));
  return text.data();
}

bool is_backup_file_name(const std::string& name) {
  // carepath-YYYYMMDDTHHMMSS.db
  constexpr std::size_t kStamp = 15;
  if (name.size() != kPrefix.size() + kStamp + kSuffix.size() || !name.starts_with(kPrefix) ||
      !name.ends_with(kSuffix)) {
    return false;
  }
  for (std::size_t i = 0; i < kStamp; ++i) {
    const char c = name[kPrefix.size() + i];
    if (i == 8 ? c != 'T' : (c < '0' || c > '9')) {
      return false;
    }
  }
  return true;
}

Timestamp next_backup_at(Timestamp now, int at_minute, const TimeZone& zone) {
  const LocalTime local = zone.to_local(now);
  for (int day = 0; day < 3; ++day) {
    const Timestamp candidate =
        zone.to_utc(LocalTime{local.year, local.month, local.day + day, at_minute * kMinuteMs});
    if (candidate > now) {
      return candidate;
    }
  }
  return now + std::int64_t{24} * 60 * kMinuteMs;  // not reached: a day later is always after now
}

std::unique_ptr<BackupJob> make_backup_job(const Config& config, const Clock& clock,
                                           const TimeZone& zone) {
  BackupJobOptions options;
  options.db = config.db;
  options.directory = config.backup_dir;
  options.keep = config.backup_keep;
  options.at_minute = config.backup_at_minute;
  return std::make_unique<BackupJob>(std::move(options), clock, zone);
}

BackupJob::BackupJob(BackupJobOptions options, const Clock& clock, TimeZone zone)
    : options_(std::move(options)),
      clock_(clock),
      zone_(std::move(zone)),
      loop_(clock, options_.poll_ms,
            runtime::DueLoop::Hooks{[this] { return run_due(); },
                                    [this]() -> std::optional<Timestamp> {
                                      std::lock_guard lock(mutex_);
                                      return next_at_;
                                    }}) {
}

BackupJob::~BackupJob() {
  stop();
}

Result<void> BackupJob::check() const {
  std::error_code ec;
  if (!std::filesystem::is_directory(options_.directory, ec)) {
    return Error{Errc::invalid_argument, "backup_dir: '" + options_.directory +
                                             "' is not a directory (create it, or leave "
                                             "backup_dir empty for no scheduled backups)"};
  }
  if (options_.db == ":memory:") {
    return Error{Errc::invalid_argument,
                 "backup_dir: an in-memory database (db: \":memory:\") cannot be backed up"};
  }
  return {};
}

void BackupJob::start() {
  loop_.start(1, "cp-backup");
}

void BackupJob::stop() {
  loop_.stop();
}

void BackupJob::wake() {
  loop_.wake();
}

std::size_t BackupJob::run_due() {
  const Timestamp now = clock_.now();
  {
    std::lock_guard lock(mutex_);
    if (!next_at_) {
      next_at_ = next_backup_at(now, options_.at_minute, zone_);
      log(LogLevel::info, "daily backup scheduled",
          {{"at", format_timestamp(*next_at_)}, {"directory", options_.directory}});
      return 0;
    }
    if (now < *next_at_) {
      return 0;
    }
    // Set before the run: a run that fails is tried again tomorrow, not in a loop.
    next_at_ = next_backup_at(now, options_.at_minute, zone_);
  }
  auto file = run_once(now);
  if (!file) {
    log(LogLevel::error, "daily backup failed",
        {{"directory", options_.directory}, {"reason", file.error().message}});
  }
  return 1;
}

Result<std::vector<std::string>> BackupJob::backups() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(options_.directory, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_backup_file_name(name) && it->is_regular_file(ec)) {
      names.push_back(name);
    }
  }
  if (ec) {
    return Error{Errc::internal,
                 "cannot list backup directory '" + options_.directory + "': " + ec.message()};
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> BackupJob::run_once(Timestamp now) {
  const std::string path =
      (std::filesystem::path(options_.directory) / backup_file_name(now, zone_)).string();
  if (auto copied = store::backup_database(options_.db, path); !copied) {
    return copied.error();
  }
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  log(LogLevel::info, "daily backup written",
      {{"file", path}, {"bytes", ec ? std::string("?") : std::to_string(bytes)}});
  auto names = backups();
  if (!names) {
    return names.error();
  }
  const auto keep = static_cast<std::size_t>(std::max(options_.keep, 1));
  for (std::size_t i = 0; i + keep < names->size(); ++i) {
    const auto old = std::filesystem::path(options_.directory) / (*names)[i];
    if (std::filesystem::remove(old, ec); ec) {
      log(LogLevel::warning, "old backup not deleted",
          {{"file", old.string()}, {"reason", ec.message()}});
    } else {
      log(LogLevel::info, "old backup deleted", {{"file", old.string()}});
    }
  }
  return path;
}

}  // namespace carepath::app
