#include "core/time.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "core/timezone.hpp"

namespace carepath {
namespace {

// Reads exactly `width` digits at text[pos]; false if any is not a digit.
bool read_digits(std::string_view text, std::size_t pos, std::size_t width, unsigned& out) {
  if (pos + width > text.size()) {
    return false;
  }
  unsigned value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
  }
  out = value;
  return true;
}

}  // namespace

Timestamp SystemClock::now() const {
  using namespace std::chrono;  // NOLINT(google-build-using-namespace): local and obvious
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<std::int64_t> parse_date(std::string_view text) {
  unsigned y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !read_digits(text, 0, 4, y) ||
      !read_digits(text, 5, 2, m) || !read_digits(text, 8, 2, d)) {
    return std::nullopt;
  }
  const int year = static_cast<int>(y);
  const int month = static_cast<int>(m);
  const int day = static_cast<int>(d);
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return std::nullopt;
  }
  return days_from_civil(year, month, day);
}

std::optional<Timestamp> parse_datetime(std::string_view text) {
  if (text.size() < 20) {
    return std::nullopt;
  }
  const auto day = parse_date(text.substr(0, 10));
  unsigned hh = 0;
  unsigned mm = 0;
  unsigned ss = 0;
  if (!day || (text[10] != 'T' && text[10] != 't') || !read_digits(text, 11, 2, hh) ||
      text[13] != ':' || !read_digits(text, 14, 2, mm) || text[16] != ':' ||
      !read_digits(text, 17, 2, ss) || hh > 23 || mm > 59 || ss > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) {
        millis = millis * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (; digits < 3; ++digits) {
      millis *= 10;
    }
  }
  std::int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    unsigned oh = 0;
    unsigned om = 0;
    if (!read_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = static_cast<std::int64_t>(oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  const std::int64_t seconds = *day * 86400 + static_cast<std::int64_t>(hh) * 3600 +
                               static_cast<std::int64_t>(mm) * 60 + (ss == 60 ? 59 : ss) -
                               offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::string format_timestamp(Timestamp t) {
  std::int64_t days = t / 86400000;
  std::int64_t ms_of_day = t % 86400000;
  if (ms_of_day < 0) {
    ms_of_day += 86400000;
    --days;
  }
  int year = 0;
  int month = 0;
  int day = 0;
  civil_from_days(days, year, month, day);
  const auto secs = ms_of_day / 1000;
  if (year >= 0 && year <= 9999) {
    // Every answer and audit row carries two or three of these, so the digits are placed by hand:
    // snprintf took about 2,700 instructions a call.
    std::string out = "0000-00-00T00:00:00.000Z";
    const auto put = [&out](std::size_t at, std::int64_t value, int width) {
      for (int i = width - 1; i >= 0; --i, value /= 10) {
        out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
      }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, secs / 3600, 2);
    put(14, secs / 60 % 60, 2);
    put(17, secs % 60, 2);
    put(20, ms_of_day % 1000, 3);
    return out;
  }
  std::array<char, 48> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ", year,
                month, day, static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                static_cast<long long>(ms_of_day % 1000));
  return buffer.data();
}

std::int64_t day_number(Timestamp t) {
  std::int64_t days = t / 86400000;
  if (t % 86400000 < 0) {
    --days;
  }
  return days;
}

}  // namespace carepath
