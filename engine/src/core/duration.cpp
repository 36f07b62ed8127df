#include "core/duration.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <utility>

#include "core/saturating.hpp"

namespace carepath {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMsPerSecond = 1000;
constexpr std::int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr std::int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr std::int64_t kMsPerDay = 24 * kMsPerHour;
// Beyond this many years from the epoch there is no Timestamp (it spans about 292 million).
constexpr std::int64_t kMaxYears = 400'000'000;

// total += n * scale; false on overflow.
bool accumulate(std::int64_t& total, std::int64_t n, std::int64_t scale) {
  std::int64_t product = 0;
  return !__builtin_mul_overflow(n, scale, &product) &&
         !__builtin_add_overflow(total, product, &total);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// One or more digits at text[pos] as a number that fits; advances `pos` past them.
bool read_number(std::string_view text, std::size_t& pos, std::int64_t& out) {
  const std::size_t begin = pos;
  out = 0;
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    std::int64_t digit = text[pos] - '0';
    if (!accumulate(digit, out, 10)) {
      return false;
    }
    out = digit;
  }
  return pos > begin;
}

// "10s", "4mo": digits, then exactly one lower-case unit.
std::optional<Duration> parse_short(std::string_view text) {
  struct Unit {
    std::string_view name;
    std::int64_t Duration::*part;
    std::int64_t scale;
  };
  static constexpr std::array<Unit, 8> kUnits = {{
      {"ms", &Duration::ms, 1},
      {"s", &Duration::ms, kMsPerSecond},
      {"m", &Duration::ms, kMsPerMinute},
      {"h", &Duration::ms, kMsPerHour},
      {"d", &Duration::days, 1},
      {"w", &Duration::days, 7},
      {"mo", &Duration::months, 1},
      {"y", &Duration::months, 12},
  }};
  std::size_t pos = 0;
  std::int64_t n = 0;
  if (!read_number(text, pos, n)) {
    return std::nullopt;
  }
  for (const Unit& unit : kUnits) {
    Duration d;
    if (text.substr(pos) == unit.name && accumulate(d.*unit.part, n, unit.scale)) {
      return d;
    }
  }
  return std::nullopt;
}

// "P1Y2M10DT2H30M", "P2W", "PT0.5S": each designator at most once and in order.
std::optional<Duration> parse_iso(std::string_view text) {
  if (text.empty() || text[0] != 'P') {
    return std::nullopt;
  }
  constexpr std::string_view kDate = "YMWD";
  constexpr std::string_view kTime = "HMS";
  Duration d;
  bool in_time = false;
  bool any = false;       // a component anywhere
  bool any_time = false;  // a component after 'T'
  std::size_t next = 0;   // designators before this one in kDate / kTime are used up
  std::size_t pos = 1;
  while (pos < text.size()) {
    if (text[pos] == 'T') {
      if (in_time) {
        return std::nullopt;
      }
      in_time = true;
      next = 0;
      ++pos;
      continue;
    }
    std::int64_t n = 0;
    std::int64_t fraction_ms = -1;  // -1: none
    if (!read_number(text, pos, n)) {
      return std::nullopt;
    }
    if (pos < text.size() && text[pos] == '.') {
      const std::size_t begin = ++pos;
      fraction_ms = 0;
      for (; pos < text.size() && is_digit(text[pos]) && pos - begin < 3; ++pos) {
        fraction_ms = fraction_ms * 10 + (text[pos] - '0');
      }
      if (pos == begin) {
        return std::nullopt;
      }
      for (std::size_t digits = pos - begin; digits < 3; ++digits) {
        fraction_ms *= 10;
      }
    }
    if (pos >= text.size()) {
      return std::nullopt;
    }
    const std::string_view order = in_time ? kTime : kDate;
    const std::size_t index = order.find(text[pos++], next);
    if (index == std::string_view::npos ||
        (fraction_ms >= 0 && !(in_time && order[index] == 'S'))) {
      return std::nullopt;
    }
    next = index + 1;
    bool ok = true;
    switch (in_time ? 4 + index : index) {
      case 0:  // Y
        ok = accumulate(d.months, n, 12);
        break;
      case 1:  // M
        ok = accumulate(d.months, n, 1);
        break;
      case 2:  // W
        ok = accumulate(d.days, n, 7);
        break;
      case 3:  // D
        ok = accumulate(d.days, n, 1);
        break;
      case 4:  // H
        ok = accumulate(d.ms, n, kMsPerHour);
        break;
      case 5:  // M
        ok = accumulate(d.ms, n, kMsPerMinute);
        break;
      default:  // S
        ok = accumulate(d.ms, n, kMsPerSecond) &&
             accumulate(d.ms, std::max<std::int64_t>(fraction_ms, 0), 1);
        break;
    }
    if (!ok) {
      return std::nullopt;
    }
    any = true;
    any_time = any_time || in_time;
  }
  if (!any || (in_time && !any_time)) {
    return std::nullopt;
  }
  return d;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  return !text.empty() && text[0] == 'P' ? parse_iso(text) : parse_short(text);
}

std::string format_duration(const Duration& d) {
  const int parts = (d.months != 0 ? 1 : 0) + (d.days != 0 ? 1 : 0) + (d.ms != 0 ? 1 : 0);
  if (parts == 0) {
    return "0s";
  }
  if (parts == 1) {
    if (d.months != 0) {
      return std::to_string(d.months) + "mo";
    }
    if (d.days != 0) {
      return std::to_string(d.days) + "d";
    }
    for (const auto& [scale, unit] :
         {std::pair{kMsPerHour, "h"}, std::pair{kMsPerMinute, "m"}, std::pair{kMsPerSecond, "s"}}) {
      if (d.ms % scale == 0) {
        return std::to_string(d.ms / scale) + unit;
      }
    }
    return std::to_string(d.ms) + "ms";
  }
  std::string out = "P";
  if (d.months != 0) {
    out += std::to_string(d.months) + "M";
  }
  if (d.days != 0) {
    out += std::to_string(d.days) + "D";
  }
  if (d.ms != 0) {
    out += "T";
    const std::int64_t hours = d.ms / kMsPerHour;
    const std::int64_t minutes = d.ms % kMsPerHour / kMsPerMinute;
    const std::int64_t seconds = d.ms % kMsPerMinute / kMsPerSecond;
    const std::int64_t millis = d.ms % kMsPerSecond;
    if (hours != 0) {
      out += std::to_string(hours) + "H";
    }
    if (minutes != 0) {
      out += std::to_string(minutes) + "M";
    }
    if (seconds != 0 || millis != 0) {
      out += std::to_string(seconds);
      if (millis != 0) {
        std::string fraction = std::to_string(1000 + millis).substr(1);  // "050"
        fraction.erase(fraction.find_last_not_of('0') + 1);
        out += "." + fraction;
      }
      out += "S";
    }
  }
  return out;
}

Timestamp add_duration(Timestamp t, const Duration& d, const TimeZone& zone) {
  if (d.months == 0 && d.days == 0) {
    return saturating_add(t, d.ms);
  }
  const LocalTime local = zone.to_local(t);
  const std::int64_t month_index =
      saturating_add(std::int64_t{local.year} * 12 + local.month - 1, d.months);
  const std::int64_t year = floor_div(month_index, 12);
  if (year > kMaxYears || year < -kMaxYears) {
    return year > 0 ? kMax : kMin;
  }
  const int month = static_cast<int>(month_index - year * 12 + 1);
  const int day = std::min(local.day, days_in_month(static_cast<int>(year), month));
  const std::int64_t target =
      saturating_add(days_from_civil(static_cast<int>(year), month, day), d.days);
  LocalTime out{0, 0, 0, local.ms_of_day};
  civil_from_days(target, out.year, out.month, out.day);  // far out of range, the year saturates
  return saturating_add(zone.to_utc(out), d.ms);
}

Timestamp add_duration_times(Timestamp t, const Duration& d, std::int64_t n, const TimeZone& zone) {
  return add_duration(
      t, Duration{saturating_mul(d.months, n), saturating_mul(d.days, n), saturating_mul(d.ms, n)},
      zone);
}

std::string describe_span_ms(std::int64_t ms) {
  if (ms == 0) {
    return "0s";
  }
  const std::string sign = ms < 0 ? "-" : "";
  // Unsigned, so that the most negative value has a magnitude too.
  const std::uint64_t magnitude =
      ms < 0 ? 0 - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
  if (magnitude < kMsPerSecond) {
    return sign + std::to_string(magnitude) + "ms";
  }
  constexpr std::array<std::pair<std::uint64_t, const char*>, 4> kUnits = {
      {{kMsPerDay, "d"}, {kMsPerHour, "h"}, {kMsPerMinute, "m"}, {kMsPerSecond, "s"}}};
  std::size_t i = 0;
  while (magnitude < kUnits[i].first) {
    ++i;
  }
  std::string out = sign + std::to_string(magnitude / kUnits[i].first) + kUnits[i].second;
  if (i + 1 < kUnits.size()) {
    const std::uint64_t rest = magnitude % kUnits[i].first / kUnits[i + 1].first;
    if (rest != 0) {
      out += " " + std::to_string(rest) + kUnits[i + 1].second;
    }
  }
  return out;
}

}  // namespace carepath
