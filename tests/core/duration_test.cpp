#include "core/duration.hpp"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath {
namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;

Timestamp at(std::string_view rfc3339) {
  return parse_datetime(rfc3339).value();
}

Duration months(std::int64_t n) {
  return Duration{n, 0, 0};
}
Duration days(std::int64_t n) {
  return Duration{0, n, 0};
}
Duration exact(std::int64_t ms) {
  return Duration{0, 0, ms};
}

const TimeZone& ist() {
  static const TimeZone kIst = TimeZone::with_offset("Asia/Kolkata", 19800);
  return kIst;
}

std::optional<TimeZone> system_zone(const std::string& name) {
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  const std::string bytes(std::istreambuf_iterator<char>(in), {});
  auto zone = TimeZone::from_tzif(name, bytes);
  return zone ? std::optional<TimeZone>(*zone) : std::nullopt;
}

// --- Parsing ------------------------------------------------------------------------------------

TEST(DurationParse, AcceptsTheShortForms) {
  const std::vector<std::pair<const char*, Duration>> cases = {
      {"0s", {}},
      {"0mo", {}},
      {"500ms", exact(500)},
      {"10s", exact(10 * kSecond)},
      {"30m", exact(30 * kMinute)},
      {"24h", exact(24 * kHour)},
      {"15d", days(15)},
      {"2w", days(14)},
      {"4mo", months(4)},
      {"1y", months(12)},
      {"007d", days(7)},
      {"9223372036854775807ms", exact(INT64_MAX)},
  };
  for (const auto& [text, expected] : cases) {
    const auto parsed = parse_duration(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(*parsed, expected) << text;
  }
}

TEST(DurationParse, AcceptsIso8601) {
  const std::vector<std::pair<const char*, Duration>> cases = {
      {"P15D", days(15)},
      {"PT24H", exact(24 * kHour)},
      {"P1Y2M10DT2H30M", Duration{14, 10, 2 * kHour + 30 * kMinute}},
      {"P2W", days(14)},
      {"P1W2D", days(9)},
      {"P1Y", months(12)},
      {"P2M", months(2)},
      {"PT1M", exact(kMinute)},  // minutes after T, months before it
      {"P1MT1M", Duration{1, 0, kMinute}},
      {"PT0.5S", exact(500)},
      {"PT1.5S", exact(1500)},
      {"PT0.05S", exact(50)},
      {"PT2.125S", exact(2125)},
      {"PT0S", {}},
      {"P0D", {}},
      {"PT1H1M1S", exact(kHour + kMinute + kSecond)},
      {"PT36H", exact(36 * kHour)},
  };
  for (const auto& [text, expected] : cases) {
    const auto parsed = parse_duration(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(*parsed, expected) << text;
  }
}

TEST(DurationParse, RejectsEverythingElse) {
  for (const char* bad : {
           "",
           "P",
           "PT",
           "1.5d",
           " 10s",
           "10s ",
           "10 s",
           "10S",
           "10D",
           "10M",
           "-1d",
           "+1d",
           "1h30m",
           "s",
           "10",
           "10x",
           "10mos",
           "10sec",
           "1e3s",
           "0x10s",
           "\xef\xbc\x91s",
           "d",
           "P1D2M",
           "P1DD",
           "PT1H1H",
           "PT1S1M",
           "P1H",
           "PT1D",
           "PT1Y",
           "p1d",
           "pt1h",
           "P1d",
           "P1.5D",
           "PT1.5M",
           "PT1.5H",
           "PT0.1234S",
           "PT.5S",
           "PT1.S",
           "P1DT",
           "PTT1H",
           "P1DT1HT",
           "P-1D",
           "P1D ",
           "P 1D",
           "P1",
           "PT1",
           "T1H",
           "1P",
           "P1Y1Y",
           // Overflow, in the number and in the conversion.
           "9223372036854775808ms",
           "9223372036854775807s",
           "99999999999999999999d",
           "768614336404564651y",
           "P768614336404564651Y",
           "PT2562047788016H",
           "PT2562047788015H59M59.999S1",
       }) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
  EXPECT_TRUE(parse_duration("PT2562047788015H"));
}

// --- Formatting ---------------------------------------------------------------------------------

TEST(DurationFormat, UsesTheShortFormForOnePart) {
  EXPECT_EQ(format_duration({}), "0s");
  EXPECT_EQ(format_duration(days(15)), "15d");
  EXPECT_EQ(format_duration(days(14)), "14d");
  EXPECT_EQ(format_duration(months(4)), "4mo");
  EXPECT_EQ(format_duration(months(12)), "12mo");
  EXPECT_EQ(format_duration(exact(24 * kHour)), "24h");
  EXPECT_EQ(format_duration(exact(90 * kSecond)), "90s");
  EXPECT_EQ(format_duration(exact(30 * kMinute)), "30m");
  EXPECT_EQ(format_duration(exact(90 * kMinute)), "90m");
  EXPECT_EQ(format_duration(exact(500)), "500ms");
  EXPECT_EQ(format_duration(exact(1500)), "1500ms");
}

TEST(DurationFormat, UsesIso8601ForSeveralParts) {
  EXPECT_EQ(format_duration(Duration{1, 15, 0}), "P1M15D");
  EXPECT_EQ(format_duration(Duration{0, 1, 2 * kHour}), "P1DT2H");
  EXPECT_EQ(format_duration(Duration{0, 1, 500}), "P1DT0.5S");
  EXPECT_EQ(format_duration(Duration{14, 10, 2 * kHour + 30 * kMinute}), "P14M10DT2H30M");
  EXPECT_EQ(format_duration(Duration{1, 0, kHour + kMinute + kSecond + 50}), "P1MT1H1M1.05S");
}

TEST(DurationFormat, RoundTripsThroughParse) {
  for (const char* text : {"0s", "500ms", "10s", "30m", "24h", "15d", "2w", "4mo", "1y", "P15D",
                           "PT24H", "P1Y2M10DT2H30M", "P2W", "PT0.5S", "PT1.5S", "P1MT1M",
                           "P3M2DT0.001S", "9223372036854775807ms", "PT2562047788015H"}) {
    const Duration d = parse_duration(text).value();
    const std::string formatted = format_duration(d);
    const auto again = parse_duration(formatted);
    ASSERT_TRUE(again) << text << " -> " << formatted;
    EXPECT_EQ(*again, d) << text << " -> " << formatted;
  }
  for (std::int64_t ms : {std::int64_t{1}, std::int64_t{999}, std::int64_t{61'001}, kDay + 1,
                          INT64_MAX, INT64_MAX - 7}) {
    for (const Duration d :
         {exact(ms), Duration{3, 0, ms}, Duration{0, 2, ms}, Duration{INT64_MAX, INT64_MAX, ms}}) {
      EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
    }
  }
}

TEST(DurationKinds, ZeroAndExact) {
  EXPECT_TRUE(Duration{}.is_zero());
  EXPECT_TRUE(Duration{}.is_exact());
  EXPECT_FALSE(exact(1).is_zero());
  EXPECT_TRUE(exact(1).is_exact());
  EXPECT_FALSE(days(1).is_exact());
  EXPECT_FALSE(months(1).is_exact());
  EXPECT_FALSE(parse_duration("P1DT1H")->is_exact());
  EXPECT_TRUE(parse_duration("PT24H")->is_exact());
}

// --- Adding to instants -------------------------------------------------------------------------

TEST(DurationAdd, MonthsClampToTheEndOfTheTargetMonth) {
  const TimeZone utc = TimeZone::utc();
  EXPECT_EQ(add_duration(at("2023-01-31T10:00:00Z"), months(1), utc), at("2023-02-28T10:00:00Z"));
  EXPECT_EQ(add_duration(at("2024-01-31T10:00:00Z"), months(1), utc), at("2024-02-29T10:00:00Z"));
  EXPECT_EQ(add_duration(at("2023-08-31T10:00:00Z"), months(1), utc), at("2023-09-30T10:00:00Z"));
  EXPECT_EQ(add_duration(at("2023-12-31T10:00:00Z"), months(2), utc), at("2024-02-29T10:00:00Z"));
  EXPECT_EQ(add_duration(at("2023-11-15T10:00:00Z"), months(4), utc), at("2024-03-15T10:00:00Z"));
  EXPECT_EQ(add_duration(at("2023-01-15T00:00:00Z"), months(-2), utc), at("2022-11-15T00:00:00Z"));
}

TEST(DurationAdd, LeapDaysAndYears) {
  const TimeZone utc = TimeZone::utc();
  const Timestamp leap_day = at("2024-02-29T09:30:00Z");
  EXPECT_EQ(add_duration(leap_day, months(12), utc), at("2025-02-28T09:30:00Z"));
  EXPECT_EQ(add_duration(leap_day, *parse_duration("P1Y"), utc), at("2025-02-28T09:30:00Z"));
  EXPECT_EQ(add_duration(leap_day, months(48), utc), at("2028-02-29T09:30:00Z"));
  EXPECT_EQ(add_duration(leap_day, months(1200), utc), at("2124-02-29T09:30:00Z"));
  EXPECT_EQ(add_duration(at("2096-02-29T00:00:00Z"), months(48), utc),
            at("2100-02-28T00:00:00Z"));  // 2100 is not a leap year
  EXPECT_EQ(add_duration(at("2024-02-28T00:00:00Z"), days(2), utc), at("2024-03-01T00:00:00Z"));
}

TEST(DurationAdd, MonthsCountOnTheZonesCalendar) {
  // 2023-02-28T20:30Z is already 1 March 02:00 in India.
  const Timestamp t = at("2023-02-28T20:30:00Z");
  EXPECT_EQ(add_duration(t, months(1), ist()), at("2023-03-31T20:30:00Z"));  // 1 April 02:00 IST
  EXPECT_EQ(add_duration(t, months(1), TimeZone::utc()), at("2023-03-28T20:30:00Z"));
  EXPECT_EQ(add_duration(t, days(1), ist()), at("2023-03-01T20:30:00Z"));
  // The exact part is the same everywhere.
  EXPECT_EQ(add_duration(t, exact(kDay), ist()), add_duration(t, exact(kDay), TimeZone::utc()));
}

TEST(DurationAdd, DaysKeepTheLocalTimeAcrossDaylightSaving) {
  const auto berlin = system_zone("Europe/Berlin");
  if (!berlin) {
    GTEST_SKIP() << "/usr/share/zoneinfo/Europe/Berlin is not installed (no tzdata)";
  }
  // 23:00 CET on 30 March 2024; the clocks go forward that night.
  const Timestamp evening = at("2024-03-30T22:00:00Z");
  const Timestamp next = add_duration(evening, days(1), *berlin);
  EXPECT_EQ(next, at("2024-03-31T21:00:00Z"));  // 23:00 CEST
  EXPECT_EQ(next - evening, 23 * kHour);
  EXPECT_EQ(add_duration(evening, exact(24 * kHour), *berlin), at("2024-03-31T22:00:00Z"));
  // "15d" from 23:00 local ends at 23:00 local.
  EXPECT_EQ(add_duration(at("2024-03-20T22:00:00Z"), days(15), *berlin),
            at("2024-04-04T21:00:00Z"));
  EXPECT_EQ(add_duration(at("2024-03-20T22:00:00Z"), days(15), TimeZone::utc()),
            at("2024-04-04T22:00:00Z"));
  // Falling back, a day is 25 hours.
  EXPECT_EQ(add_duration(at("2024-10-26T10:00:00Z"), days(1), *berlin) - at("2024-10-26T10:00:00Z"),
            25 * kHour);
  // Landing on 02:30 of the spring-forward day, which does not exist: 03:30 CEST.
  EXPECT_EQ(add_duration(at("2024-03-30T01:30:00Z"), days(1), *berlin), at("2024-03-31T01:30:00Z"));
  // Days first, then the exact part in real time: 1d to 23:00 CEST, then one more real hour.
  EXPECT_EQ(add_duration(evening, *parse_duration("P1DT1H"), *berlin), at("2024-03-31T22:00:00Z"));
  // Exact spans ignore the calendar, even from the second 02:30 of the fall-back night.
  EXPECT_EQ(add_duration(at("2024-10-27T01:30:00Z"), exact(kHour), *berlin),
            at("2024-10-27T02:30:00Z"));
  // Months too keep the local time: 10:00 CET in January is 10:00 CEST in April.
  EXPECT_EQ(add_duration(at("2024-01-31T09:00:00Z"), months(3), *berlin),
            at("2024-04-30T08:00:00Z"));
}

TEST(DurationAdd, RepeatingFromOneAnchorStaysOnMonthEnds) {
  const TimeZone utc = TimeZone::utc();
  const Timestamp anchor = at("2024-01-31T09:00:00Z");
  const std::vector<const char*> expected = {
      "2024-01-31T09:00:00Z", "2024-02-29T09:00:00Z", "2024-03-31T09:00:00Z",
      "2024-04-30T09:00:00Z", "2024-05-31T09:00:00Z", "2024-06-30T09:00:00Z",
      "2024-07-31T09:00:00Z", "2024-08-31T09:00:00Z", "2024-09-30T09:00:00Z",
      "2024-10-31T09:00:00Z", "2024-11-30T09:00:00Z", "2024-12-31T09:00:00Z",
      "2025-01-31T09:00:00Z", "2025-02-28T09:00:00Z"};
  for (std::size_t n = 0; n < expected.size(); ++n) {
    EXPECT_EQ(format_timestamp(add_duration_times(anchor, months(1), n, utc)),
              format_timestamp(at(expected[n])))
        << n;
  }
  // Step by step drifts to the 29th; that is why add_duration_times exists.
  Timestamp stepped = anchor;
  for (int n = 0; n < 2; ++n) {
    stepped = add_duration(stepped, months(1), utc);
  }
  EXPECT_EQ(stepped, at("2024-03-29T09:00:00Z"));
  // Every part is multiplied.
  EXPECT_EQ(add_duration_times(anchor, Duration{1, 2, kHour}, 3, utc),
            at("2024-05-06T12:00:00Z"));  // 30 April + 6 days + 3 hours
  EXPECT_EQ(add_duration_times(anchor, days(7), 0, utc), anchor);
  EXPECT_EQ(add_duration_times(anchor, exact(90 * kMinute), 4, utc), anchor + 6 * kHour);
}

TEST(DurationAdd, SaturatesInsteadOfOverflowing) {
  const TimeZone utc = TimeZone::utc();
  const Timestamp now = at("2024-01-01T00:00:00Z");
  EXPECT_EQ(add_duration(INT64_MAX - 10, exact(kHour), utc), INT64_MAX);
  EXPECT_EQ(add_duration(now, exact(INT64_MAX), utc), INT64_MAX);
  EXPECT_EQ(add_duration(now, months(INT64_MAX), utc), INT64_MAX);
  EXPECT_EQ(add_duration(now, days(INT64_MAX), utc), INT64_MAX);
  EXPECT_EQ(add_duration(now, days(200'000'000'000), ist()), INT64_MAX);
  EXPECT_EQ(add_duration(now, months(INT64_MIN), utc), INT64_MIN);
  EXPECT_EQ(add_duration(INT64_MIN + 5, exact(-10), utc), INT64_MIN);
  EXPECT_EQ(add_duration_times(now, days(1), INT64_MAX, utc), INT64_MAX);
  EXPECT_EQ(add_duration_times(now, Duration{INT64_MAX, INT64_MAX, INT64_MAX}, INT64_MAX, ist()),
            INT64_MAX);
  EXPECT_EQ(add_duration(INT64_MAX, Duration{1, 1, 1}, ist()), INT64_MAX);
}

// --- Describing spans ---------------------------------------------------------------------------

TEST(DurationDescribe, ShowsTheTwoLargestUnits) {
  EXPECT_EQ(describe_span_ms(0), "0s");
  EXPECT_EQ(describe_span_ms(250), "250ms");
  EXPECT_EQ(describe_span_ms(45 * kSecond), "45s");
  EXPECT_EQ(describe_span_ms(45 * kSecond + 999), "45s");
  EXPECT_EQ(describe_span_ms(3 * kHour + 5 * kMinute), "3h 5m");
  EXPECT_EQ(describe_span_ms(3 * kHour + 5 * kMinute + 59 * kSecond), "3h 5m");
  EXPECT_EQ(describe_span_ms(2 * kDay + 4 * kHour), "2d 4h");
  EXPECT_EQ(describe_span_ms(kDay + 5 * kMinute), "1d");
  EXPECT_EQ(describe_span_ms(90 * kSecond), "1m 30s");
  EXPECT_EQ(describe_span_ms(-(kHour + 30 * kMinute)), "-1h 30m");
  EXPECT_EQ(describe_span_ms(-500), "-500ms");
  EXPECT_EQ(describe_span_ms(INT64_MIN), "-106751991167d 7h");
  EXPECT_EQ(describe_span_ms(INT64_MAX), "106751991167d 7h");
}

}  // namespace
}  // namespace carepath
