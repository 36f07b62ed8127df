#include "app/zoneinfo.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "core/time.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::app {
namespace {

constexpr const char* kZoneinfo = "/usr/share/zoneinfo";

Timestamp at(std::string_view rfc3339) {
  return parse_datetime(rfc3339).value();
}

void expect_unknown(const Result<TimeZone>& zone, const std::string& name) {
  ASSERT_FALSE(zone) << name;
  EXPECT_EQ(zone.error().code, Errc::invalid_argument);
  EXPECT_EQ(zone.error().message,
            "unknown time zone '" + name +
                "' (expected an IANA name like Asia/Kolkata or an offset like +05:30)");
}

TEST(Zoneinfo, FixedOffsetsNeedNoFiles) {
  const test::TempDir empty;
  const auto ist = load_time_zone("+05:30", empty.path());
  ASSERT_TRUE(ist);
  EXPECT_EQ(ist->name(), "+05:30");
  EXPECT_EQ(ist->offset_seconds(0), 19800);
  const auto utc = load_time_zone("UTC", empty.path());
  ASSERT_TRUE(utc);
  EXPECT_EQ(utc->name(), "UTC");
  EXPECT_EQ(utc->offset_seconds(0), 0);
  EXPECT_EQ(load_time_zone("-03:00", empty.path())->offset_seconds(0), -10800);
}

TEST(Zoneinfo, ReadsIanaZonesFromTheSystem) {
  if (!std::filesystem::exists(std::filesystem::path(kZoneinfo) / "Europe/Berlin") ||
      !std::filesystem::exists(std::filesystem::path(kZoneinfo) / "Asia/Kolkata")) {
    GTEST_SKIP() << kZoneinfo << " has no Europe/Berlin or Asia/Kolkata (no tzdata)";
  }
  const auto berlin = load_time_zone("Europe/Berlin");
  ASSERT_TRUE(berlin) << berlin.error().message;
  EXPECT_EQ(berlin->name(), "Europe/Berlin");
  EXPECT_EQ(berlin->offset_seconds(at("2024-07-01T00:00:00Z")), 7200);
  EXPECT_EQ(berlin->offset_seconds(at("2024-01-01T00:00:00Z")), 3600);
  const auto kolkata = load_time_zone("Asia/Kolkata");
  ASSERT_TRUE(kolkata) << kolkata.error().message;
  EXPECT_EQ(kolkata->name(), "Asia/Kolkata");
  // Read from the file, not the fallback: the file knows the war-time +06:30.
  EXPECT_EQ(kolkata->offset_seconds(at("1943-01-01T00:00:00Z")), 23400);
  EXPECT_EQ(kolkata->offset_seconds(at("2024-07-01T00:00:00Z")), 19800);
}

TEST(Zoneinfo, ReadsFromTheGivenDirectory) {
  const std::filesystem::path source = std::filesystem::path(kZoneinfo) / "America/New_York";
  if (!std::filesystem::exists(source)) {
    GTEST_SKIP() << source << " is not installed (no tzdata)";
  }
  const test::TempDir dir;
  std::filesystem::create_directories(dir / "Test");
  std::filesystem::copy_file(source, dir / "Test/Zone");
  const auto zone = load_time_zone("Test/Zone", dir.path());
  ASSERT_TRUE(zone) << zone.error().message;
  EXPECT_EQ(zone->name(), "Test/Zone");
  EXPECT_EQ(zone->offset_seconds(at("2024-07-01T00:00:00Z")), -14400);
}

TEST(Zoneinfo, KolkataAndUtcWorkWithoutTzdata) {
  const test::TempDir empty;
  for (const char* name : {"Asia/Kolkata", "Asia/Calcutta"}) {
    const auto zone = load_time_zone(name, empty.path());
    ASSERT_TRUE(zone) << name;
    EXPECT_EQ(zone->name(), name);
    EXPECT_EQ(zone->offset_seconds(at("2024-07-01T00:00:00Z")), 19800);
    EXPECT_EQ(zone->offset_seconds(at("2090-01-01T00:00:00Z")), 19800);
  }
  const auto etc_utc = load_time_zone("Etc/UTC", empty.path());
  ASSERT_TRUE(etc_utc);
  EXPECT_EQ(etc_utc->name(), "Etc/UTC");
  EXPECT_EQ(etc_utc->offset_seconds(at("2024-07-01T00:00:00Z")), 0);
  // Other zones need their file.
  expect_unknown(load_time_zone("Europe/Berlin", empty.path()), "Europe/Berlin");
}

TEST(Zoneinfo, RejectsBadNamesBeforeOpeningAnything) {
  const test::TempDir dir;
  std::filesystem::create_directories(dir / "Europe");
  for (const char* name :
       {"../etc/passwd", "/etc/passwd", "Nowhere/City", "", "Europe", "Europe/", "Asia//Kolkata",
        "Asia/./Kolkata", "zone.tab", "Asia/Kolkata ", "asia kolkata", "Asia\\Kolkata", "~"}) {
    expect_unknown(load_time_zone(name, dir.path()), name);
  }
  expect_unknown(load_time_zone(std::string(300, 'A'), dir.path()), std::string(300, 'A'));
  expect_unknown(load_time_zone(std::string_view("Asia/Kolkata\0x", 14), dir.path()),
                 std::string("Asia/Kolkata\0x", 14));
  // The same names against the real directory, where ../etc/passwd would exist.
  expect_unknown(load_time_zone("../../../etc/passwd"), "../../../etc/passwd");
  expect_unknown(load_time_zone("/etc/passwd"), "/etc/passwd");
}

TEST(Zoneinfo, AFileThatIsNotTzifIsAnError) {
  const test::TempDir dir;
  std::filesystem::create_directories(dir / "Bad");
  std::ofstream(dir / "Bad/Zone") << "not a zone file";
  const auto zone = load_time_zone("Bad/Zone", dir.path());
  ASSERT_FALSE(zone);
  EXPECT_EQ(zone.error().code, Errc::invalid_argument);
  EXPECT_NE(zone.error().message.find("'Bad/Zone'"), std::string::npos) << zone.error().message;
  // A broken Asia/Kolkata is reported, not silently replaced by the fallback.
  std::filesystem::create_directories(dir / "Asia");
  std::ofstream(dir / "Asia/Kolkata") << "TZif";
  EXPECT_FALSE(load_time_zone("Asia/Kolkata", dir.path()));
}

}  // namespace
}  // namespace carepath::app
