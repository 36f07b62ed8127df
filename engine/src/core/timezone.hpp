// Time zones: civil dates, UTC offsets over time, and the mapping between instants and wall-clock
// times. Pure code; reading zone files from disk lives in app/zoneinfo.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/time.hpp"

namespace carepath {

// A civil (wall-clock) time in some zone. month 1-12, day 1-31, ms_of_day 0-86399999 as produced
// by TimeZone::to_local; to_utc also accepts values outside those ranges and carries them over
// (month 13 is January of the next year, day 0 the last day of the previous month).
struct LocalTime {
  int year;
  int month;
  int day;
  std::int64_t ms_of_day;
  bool operator==(const LocalTime&) const = default;
};

// Days since 1970-01-01 of a proleptic Gregorian date. Months outside 1-12 carry into the year and
// days outside the month carry into the next or previous months, so every int argument is valid.
std::int64_t days_from_civil(int year, int month, int day);

// The civil date `days` after 1970-01-01, for any int64 `days`. Exact while the year fits in an
// int (|days| below about 7.8e11, far beyond any Timestamp); beyond that the year saturates.
void civil_from_days(std::int64_t days, int& year, int& month, int& day);

// 28-31 for month 1-12 (leap years respected); 0 for any other month.
int days_in_month(int year, int month);

// A time zone: UTC offsets over time. Offsets are whole seconds and change only at whole
// seconds; everything between is answered from an immutable table (and, for instants after the
// table, the zone's POSIX rule).
//
// Cheap to copy (copies share the immutable data). Thread-safety: every member is const, so any
// number of threads may use one TimeZone or its copies.
class TimeZone {
 public:
  // UTC, named "UTC".
  static TimeZone utc();

  // "+05:30", "-03:00", "+00:00" (hours 00-23, minutes 00-59), named as written; "UTC" and "Z"
  // give utc(). nullopt for anything else.
  static std::optional<TimeZone> fixed(std::string_view spec);

  // A constant offset under a given name, e.g. ("Asia/Kolkata", 19800). Offsets outside what
  // TZif allows (-24:59:59 to +25:59:59) are clamped to it.
  static TimeZone with_offset(std::string name, std::int32_t offset_seconds);

  // Parses the bytes of a TZif file (RFC 8536 / 9636, versions 1-4). For version 2 and later the
  // 64-bit data is used and the footer's POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3",
  // "IST-5:30", "<+0545>-5:45", Jn and n day forms, times up to +-167h) answers for instants after
  // the last transition; leap-second tables ("right/" zones) are accounted for. Before the first
  // transition the first local time type applies.
  //
  // Errc::invalid_argument, naming `name` and the problem, for malformed data. Hostile input
  // cannot crash it: every count is checked against the buffer before use, and the work is
  // linear in the size of `bytes`.
  static Result<TimeZone> from_tzif(std::string name, std::string_view bytes);

  // "Asia/Kolkata", "+05:30", "UTC".
  const std::string& name() const;

  // The offset in effect at `utc`: local = utc + offset.
  std::int32_t offset_seconds(Timestamp utc) const;

  // The wall-clock time at `utc`. Saturates at the ends of the Timestamp range.
  LocalTime to_local(Timestamp utc) const;

  // The instant a wall-clock time names.
  // - In a gap (clocks spring forward over it), the instant is computed with the offset in effect
  //   before the gap, so 02:30 in a skipped 02:00-03:00 hour is 03:30 new time; a time of day
  //   that does not exist moves forward by the length of the gap.
  // - In an overlap (clocks fall back), the earlier of the two instants.
  // Saturates at the ends of the Timestamp range.
  Timestamp to_utc(const LocalTime& local) const;

  // Days since the epoch of the local calendar day containing `utc`.
  std::int64_t local_day(Timestamp utc) const;

  // The first instant of the local day `day` (days since the epoch): local midnight, or, when
  // midnight falls in a gap, the end of the gap (the first instant whose local day is `day`).
  // When midnight happens twice, the earlier.
  Timestamp start_of_day(std::int64_t day) const;

 private:
  struct Data;
  explicit TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

  // The instant of local time `local_ms` (ms since the epoch, read as wall-clock time), with
  // to_utc's rules; when it is in a gap and `gap_to_end` is set, the end of the gap instead.
  Timestamp resolve(std::int64_t local_ms, bool gap_to_end) const;

  std::shared_ptr<const Data> data_;
};

}  // namespace carepath
