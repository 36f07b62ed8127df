#include "core/time.hpp"

#include <gtest/gtest.h>

namespace carepath {
namespace {

TEST(Time, ParsesDatesAndCountsDaysFromTheEpoch) {
  EXPECT_EQ(parse_date("1970-01-01"), 0);
  EXPECT_EQ(parse_date("1970-01-02"), 1);
  EXPECT_EQ(parse_date("2000-03-01").value() - parse_date("2000-02-28").value(), 2);  // leap
  EXPECT_EQ(parse_date("1900-03-01").value() - parse_date("1900-02-28").value(), 1);  // not leap
  EXPECT_EQ(parse_date("1969-12-31"), -1);
}

TEST(Time, RejectsImpossibleDates) {
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "24-01-01",
                          "2024-1-01", "2024/01/01", "", "2024-01-01T00:00:00Z", "abcd-ef-gh"}) {
    EXPECT_FALSE(parse_date(bad)) << bad;
  }
  EXPECT_TRUE(parse_date("2024-02-29"));
}

TEST(Time, ParsesRfc3339WithOffsetsAndFractions) {
  EXPECT_EQ(parse_datetime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_datetime("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(parse_datetime("1970-01-01T05:30:00+05:30"), 0);
  EXPECT_EQ(parse_datetime("1969-12-31T23:00:00-01:00"), 0);
  EXPECT_FALSE(parse_datetime("1970-01-01T00:00:00"));  // no offset
  EXPECT_FALSE(parse_datetime("1970-01-01 00:00:00Z"));
  EXPECT_FALSE(parse_datetime("1970-01-01T24:00:00Z"));
  EXPECT_FALSE(parse_datetime("1970-01-01T00:00:00.Z"));
  EXPECT_FALSE(parse_datetime("1970-01-01T00:00:00Zjunk"));
}

TEST(Time, FormatsTimestampsAsUtcWithMilliseconds) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  const auto t = parse_datetime("2026-11-22T10:15:30.250+05:30").value();
  EXPECT_EQ(format_timestamp(t), "2026-11-22T04:45:30.250Z");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59.999Z");
  // Both ends of the four-digit years, and past them (the slow path keeps what snprintf wrote).
  EXPECT_EQ(format_timestamp(parse_datetime("0000-01-01T00:00:00Z").value()),
            "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(parse_datetime("9999-12-31T23:59:59.999Z").value()),
            "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp(parse_datetime("9999-12-31T23:59:59.999Z").value() + 1),
            "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(parse_datetime("0000-01-01T00:00:00Z").value() - 1),
            "-001-12-31T23:59:59.999Z");
}

// Every millisecond field, every day of a leap year and a common one, read back.
TEST(Time, FormattedTimestampsParseBackToTheSameInstant) {
  const Timestamp start = parse_datetime("2023-12-31T00:00:00Z").value();
  for (Timestamp t = start; t < start + 367LL * 86'400'000; t += 86'400'000 + 3'723'457) {
    ASSERT_EQ(parse_datetime(format_timestamp(t)), t) << format_timestamp(t);
  }
}

TEST(Time, DayNumberFloorsNegativeTimes) {
  EXPECT_EQ(day_number(0), 0);
  EXPECT_EQ(day_number(86399999), 0);
  EXPECT_EQ(day_number(86400000), 1);
  EXPECT_EQ(day_number(-1), -1);
}

TEST(Time, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.now(), 1000);
  clock.advance_ms(500);
  EXPECT_EQ(clock.now(), 1500);
  clock.set(7);
  EXPECT_EQ(clock.now(), 7);
}

}  // namespace
}  // namespace carepath
