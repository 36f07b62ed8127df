// The daily backup: its settings, when it runs, what it names its files, and pruning.
#include "app/backup_job.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "app/config.hpp"
#include "core/timezone.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::app {
namespace {

namespace fs = std::filesystem;

constexpr Timestamp kStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kDay = 24 * 60 * kMinute;

TimeZone kolkata() {
  return TimeZone::with_offset("Asia/Kolkata", 19'800);  // +05:30
}

TEST(BackupConfig, DefaultsAreOffSevenCopiesAtHalfPastTwo) {
  const Config config;
  EXPECT_TRUE(config.backup_dir.empty());
  EXPECT_EQ(config.backup_keep, 7);
  EXPECT_EQ(config.backup_at_minute, 150);
}

TEST(BackupConfig, FlagsFileAndEnvironmentSetTheSchedule) {
  Config config;
  ASSERT_TRUE(apply_flags(
      config,
      {{"backup_dir", "/var/backups/carepath"}, {"backup_keep", "14"}, {"backup_at", "23:05"}}));
  EXPECT_EQ(config.backup_dir, "/var/backups/carepath");
  EXPECT_EQ(config.backup_keep, 14);
  EXPECT_EQ(config.backup_at_minute, 23 * 60 + 5);

  test::TempDir dir;
  // Unquoted, YAML 1.1 would read 02:45 as a number in base 60; the setting takes it as text.
  std::ofstream(dir / "c.yaml") << "backup_dir: /srv/b\nbackup_keep: 3\nbackup_at: 02:45\n";
  Config from_file;
  const auto loaded = apply_config_file(from_file, (dir / "c.yaml").string());
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(from_file.backup_dir, "/srv/b");
  EXPECT_EQ(from_file.backup_keep, 3);
  EXPECT_EQ(from_file.backup_at_minute, 165);

  ::setenv("CAREPATH_BACKUP_DIR", "/env/b", 1);
  ::setenv("CAREPATH_BACKUP_KEEP", "2", 1);
  ::setenv("CAREPATH_BACKUP_AT", "00:00", 1);
  Config from_env;
  const auto applied = apply_environment(from_env);
  ::unsetenv("CAREPATH_BACKUP_DIR");
  ::unsetenv("CAREPATH_BACKUP_KEEP");
  ::unsetenv("CAREPATH_BACKUP_AT");
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(from_env.backup_dir, "/env/b");
  EXPECT_EQ(from_env.backup_keep, 2);
  EXPECT_EQ(from_env.backup_at_minute, 0);
}

TEST(BackupConfig, BadValuesAreErrorsNamingTheSetting) {
  for (const auto& [key, value] : std::map<std::string, std::string>{{"backup_keep", "0"},
                                                                     {"backup_keep", "many"},
                                                                     {"backup_at", "24:00"},
                                                                     {"backup_at", "2:30"},
                                                                     {"backup_at", "02:60"},
                                                                     {"backup_at", "0230"}}) {
    Config config;
    const auto r = apply_flags(config, {{key, value}});
    ASSERT_FALSE(r) << key << "=" << value;
    EXPECT_NE(r.error().message.find(key), std::string::npos) << r.error().message;
  }
}

TEST(BackupConfig, TheShippedConfigFileStatesTheDefaults) {
  Config config;
  const auto loaded =
      apply_config_file(config, std::string(CP_SOURCE_DIR) + "/config/carepath.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Config defaults;
  EXPECT_EQ(config.backup_dir, defaults.backup_dir);
  EXPECT_EQ(config.backup_keep, defaults.backup_keep);
  EXPECT_EQ(config.backup_at_minute, defaults.backup_at_minute);
}

TEST(BackupSchedule, NextRunIsTheNextLocalTimeOfDay) {
  const TimeZone zone = kolkata();
  // 2026-01-01T00:00:00Z is 05:30 in Kolkata: 02:30 has passed, so tomorrow's 02:30 local,
  // which is 2026-01-01T21:00:00Z.
  EXPECT_EQ(next_backup_at(kStart, 150, zone), kStart + 21 * 60 * kMinute);
  // 06:00 local is still to come today: 00:30Z.
  EXPECT_EQ(next_backup_at(kStart, 360, zone), kStart + 30 * kMinute);
  // Exactly at the time: the next day's.
  const Timestamp at = kStart + 30 * kMinute;
  EXPECT_EQ(next_backup_at(at, 360, zone), at + kDay);
}

TEST(BackupSchedule, FileNamesAreLocalTimeAndOnlyThoseArePruned) {
  EXPECT_EQ(backup_file_name(kStart, kolkata()), "carepath-20260101T053000.db");
  EXPECT_EQ(backup_file_name(kStart + 1'999, TimeZone::utc()), "carepath-20260101T000001.db");
  EXPECT_TRUE(is_backup_file_name("carepath-20260101T053000.db"));
  for (const char* other : {"carepath.db", "carepath-20260101T053000.db.tmp",
                            "carepath-20260101-053000.db", "carepath-2026010xT053000.db",
                            "notes-20260101T053000.db", "carepath-20260101T0530000.db"}) {
    EXPECT_FALSE(is_backup_file_name(other)) << other;
  }
}

class BackupJobRun : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "backups");
    auto store = store::SqliteStore::open((dir_ / "carepath.db").string());
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->put_setting("marker", "one"));
  }

  BackupJobOptions options(int keep) const {
    BackupJobOptions o;
    o.db = (dir_ / "carepath.db").string();
    o.directory = (dir_ / "backups").string();
    o.keep = keep;
    o.at_minute = 150;
    return o;
  }

  test::TempDir dir_;
  ManualClock clock_{kStart};
};

TEST_F(BackupJobRun, RunsOnceADayAtItsTimeAndKeepsTheNewest) {
  // Another file in the directory is never touched.
  std::ofstream(dir_ / "backups" / "keep-me.db") << "not ours";
  BackupJob job(options(3), clock_, kolkata());
  EXPECT_EQ(job.run_due(), 0U);  // schedules the first run: 21:00Z today
  clock_.set(kStart + 20 * 60 * kMinute);
  EXPECT_EQ(job.run_due(), 0U);
  for (int day = 0; day < 5; ++day) {
    clock_.set(kStart + 21 * 60 * kMinute + day * kDay + 1000);
    EXPECT_EQ(job.run_due(), 1U) << day;
    EXPECT_EQ(job.run_due(), 0U) << day;  // once a day
  }
  auto names = job.backups();
  ASSERT_TRUE(names) << names.error().message;
  EXPECT_EQ(*names,
            (std::vector<std::string>{"carepath-20260104T023001.db", "carepath-20260105T023001.db",
                                      "carepath-20260106T023001.db"}));
  EXPECT_TRUE(fs::exists(dir_ / "backups" / "keep-me.db"));
  // A copy is a database that opens, with what the original held.
  auto copy = store::SqliteStore::open((dir_ / "backups" / names->back()).string());
  ASSERT_TRUE(copy) << copy.error().message;
  auto marker = (*copy)->setting("marker");
  ASSERT_TRUE(marker && *marker);
  EXPECT_EQ(**marker, "one");
}

TEST_F(BackupJobRun, AFailedRunIsTriedTomorrowAndKeepsWhatIsThere) {
  BackupJob job(options(2), clock_, kolkata());
  auto first = job.run_once(kStart);
  ASSERT_TRUE(first) << first.error().message;
  // The same second again: the file exists, so the backup refuses and deletes nothing.
  auto again = job.run_once(kStart);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);
  auto names = job.backups();
  ASSERT_TRUE(names);
  EXPECT_EQ(names->size(), 1U);

  // The database gone: the run fails (and is logged), and counts as run for today.
  fs::remove(dir_ / "carepath.db");
  fs::remove(dir_ / "carepath.db-wal");
  fs::remove(dir_ / "carepath.db-shm");
  EXPECT_EQ(job.run_due(), 0U);
  clock_.set(kStart + 21 * 60 * kMinute);
  EXPECT_EQ(job.run_due(), 1U);
  EXPECT_EQ(job.run_due(), 0U);
  names = job.backups();
  ASSERT_TRUE(names);
  EXPECT_EQ(names->size(), 1U);
}

TEST(BackupJobConfig, RefusesAMissingDirectoryAndAnInMemoryDatabase) {
  test::TempDir dir;
  const ManualClock clock(kStart);
  Config config;
  config.db = (dir / "carepath.db").string();
  config.backup_dir = (dir / "missing").string();
  config.backup_keep = 4;
  auto missing = make_backup_job(config, clock, TimeZone::utc())->check();
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("is not a directory"), std::string::npos);
  config.backup_dir = dir.path().string();
  config.db = ":memory:";
  EXPECT_FALSE(make_backup_job(config, clock, TimeZone::utc())->check());
  config.db = (dir / "carepath.db").string();
  EXPECT_TRUE(make_backup_job(config, clock, TimeZone::utc())->check());
}

}  // namespace
}  // namespace carepath::app
