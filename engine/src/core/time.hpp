// Time in the engine: UTC instants in milliseconds, civil dates, and the Clock interface.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace carepath {

// Milliseconds since the Unix epoch, UTC.
using Timestamp = std::int64_t;

// The one source of "now". Tests inject a manual clock and never sleep.
//
// Thread-safety: implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

// The wall clock.
class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

// A clock that moves only when told to; for tests (and `test_clock`). Safe to read while another
// thread moves it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : now_(start) {}
  Timestamp now() const override { return now_.load(); }
  void set(Timestamp t) { now_.store(t); }
  void advance_ms(std::int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<Timestamp> now_;
};

// Days since 1970-01-01 for a proleptic Gregorian date; nullopt when `text` is not a valid
// YYYY-MM-DD date (month 1-12, day within the month, leap years respected).
std::optional<std::int64_t> parse_date(std::string_view text);

// A valid RFC 3339 date-time ("2026-11-22T10:15:00Z", "...+05:30", optional fraction) as a
// Timestamp; nullopt otherwise.
std::optional<Timestamp> parse_datetime(std::string_view text);

// "2026-11-22T10:15:00.123Z".
std::string format_timestamp(Timestamp t);

// Days since the epoch of the UTC day containing `t`.
std::int64_t day_number(Timestamp t);

}  // namespace carepath
