// Durations as people write them for deadlines ("15d", "4mo", "PT24H"), and adding them to
// instants on a zone's calendar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath {

// A span in three parts that do not convert into one another: calendar months (28-31 days),
// calendar days (23-25 hours across a DST change) and exact time.
struct Duration {
  std::int64_t months = 0;  // "4mo", "P1Y" (= 12 months), "P2M"
  std::int64_t days = 0;    // "15d", "P15D", "P2W" (= 14 days), "2w"
  std::int64_t ms = 0;      // "10s", "30m", "24h", "500ms", "PT24H", "PT1.5S"
  bool operator==(const Duration&) const = default;
  bool is_zero() const { return months == 0 && days == 0 && ms == 0; }
  // Only exact time (no months or days): usable where a wall-clock span is meant (retry backoff).
  bool is_exact() const { return months == 0 && days == 0; }
};

// Accepts a whole number and one unit - ms, s, m (minutes), h, d, w (7 days), mo (calendar
// months), y (12 months) - e.g. "10s", "30m", "24h", "15d", "4mo"; and ISO 8601 durations
// "P15D", "PT24H", "P1Y2M10DT2H30M", "P2W", "P1W2D", "PT0.5S" (designators in the order
// Y M W D T H M S, each at most once; only seconds may have a fraction, of up to 3 decimals).
// Zero is allowed ("0s", "PT0S"). nullopt for anything else, including negative values,
// overflow, "", "P", "PT", "1.5d", " 10s", "10 s", "10S" (short units are lower case, ISO
// designators upper case), "1h30m" and "-1d".
std::optional<Duration> parse_duration(std::string_view text);

// The short form when only one part is set ("15d", "4mo", "24h", "90s", "500ms": the largest of
// h, m, s, ms that divides the time exactly; months are always "mo", days always "d"), "0s" for
// zero, else ISO 8601 ("P1M15D", "P1DT2H", "PT1H0.5S"). For non-negative durations,
// parse_duration(format_duration(d)) == d.
std::string format_duration(const Duration& d);

// t + d on the calendar of `zone`: months first (calendar months on the local date; a day past
// the end of the target month becomes its last day, so Jan 31 + 1mo = Feb 28, or Feb 29 in a leap
// year), then days (local calendar days, keeping the local time of day), then the exact part in
// real milliseconds. So "15d" from 23:00 local ends at 23:00 local 15 days later, even across a
// DST change; a local time the calendar step lands on that does not exist (a spring-forward gap)
// moves forward as TimeZone::to_utc says. When months and days are zero, the zone plays no part.
// Negative parts count backwards. Saturates at the ends of the Timestamp range.
Timestamp add_duration(Timestamp t, const Duration& d, const TimeZone& zone);

// t + n*d computed from t in one step (n * months, n * days, n * ms, each saturating), so a
// monthly series anchored on the 31st stays on month ends (31 Jan, 28/29 Feb, 31 Mar) and never
// drifts to the 28th. Meant for n >= 0.
Timestamp add_duration_times(Timestamp t, const Duration& d, std::int64_t n, const TimeZone& zone);

// A span for messages: the largest non-zero unit of d, h, m, s and the next smaller one when it
// is not zero, truncated ("2d 4h", "3h 5m", "1d", "45s"); under a second "250ms"; "0s" for zero;
// "-1h 30m" for negative spans.
std::string describe_span_ms(std::int64_t ms);

}  // namespace carepath
