#include "core/timezone.hpp"

#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/time.hpp"

namespace carepath {
namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kMinute = 60'000;

Timestamp at(std::string_view rfc3339) {
  return parse_datetime(rfc3339).value();
}

std::int64_t day_of(std::string_view date) {
  return parse_date(date).value();
}

// The real zone from /usr/share/zoneinfo; the calling test skips when tzdata is not installed.
std::optional<TimeZone> system_zone(const std::string& name) {
  const std::filesystem::path path = "/usr/share/zoneinfo/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  auto zone = TimeZone::from_tzif(name, bytes);
  EXPECT_TRUE(zone) << name << ": " << zone.error().message;
  return zone ? std::optional<TimeZone>(*zone) : std::nullopt;
}

#define LOAD_OR_SKIP(var, name)                                                  \
  const std::optional<TimeZone> var = system_zone(name);                         \
  if (!(var)) {                                                                  \
    GTEST_SKIP() << "/usr/share/zoneinfo/" name " is not installed (no tzdata)"; \
  }

// --- A small TZif writer, for files real tzdata does not have and for broken ones ---------------

void put_be(std::string& out, std::uint64_t value, int size) {
  for (int i = size - 1; i >= 0; --i) {
    out += static_cast<char>((value >> (8 * i)) & 0xff);
  }
}

struct Counts {
  std::uint32_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
};

void put_header(std::string& out, char version, const Counts& c) {
  out += "TZif";
  out += version;
  out.append(15, '\0');
  for (const std::uint32_t n : {c.isut, c.isstd, c.leap, c.time, c.type, c.chars}) {
    put_be(out, n, 4);
  }
}

// A TZif file: at times[i] (UTC seconds) the offset becomes offsets[types[i]]; before the first,
// offsets[0]. Version '2'-'4' write a minimal 32-bit block, the 64-bit one and `footer`; version
// 0 writes only 32-bit data.
std::string tzif(const std::vector<std::int64_t>& times, const std::vector<std::uint8_t>& types,
                 const std::vector<std::int32_t>& offsets, std::string_view footer,
                 char version = '2') {
  const Counts counts{
      0, 0, 0, static_cast<std::uint32_t>(times.size()), static_cast<std::uint32_t>(offsets.size()),
      4};
  const int time_size = version == 0 ? 4 : 8;
  std::string out;
  if (version != 0) {
    put_header(out, version, Counts{0, 0, 0, 0, 1, 1});
    out.append(6, '\0');
    out += '\0';
  }
  put_header(out, version, counts);
  for (const std::int64_t t : times) {
    put_be(out, static_cast<std::uint64_t>(t), time_size);
  }
  for (const std::uint8_t type : types) {
    out += static_cast<char>(type);
  }
  for (const std::int32_t offset : offsets) {
    put_be(out, static_cast<std::uint32_t>(offset), 4);
    out += '\0';  // isdst
    out += '\0';  // designation index
  }
  out += std::string("ABC\0", 4);
  if (version != 0) {
    out += "\n" + std::string(footer) + "\n";
  }
  return out;
}

TimeZone parse_ok(const std::string& bytes, const std::string& name = "Test/Zone") {
  auto zone = TimeZone::from_tzif(name, bytes);
  EXPECT_TRUE(zone) << zone.error().message;
  return zone ? *zone : TimeZone::utc();
}

std::string parse_error(const std::string& bytes) {
  auto zone = TimeZone::from_tzif("Test/Zone", bytes);
  EXPECT_FALSE(zone);
  if (zone) {
    return "";
  }
  EXPECT_EQ(zone.error().code, Errc::invalid_argument);
  EXPECT_NE(zone.error().message.find("Test/Zone"), std::string::npos) << zone.error().message;
  return zone.error().message;
}

// --- Civil dates --------------------------------------------------------------------------------

TEST(TimeZoneCivil, DaysFromCivilMatchesParseDateAndCarriesOver) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(days_from_civil(2024, 2, 29), day_of("2024-02-29"));
  EXPECT_EQ(days_from_civil(1600, 3, 1), day_of("1600-03-01"));
  EXPECT_EQ(days_from_civil(2023, 13, 1), day_of("2024-01-01"));  // month 13
  EXPECT_EQ(days_from_civil(2024, 0, 1), day_of("2023-12-01"));   // month 0
  EXPECT_EQ(days_from_civil(2024, 3, 0), day_of("2024-02-29"));   // day 0
  EXPECT_EQ(days_from_civil(2023, 2, 31), day_of("2023-03-03"));
  EXPECT_EQ(days_from_civil(2024, -11, 1), day_of("2023-01-01"));
}

TEST(TimeZoneCivil, CivilFromDaysRoundTripsAndSaturatesFarOut) {
  for (std::int64_t day = -1'000'000; day <= 1'000'000; day += 997) {
    int y = 0;
    int m = 0;
    int d = 0;
    civil_from_days(day, y, m, d);
    ASSERT_GE(m, 1);
    ASSERT_LE(m, 12);
    ASSERT_GE(d, 1);
    ASSERT_LE(d, days_in_month(y, m));
    ASSERT_EQ(days_from_civil(y, m, d), day) << y << "-" << m << "-" << d;
  }
  int y = 0;
  int m = 0;
  int d = 0;
  civil_from_days(day_of("2024-02-29"), y, m, d);
  EXPECT_EQ((std::vector{y, m, d}), (std::vector{2024, 2, 29}));
  civil_from_days(INT64_MAX, y, m, d);
  EXPECT_EQ(y, INT_MAX);
  civil_from_days(INT64_MIN, y, m, d);
  EXPECT_EQ(y, INT_MIN);
  EXPECT_GT(days_from_civil(INT_MAX, INT_MAX, INT_MAX), 0);  // no overflow, no crash
}

TEST(TimeZoneCivil, DaysInMonth) {
  EXPECT_EQ(days_in_month(2023, 2), 28);
  EXPECT_EQ(days_in_month(2024, 2), 29);
  EXPECT_EQ(days_in_month(1900, 2), 28);
  EXPECT_EQ(days_in_month(2000, 2), 29);
  EXPECT_EQ(days_in_month(2024, 4), 30);
  EXPECT_EQ(days_in_month(2024, 12), 31);
  EXPECT_EQ(days_in_month(2024, 0), 0);
  EXPECT_EQ(days_in_month(2024, 13), 0);
}

// --- Fixed offsets ------------------------------------------------------------------------------

TEST(TimeZoneFixed, ParsesOffsetsAndUtc) {
  const auto ist = TimeZone::fixed("+05:30");
  ASSERT_TRUE(ist);
  EXPECT_EQ(ist->name(), "+05:30");
  EXPECT_EQ(ist->offset_seconds(0), 19800);
  EXPECT_EQ(TimeZone::fixed("-03:00")->offset_seconds(at("2024-06-01T00:00:00Z")), -10800);
  EXPECT_EQ(TimeZone::fixed("+00:00")->offset_seconds(0), 0);
  EXPECT_EQ(TimeZone::fixed("+23:59")->offset_seconds(0), 23 * 3600 + 59 * 60);
  EXPECT_EQ(TimeZone::fixed("UTC")->name(), "UTC");
  EXPECT_EQ(TimeZone::fixed("Z")->name(), "UTC");
  EXPECT_EQ(TimeZone::utc().offset_seconds(at("2024-06-01T00:00:00Z")), 0);
}

TEST(TimeZoneFixed, RejectsAnythingElse) {
  for (const char* bad : {"", "+5:30", "05:30", "+05:60", "+24:00", "+0530", "+05:30 ", " +05:30",
                          "utc", "z", "GMT", "+05", "--05:30", "+0a:30", "Asia/Kolkata"}) {
    EXPECT_FALSE(TimeZone::fixed(bad)) << bad;
  }
}

TEST(TimeZoneFixed, LocalAndUtcConvertBothWays) {
  const TimeZone ist = *TimeZone::fixed("+05:30");
  const Timestamp t = at("2023-02-28T20:30:00.250Z");
  EXPECT_EQ(ist.to_local(t), (LocalTime{2023, 3, 1, 2 * kHour + 250}));
  EXPECT_EQ(ist.to_utc(LocalTime{2023, 3, 1, 2 * kHour + 250}), t);
  EXPECT_EQ(ist.local_day(t), day_of("2023-03-01"));
  EXPECT_EQ(TimeZone::utc().local_day(t), day_of("2023-02-28"));
  EXPECT_EQ(ist.start_of_day(day_of("2023-03-01")), at("2023-02-28T18:30:00Z"));
  const TimeZone west = *TimeZone::fixed("-03:00");
  EXPECT_EQ(west.to_local(at("1970-01-01T01:00:00Z")), (LocalTime{1969, 12, 31, 22 * kHour}));
  EXPECT_EQ(west.local_day(-1), -1);
}

TEST(TimeZoneFixed, SaturatesAtTheEndsOfTime) {
  const TimeZone ist = *TimeZone::fixed("+05:30");
  EXPECT_EQ(ist.to_utc(LocalTime{INT_MAX, 12, 31, 0}), INT64_MAX);
  EXPECT_EQ(ist.to_utc(LocalTime{INT_MIN, 1, 1, 0}), INT64_MIN);
  EXPECT_EQ(ist.start_of_day(INT64_MAX), INT64_MAX);
  EXPECT_EQ(ist.start_of_day(INT64_MIN), INT64_MIN);
  const LocalTime far = ist.to_local(INT64_MAX);  // no overflow
  EXPECT_GT(far.year, 292'000'000);
  EXPECT_GE(ist.local_day(INT64_MIN), INT64_MIN / 86'400'000 - 1);
}

// --- Real zones from tzdata ---------------------------------------------------------------------

TEST(TimeZoneTzif, KolkataIsIstAndWasNotAlways) {
  LOAD_OR_SKIP(kolkata, "Asia/Kolkata");
  EXPECT_EQ(kolkata->name(), "Asia/Kolkata");
  EXPECT_EQ(kolkata->offset_seconds(at("2024-06-01T00:00:00Z")), 19800);
  EXPECT_EQ(kolkata->offset_seconds(at("2100-01-01T00:00:00Z")), 19800);  // footer "IST-5:30"
  EXPECT_EQ(kolkata->offset_seconds(at("1943-01-01T00:00:00Z")), 23400);  // war time, +06:30
  EXPECT_EQ(kolkata->offset_seconds(at("1880-01-01T00:00:00Z")), 19270);  // LMT, before the table
}

TEST(TimeZoneTzif, KathmanduIsFiveFortyFive) {
  LOAD_OR_SKIP(kathmandu, "Asia/Kathmandu");
  EXPECT_EQ(kathmandu->offset_seconds(at("2024-06-01T00:00:00Z")), 20700);
  EXPECT_EQ(kathmandu->offset_seconds(at("2090-06-01T00:00:00Z")), 20700);
  EXPECT_EQ(kathmandu->offset_seconds(at("1985-01-01T00:00:00Z")), 19800);
  EXPECT_EQ(kathmandu->to_local(at("2024-06-01T00:00:00Z")),
            (LocalTime{2024, 6, 1, 5 * kHour + 45 * kMinute}));
}

TEST(TimeZoneTzif, BerlinFollowsTheTableAndThenTheFooterRule) {
  LOAD_OR_SKIP(berlin, "Europe/Berlin");
  EXPECT_EQ(berlin->offset_seconds(at("2024-01-15T12:00:00Z")), 3600);
  EXPECT_EQ(berlin->offset_seconds(at("2024-07-15T12:00:00Z")), 7200);
  // The switch itself, to the millisecond.
  EXPECT_EQ(berlin->offset_seconds(at("2024-03-31T01:00:00Z") - 1), 3600);
  EXPECT_EQ(berlin->offset_seconds(at("2024-03-31T01:00:00Z")), 7200);
  EXPECT_EQ(berlin->offset_seconds(at("2024-10-27T01:00:00Z") - 1), 7200);
  EXPECT_EQ(berlin->offset_seconds(at("2024-10-27T01:00:00Z")), 3600);
  // 2080 is past the table (it ends in 2037): "CET-1CEST,M3.5.0,M10.5.0/3" answers.
  EXPECT_EQ(berlin->offset_seconds(at("2080-07-01T00:00:00Z")), 7200);
  EXPECT_EQ(berlin->offset_seconds(at("2080-01-01T00:00:00Z")), 3600);
  EXPECT_EQ(berlin->offset_seconds(at("2080-03-31T01:00:00Z") - 1), 3600);
  EXPECT_EQ(berlin->offset_seconds(at("2080-03-31T01:00:00Z")), 7200);
  EXPECT_EQ(berlin->offset_seconds(at("2080-10-27T01:00:00Z") - 1), 7200);
  EXPECT_EQ(berlin->offset_seconds(at("2080-10-27T01:00:00Z")), 3600);
}

TEST(TimeZoneTzif, BerlinGapsMoveForwardAndOverlapsTakeTheEarlierInstant) {
  LOAD_OR_SKIP(berlin, "Europe/Berlin");
  for (const int year : {2024, 2080}) {
    const int march = 31;  // the last Sundays, in 2024 and in 2080 alike
    const int october = 27;
    // 02:30 does not exist on the spring-forward day: read with CET it is 01:30Z, 03:30 CEST.
    const Timestamp gap = berlin->to_utc(LocalTime{year, 3, march, 2 * kHour + 30 * kMinute});
    EXPECT_EQ(gap, days_from_civil(year, 3, march) * 86'400'000 + 1 * kHour + 30 * kMinute);
    EXPECT_EQ(berlin->to_local(gap), (LocalTime{year, 3, march, 3 * kHour + 30 * kMinute}));
    // 02:30 happens twice on the fall-back day: first in CEST (00:30Z), then in CET (01:30Z).
    const Timestamp overlap =
        berlin->to_utc(LocalTime{year, 10, october, 2 * kHour + 30 * kMinute});
    EXPECT_EQ(overlap, days_from_civil(year, 10, october) * 86'400'000 + 30 * kMinute) << year;
    EXPECT_EQ(berlin->offset_seconds(overlap), 7200);
    // Either side of the changes, ordinary times map back exactly.
    EXPECT_EQ(berlin->to_utc(LocalTime{year, 3, march, 1 * kHour + 59 * kMinute}),
              days_from_civil(year, 3, march) * 86'400'000 + 59 * kMinute);
    EXPECT_EQ(berlin->to_utc(LocalTime{year, 3, march, 3 * kHour}),
              days_from_civil(year, 3, march) * 86'400'000 + 1 * kHour);
  }
}

TEST(TimeZoneTzif, NewYorkGapAndOverlap) {
  LOAD_OR_SKIP(new_york, "America/New_York");
  EXPECT_EQ(new_york->offset_seconds(at("2024-01-15T12:00:00Z")), -18000);
  EXPECT_EQ(new_york->offset_seconds(at("2024-07-15T12:00:00Z")), -14400);
  EXPECT_EQ(new_york->offset_seconds(at("2090-07-15T12:00:00Z")), -14400);
  EXPECT_EQ(new_york->offset_seconds(at("1960-07-01T00:00:00Z")), -14400);
  EXPECT_EQ(new_york->to_utc(LocalTime{2024, 3, 10, 2 * kHour + 30 * kMinute}),
            at("2024-03-10T07:30:00Z"));  // 03:30 EDT
  EXPECT_EQ(new_york->to_utc(LocalTime{2024, 11, 3, 1 * kHour + 30 * kMinute}),
            at("2024-11-03T05:30:00Z"));  // the EDT one
  EXPECT_EQ(new_york->to_utc(LocalTime{2024, 11, 3, 2 * kHour}), at("2024-11-03T07:00:00Z"));
}

TEST(TimeZoneTzif, LordHoweHasHalfHourDaylightSaving) {
  LOAD_OR_SKIP(lord_howe, "Australia/Lord_Howe");
  EXPECT_EQ(lord_howe->offset_seconds(at("2024-01-15T00:00:00Z")), 39600);  // +11 in summer
  EXPECT_EQ(lord_howe->offset_seconds(at("2024-07-15T00:00:00Z")), 37800);  // +10:30
  EXPECT_EQ(lord_howe->offset_seconds(at("2080-01-15T00:00:00Z")), 39600);  // southern footer
  EXPECT_EQ(lord_howe->offset_seconds(at("2080-07-15T00:00:00Z")), 37800);
  // 2024-10-06 02:00 -> 02:30: 02:15 is read with +10:30 and shows as 02:45.
  const Timestamp gap = lord_howe->to_utc(LocalTime{2024, 10, 6, 2 * kHour + 15 * kMinute});
  EXPECT_EQ(gap, at("2024-10-05T15:45:00Z"));
  EXPECT_EQ(lord_howe->to_local(gap), (LocalTime{2024, 10, 6, 2 * kHour + 45 * kMinute}));
  // 2024-04-07 02:00 -> 01:30: 01:45 happens twice; the +11 one is earlier.
  EXPECT_EQ(lord_howe->to_utc(LocalTime{2024, 4, 7, 1 * kHour + 45 * kMinute}),
            at("2024-04-06T14:45:00Z"));
}

TEST(TimeZoneTzif, FooterRulesWithUnusualTimes) {
  // "<-04>4<-03>,M9.1.6/24,M4.1.6/24": changes at 24:00 on Saturdays.
  LOAD_OR_SKIP(santiago, "America/Santiago");
  EXPECT_EQ(santiago->offset_seconds(at("2080-04-07T03:00:00Z") - 1), -10800);
  EXPECT_EQ(santiago->offset_seconds(at("2080-04-07T03:00:00Z")), -14400);
  EXPECT_EQ(santiago->offset_seconds(at("2080-09-08T04:00:00Z") - 1), -14400);
  EXPECT_EQ(santiago->offset_seconds(at("2080-09-08T04:00:00Z")), -10800);
  // Midnight of Sunday 8 September 2080 is skipped; the day starts at 01:00, the end of the gap.
  EXPECT_EQ(santiago->start_of_day(day_of("2080-09-08")), at("2080-09-08T04:00:00Z"));
}

TEST(TimeZoneTzif, FooterRulesWithNegativeTimes) {
  // "<-02>2<-01>,M3.5.0/-1,M10.5.0/0".
  LOAD_OR_SKIP(nuuk, "America/Nuuk");
  EXPECT_EQ(nuuk->offset_seconds(at("2080-03-31T01:00:00Z") - 1), -7200);
  EXPECT_EQ(nuuk->offset_seconds(at("2080-03-31T01:00:00Z")), -3600);
  EXPECT_EQ(nuuk->offset_seconds(at("2080-10-27T01:00:00Z") - 1), -3600);
  EXPECT_EQ(nuuk->offset_seconds(at("2080-10-27T01:00:00Z")), -7200);
}

TEST(TimeZoneTzif, LeapSecondZonesGiveTheSameInstants) {
  LOAD_OR_SKIP(right_berlin, "right/Europe/Berlin");
  // The file counts the 27 leap seconds; a Timestamp does not.
  EXPECT_EQ(right_berlin->offset_seconds(at("2024-03-31T01:00:00Z") - 1), 3600);
  EXPECT_EQ(right_berlin->offset_seconds(at("2024-03-31T01:00:00Z")), 7200);
}

TEST(TimeZoneTzif, LocalDaysAndTheirStartsAcrossDaylightSaving) {
  LOAD_OR_SKIP(berlin, "Europe/Berlin");
  EXPECT_EQ(berlin->local_day(at("2024-03-30T23:30:00Z")), day_of("2024-03-31"));
  EXPECT_EQ(berlin->local_day(at("2024-03-30T22:59:59.999Z")), day_of("2024-03-30"));
  EXPECT_EQ(berlin->start_of_day(day_of("2024-03-31")), at("2024-03-30T23:00:00Z"));
  EXPECT_EQ(berlin->start_of_day(day_of("2024-04-01")), at("2024-03-31T22:00:00Z"));
  EXPECT_EQ(berlin->start_of_day(day_of("2024-04-01")) - berlin->start_of_day(day_of("2024-03-31")),
            23 * kHour);
  EXPECT_EQ(berlin->start_of_day(day_of("2024-10-28")) - berlin->start_of_day(day_of("2024-10-27")),
            25 * kHour);
  for (std::int64_t day = day_of("2024-01-01"); day < day_of("2025-01-01"); ++day) {
    const Timestamp start = berlin->start_of_day(day);
    ASSERT_EQ(berlin->local_day(start), day);
    ASSERT_EQ(berlin->local_day(start - 1), day - 1);
  }
}

TEST(TimeZoneTzif, WallClockTimesRoundTrip) {
  LOAD_OR_SKIP(berlin, "Europe/Berlin");
  LOAD_OR_SKIP(lord_howe, "Australia/Lord_Howe");
  for (const TimeZone& zone : {*berlin, *lord_howe}) {
    for (const char* year_start : {"2024-01-01T00:00:00Z", "2080-01-01T00:00:00Z"}) {
      for (Timestamp t = at(year_start); t < at(year_start) + kHour * 24 * 366; t += 17 * kMinute) {
        const LocalTime local = zone.to_local(t);
        const Timestamp back = zone.to_utc(local);
        ASSERT_EQ(zone.to_local(back), local) << zone.name() << " " << format_timestamp(t);
        ASSERT_LE(back, t);  // the earlier instant of an overlap
        ASSERT_LE(t - back, kHour);
      }
    }
  }
}

// --- Made-up and malformed TZif -----------------------------------------------------------------

TEST(TimeZoneTzif, ReadsVersionOneFiles) {
  // 0 -> +1h at 2000-01-01T00:00Z, as 32-bit data with no footer.
  const TimeZone zone = parse_ok(tzif({946684800}, {1}, {0, 3600}, "", 0));
  EXPECT_EQ(zone.offset_seconds(at("1999-12-31T23:59:59Z")), 0);
  EXPECT_EQ(zone.offset_seconds(at("2000-01-01T00:00:00Z")), 3600);
  EXPECT_EQ(zone.offset_seconds(at("2200-01-01T00:00:00Z")), 3600);
}

TEST(TimeZoneTzif, AnEmptyFooterKeepsTheLastOffset) {
  const TimeZone zone = parse_ok(tzif({946684800}, {1}, {0, -7200}, ""));
  EXPECT_EQ(zone.offset_seconds(at("2200-01-01T00:00:00Z")), -7200);
}

TEST(TimeZoneTzif, FooterWithJulianDays) {
  // No table at all: the footer answers for every instant. J60 is 1 March in every year; day 59
  // (counting from 0 and counting 29 February) is 1 March only in leap years.
  const TimeZone j = parse_ok(tzif({}, {}, {0}, "AAA3BBB,J60/2,J300/2"));
  EXPECT_EQ(j.offset_seconds(at("2023-03-01T04:59:59Z")), -10800);
  EXPECT_EQ(j.offset_seconds(at("2023-03-01T05:00:00Z")), -7200);
  EXPECT_EQ(j.offset_seconds(at("2024-03-01T05:00:00Z")), -7200);
  EXPECT_EQ(j.offset_seconds(at("2024-02-29T12:00:00Z")), -10800);
  const TimeZone n = parse_ok(tzif({}, {}, {0}, "AAA3BBB,59,300"));
  EXPECT_EQ(n.offset_seconds(at("2024-02-29T04:59:59Z")), -10800);  // 59 is 29 Feb in 2024
  EXPECT_EQ(n.offset_seconds(at("2024-02-29T05:00:00Z")), -7200);
  EXPECT_EQ(n.offset_seconds(at("2023-03-01T05:00:00Z")), -7200);  // and 1 March in 2023
  EXPECT_EQ(n.offset_seconds(at("2023-02-28T12:00:00Z")), -10800);
  // Default DST offset (one hour ahead) and default dates (US rules) when none are given.
  const TimeZone us = parse_ok(tzif({}, {}, {0}, "EST5EDT"));
  EXPECT_EQ(us.offset_seconds(at("2030-07-01T00:00:00Z")), -14400);
  EXPECT_EQ(us.offset_seconds(at("2030-01-01T00:00:00Z")), -18000);
}

TEST(TimeZoneTzif, PermanentDaylightSavingRule) {
  // DST from 1 January 00:00 to 31 December 25:00: in effect the whole year.
  const TimeZone zone = parse_ok(tzif({}, {}, {0}, "EST5EDT4,0/0,J365/25"));
  for (const char* t : {"2030-01-01T05:00:00Z", "2030-07-01T00:00:00Z", "2030-12-31T23:00:00Z",
                        "2031-01-01T04:30:00Z"}) {
    EXPECT_EQ(zone.offset_seconds(at(t)), -14400) << t;
  }
}

TEST(TimeZoneTzif, StartOfDayInsideAGapIsTheEndOfTheGap) {
  // At 2024-01-01T23:30Z the clocks jump from 23:30 to 00:30: midnight is skipped.
  const TimeZone zone = parse_ok(tzif({1704151800}, {1}, {0, 3600}, "<+01>-1"));
  EXPECT_EQ(zone.start_of_day(day_of("2024-01-02")), at("2024-01-01T23:30:00Z"));
  EXPECT_EQ(zone.local_day(at("2024-01-01T23:30:00Z")), day_of("2024-01-02"));
  EXPECT_EQ(zone.local_day(at("2024-01-01T23:30:00Z") - 1), day_of("2024-01-01"));
  // to_utc moves a skipped time forward by the length of the gap: 00:00 reads as 01:00.
  EXPECT_EQ(zone.to_utc(LocalTime{2024, 1, 2, 0}), at("2024-01-02T00:00:00Z"));
}

TEST(TimeZoneTzif, ExtremeTransitionTimesAreHarmless) {
  const std::string footer = "CET-1CEST,M3.5.0,M10.5.0/3";
  for (const auto& times : {std::vector<std::int64_t>{INT64_MIN + 1, INT64_MAX},
                            std::vector<std::int64_t>{INT64_MIN, INT64_MIN + 1},
                            std::vector<std::int64_t>{INT64_MAX - 1, INT64_MAX}}) {
    const TimeZone zone = parse_ok(tzif(times, {1, 0}, {3600, 7200}, footer));
    for (const Timestamp t : {INT64_MIN, std::int64_t{0}, INT64_MAX}) {
      zone.to_utc(zone.to_local(t));
      zone.start_of_day(zone.local_day(t));
    }
  }
  // Past the table, the footer answers even when the table ends beyond the Timestamp range.
  const TimeZone early = parse_ok(tzif({INT64_MIN + 1}, {1}, {0, 3600}, footer));
  EXPECT_EQ(early.offset_seconds(at("2080-07-01T00:00:00Z")), 7200);
}

TEST(TimeZoneTzif, RejectsMalformedData) {
  const std::string good = tzif({946684800}, {1}, {0, 3600}, "<+01>-1");
  ASSERT_TRUE(TimeZone::from_tzif("x", good));

  EXPECT_NE(parse_error("").find("truncated"), std::string::npos);
  EXPECT_NE(parse_error("TZif").find("truncated"), std::string::npos);
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_NE(parse_error(bad_magic).find("magic"), std::string::npos);
  std::string bad_version = good;
  bad_version[4] = '5';
  EXPECT_NE(parse_error(bad_version).find("version"), std::string::npos);

  // Huge counts must be checked against the size of the buffer, not trusted.
  for (const Counts& counts :
       {Counts{0, 0, 0, 0xffffffff, 1, 1}, Counts{0, 0, 0xffffffff, 0, 1, 1},
        Counts{0, 0, 0, 0, 0xffffffff, 1}, Counts{0, 0, 0, 0, 1, 0xffffffff},
        Counts{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}) {
    for (const char version : {'\0', '2'}) {
      std::string huge;
      put_header(huge, version, counts);
      huge.append(64, '\0');
      EXPECT_FALSE(TimeZone::from_tzif("Test/Zone", huge));
    }
  }
  std::string no_types;
  put_header(no_types, '\0', Counts{0, 0, 0, 0, 0, 1});
  no_types += '\0';
  EXPECT_NE(parse_error(no_types).find("counts"), std::string::npos);

  EXPECT_NE(parse_error(tzif({946684800}, {2}, {0, 3600}, "")).find("type"), std::string::npos);
  EXPECT_NE(parse_error(tzif({946684800, 946684800}, {1, 0}, {0, 3600}, "")).find("ascending"),
            std::string::npos);
  EXPECT_NE(parse_error(tzif({}, {}, {100000}, "")).find("local time type"), std::string::npos);
  EXPECT_NE(parse_error(tzif({}, {}, {INT32_MIN}, "")).find("local time type"), std::string::npos);

  // Footers.
  std::string no_footer = good.substr(0, good.size() - std::string("\n<+01>-1\n").size());
  EXPECT_NE(parse_error(no_footer).find("footer"), std::string::npos);
  EXPECT_NE(parse_error(good.substr(0, good.size() - 1)).find("footer"), std::string::npos);
  for (const char* footer :
       {"XYZ", "CET", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
        "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365", "CET-1CEST,366,0", "CET-25",
        "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1CEST,M3.5.0,M10.5.0junk", "<+01-1", "<>-1", "CE-1",
        "CET-1:60", "CET-99999999999999999999"}) {
    EXPECT_NE(parse_error(tzif({}, {}, {3600}, footer)).find("footer"), std::string::npos)
        << footer;
  }
}

TEST(TimeZoneTzif, TruncatedRealFilesFailCleanly) {
  LOAD_OR_SKIP(berlin, "Europe/Berlin");
  std::ifstream in("/usr/share/zoneinfo/Europe/Berlin", std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    ASSERT_FALSE(TimeZone::from_tzif("Europe/Berlin", bytes.substr(0, size))) << size;
  }
}

TEST(TimeZoneTzif, CorruptedFilesNeverCrash) {
  LOAD_OR_SKIP(new_york, "America/New_York");
  std::ifstream in("/usr/share/zoneinfo/America/New_York", std::ios::binary);
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  std::mt19937 random(20240331);  // fixed seed: the same inputs every run
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string corrupt = bytes;
    const int flips = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < flips; ++i) {
      corrupt[random() % corrupt.size()] = static_cast<char>(random());
    }
    auto zone = TimeZone::from_tzif("America/New_York", corrupt);
    if (zone) {  // whatever it parsed must still answer
      ++parsed;
      const Timestamp t = at("2024-07-01T00:00:00Z");
      const std::int32_t offset = zone->offset_seconds(t);
      EXPECT_GE(offset, -89999);
      EXPECT_LE(offset, 93599);
      zone->to_utc(zone->to_local(t));
      zone->start_of_day(zone->local_day(at("2090-07-01T00:00:00Z")));
    }
  }
  EXPECT_GT(parsed, 0);  // some flips land in harmless places (names, the 32-bit block)
}

}  // namespace
}  // namespace carepath
