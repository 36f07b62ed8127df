#include "core/timezone.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>
#include <vector>

#include "core/saturating.hpp"

namespace carepath {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
// The offsets TZif allows (RFC 9636 3.2, "utoff"). resolve() relies on every offset being in here.
constexpr std::int32_t kMinOffset = -89'999;
constexpr std::int32_t kMaxOffset = 93'599;

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int year_of_day(std::int64_t days) {
  int y = 0;
  int m = 0;
  int d = 0;
  civil_from_days(days, y, m, d);
  return y;
}

// --- POSIX TZ rules (the TZif footer) -----------------------------------------------------------

// When in a year a rule switches: "Jn" (1-365, Feb 29 never counted), "n" (0-365, counted) or
// "Mm.w.d" (weekday d, 0 = Sunday, of week w of month m, 5 = the last), at `time` seconds after
// local midnight (-167h..167h, RFC 9636 extension).
struct RuleDate {
  enum class Kind { julian1, julian0, month_week_day } kind = Kind::month_week_day;
  int n = 0;
  int month = 0;
  int week = 0;
  std::int32_t time = 7200;
};

struct Rule {
  std::int32_t std_offset = 0;
  bool has_dst = false;
  std::int32_t dst_offset = 0;
  RuleDate start;  // switches to dst_offset, read in standard time
  RuleDate end;    // back to std_offset, read in daylight time
};

// The UTC second at which `date` happens in `year` while `offset` is in effect.
std::int64_t rule_instant(const RuleDate& date, int year, std::int32_t offset) {
  std::int64_t day = days_from_civil(year, 1, 1);
  switch (date.kind) {
    case RuleDate::Kind::julian1:
      day += date.n - 1 + (is_leap(year) && date.n >= 60 ? 1 : 0);
      break;
    case RuleDate::Kind::julian0:
      day += date.n;
      break;
    case RuleDate::Kind::month_week_day: {
      const std::int64_t first = days_from_civil(year, date.month, 1);
      const std::int64_t first_weekday = (first % 7 + 11) % 7;  // 1970-01-01 was a Thursday
      day = first + (date.n - first_weekday + 7) % 7 + std::int64_t{date.week - 1} * 7;
      if (day >= first + days_in_month(year, date.month)) {
        day -= 7;  // week 5 means the last such weekday
      }
      break;
    }
  }
  return day * 86400 + date.time - offset;
}

std::int32_t rule_offset(const Rule& rule, std::int64_t t) {
  if (!rule.has_dst) {
    return rule.std_offset;
  }
  const int year = year_of_day(floor_div(t + rule.std_offset, 86400));
  const std::int64_t start = rule_instant(rule.start, year, rule.std_offset);
  const std::int64_t end = rule_instant(rule.end, year, rule.dst_offset);
  // Northern rules have DST inside [start, end); southern ones outside [end, start).
  const bool dst = start < end ? (start <= t && t < end) : !(end <= t && t < start);
  return dst ? rule.dst_offset : rule.std_offset;
}

struct Transition {
  std::int64_t at;      // UTC seconds
  std::int32_t offset;  // in effect from `at`
};

std::optional<Transition> rule_next(const Rule& rule, std::int64_t t) {
  if (!rule.has_dst) {
    return std::nullopt;
  }
  // A rule's instants may stray up to 167h + 25h out of their year, so look one year around.
  const int year = year_of_day(floor_div(t, 86400));
  std::int64_t next = kMax;
  for (int y = year - 1; y <= year + 2; ++y) {
    for (const std::int64_t at : {rule_instant(rule.start, y, rule.std_offset),
                                  rule_instant(rule.end, y, rule.dst_offset)}) {
      if (at > t) {
        next = std::min(next, at);
      }
    }
  }
  return Transition{next, rule_offset(rule, next)};
}

// Parses a POSIX TZ string as RFC 9636 3.3 extends it: "IST-5:30", "<+0545>-5:45",
// "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0", "<-03>3<-02>,J60/-1,300/25".
class PosixParser {
 public:
  explicit PosixParser(std::string_view text) : text_(text) {}

  std::optional<Rule> parse() {
    Rule rule;
    std::int32_t west = 0;
    if (!name() || !hms(24, west)) {
      return std::nullopt;
    }
    rule.std_offset = -west;  // POSIX counts hours west of Greenwich
    if (done()) {
      return rule;
    }
    if (!name()) {
      return std::nullopt;
    }
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + 3600;
    if (!done() && text_[pos_] != ',') {
      if (!hms(24, west)) {
        return std::nullopt;
      }
      rule.dst_offset = -west;
    }
    if (done()) {  // no dates: the US rules, as tzcode assumes
      rule.start.month = 3;
      rule.start.week = 2;
      rule.end.month = 11;
      rule.end.week = 1;
      return rule;
    }
    if (!eat(',') || !date(rule.start) || !eat(',') || !date(rule.end) || !done()) {
      return std::nullopt;
    }
    return rule;
  }

 private:
  bool done() const { return pos_ == text_.size(); }

  bool eat(char c) {
    if (!done() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  // "CET", or "<+0545>" (letters, digits, '+', '-'); at least three characters either way.
  bool name() {
    const std::size_t begin = pos_;
    if (eat('<')) {
      while (!done() && (is_alpha(text_[pos_]) || is_digit(text_[pos_]) || text_[pos_] == '+' ||
                         text_[pos_] == '-')) {
        ++pos_;
      }
      return pos_ - begin - 1 >= 3 && eat('>');
    }
    while (!done() && is_alpha(text_[pos_])) {
      ++pos_;
    }
    return pos_ - begin >= 3;
  }

  // One or more digits with a value of at most `max`.
  bool number(int max, int& out) {
    const std::size_t begin = pos_;
    int value = 0;
    while (!done() && is_digit(text_[pos_])) {
      value = value * 10 + (text_[pos_++] - '0');
      if (value > max) {
        return false;
      }
    }
    out = value;
    return pos_ > begin;
  }

  // [+-]hh[:mm[:ss]] in seconds, hours at most `max_hours`.
  bool hms(int max_hours, std::int32_t& out) {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    int h = 0;
    int m = 0;
    int s = 0;
    if (!number(max_hours, h) || (eat(':') && (!number(59, m) || (eat(':') && !number(59, s))))) {
      return false;
    }
    out = sign * (h * 3600 + m * 60 + s);
    return true;
  }

  bool date(RuleDate& out) {
    bool ok = false;
    if (eat('J')) {
      out.kind = RuleDate::Kind::julian1;
      ok = number(365, out.n) && out.n >= 1;
    } else if (eat('M')) {
      out.kind = RuleDate::Kind::month_week_day;
      ok = number(12, out.month) && out.month >= 1 && eat('.') && number(5, out.week) &&
           out.week >= 1 && eat('.') && number(6, out.n);
    } else {
      out.kind = RuleDate::Kind::julian0;
      ok = number(365, out.n);
    }
    return ok && (!eat('/') || hms(167, out.time));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// --- The zone itself ----------------------------------------------------------------------------

// Offsets over time: a table of transitions, then (from `rule_from` on) a POSIX rule.
struct Zone {
  std::string name{};
  std::int32_t initial = 0;             // before the first transition
  std::vector<std::int64_t> times{};    // UTC seconds, ascending; only real offset changes
  std::vector<std::int32_t> offsets{};  // offsets[i] is in effect from times[i]
  std::optional<Rule> rule{};
  std::int64_t rule_from = kMin;  // the file's last transition (kMin when it has none)

  std::int32_t offset_at(std::int64_t t) const {
    if (rule && t >= rule_from) {
      return rule_offset(*rule, t);
    }
    const auto it = std::upper_bound(times.begin(), times.end(), t);
    return it == times.begin() ? initial : offsets[it - times.begin() - 1];
  }

  // The first transition after `t`, if any.
  std::optional<Transition> next_after(std::int64_t t) const {
    if (rule && t >= rule_from) {
      return rule_next(*rule, t);
    }
    const auto it = std::upper_bound(times.begin(), times.end(), t);
    if (it != times.end() && (!rule || *it < rule_from)) {
      return Transition{*it, offsets[it - times.begin()]};
    }
    if (rule) {
      return Transition{rule_from, rule_offset(*rule, rule_from)};
    }
    return std::nullopt;
  }
};

// --- TZif (RFC 9636) ----------------------------------------------------------------------------

struct TzifHeader {
  char version = 0;
  std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

// A cursor over the file that never reads past its end.
class Bytes {
 public:
  explicit Bytes(std::string_view data) : data_(data) {}

  std::size_t left() const { return data_.size() - pos_; }
  bool skip(std::uint64_t n) {
    if (n > left()) {
      return false;
    }
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  std::string_view rest() const { return data_.substr(pos_); }
  // Big-endian, two's complement; the caller has checked that `size` bytes are left.
  std::int64_t read_signed(int size) {
    std::uint64_t v = 0;
    for (int i = 0; i < size; ++i) {
      v = v << 8 | static_cast<unsigned char>(data_[pos_++]);
    }
    if (size < 8 && (v >> (size * 8 - 1)) != 0) {
      v |= ~std::uint64_t{0} << (size * 8);  // sign-extend
    }
    return static_cast<std::int64_t>(v);
  }
  std::uint32_t read_u32() { return static_cast<std::uint32_t>(read_signed(4)); }
  std::uint8_t read_u8() { return static_cast<unsigned char>(data_[pos_++]); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

std::optional<std::string> read_header(Bytes& in, TzifHeader& h) {
  if (in.left() < 44) {
    return "truncated header";
  }
  if (in.rest().substr(0, 4) != "TZif") {
    return "not TZif data (bad magic)";
  }
  in.skip(4);
  h.version = static_cast<char>(in.read_u8());
  if (h.version != 0 && (h.version < '2' || h.version > '4')) {
    return "unsupported TZif version";
  }
  in.skip(15);
  h.isutcnt = in.read_u32();
  h.isstdcnt = in.read_u32();
  h.leapcnt = in.read_u32();
  h.timecnt = in.read_u32();
  h.typecnt = in.read_u32();
  h.charcnt = in.read_u32();
  if (h.typecnt == 0 || h.charcnt == 0 || (h.isutcnt != 0 && h.isutcnt != h.typecnt) ||
      (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
    return "inconsistent counts in header";
  }
  return std::nullopt;
}

// Size of the data block after `h`, with `time_size`-byte times; 64-bit, so it cannot overflow.
std::uint64_t block_size(const TzifHeader& h, int time_size) {
  return std::uint64_t{h.timecnt} * (time_size + 1) + std::uint64_t{h.typecnt} * 6 + h.charcnt +
         std::uint64_t{h.leapcnt} * (time_size + 4) + h.isstdcnt + h.isutcnt;
}

// Reads the data block into `zone` (everything but the rule).
std::optional<std::string> read_block(Bytes& in, const TzifHeader& h, int time_size, Zone& zone) {
  if (block_size(h, time_size) > in.left()) {
    return "truncated data";
  }
  std::vector<std::int64_t> times(h.timecnt);
  for (auto& t : times) {
    t = in.read_signed(time_size);
  }
  if (!std::is_sorted(times.begin(), times.end()) ||
      std::adjacent_find(times.begin(), times.end()) != times.end()) {
    return "transition times are not ascending";
  }
  std::vector<std::uint8_t> type_of(h.timecnt);
  for (auto& type : type_of) {
    type = in.read_u8();
    if (type >= h.typecnt) {
      return "transition names a missing local time type";
    }
  }
  std::vector<std::int32_t> type_offsets(h.typecnt);
  for (auto& offset : type_offsets) {
    const std::int64_t utoff = in.read_signed(4);
    const std::uint8_t isdst = in.read_u8();
    const std::uint8_t desigidx = in.read_u8();
    if (utoff < kMinOffset || utoff > kMaxOffset || isdst > 1 || desigidx >= h.charcnt) {
      return "bad local time type";
    }
    offset = static_cast<std::int32_t>(utoff);
  }
  in.skip(h.charcnt);
  // Leap-second records ("right/" zones): their times count leap seconds, ours do not.
  std::vector<std::pair<std::int64_t, std::int64_t>> leaps(h.leapcnt);  // occurrence, correction
  for (auto& [occurrence, correction] : leaps) {
    occurrence = in.read_signed(time_size);
    correction = in.read_signed(4);
  }
  if (!std::is_sorted(leaps.begin(), leaps.end())) {
    return "leap-second records are not ascending";
  }
  in.skip(std::uint64_t{h.isstdcnt} + h.isutcnt);

  const auto posix = [&leaps](std::int64_t t) {
    const auto it = std::upper_bound(leaps.begin(), leaps.end(), std::pair{t, kMax});
    return it == leaps.begin() ? t : saturating_add(t, -std::prev(it)->second);
  };
  zone.initial = type_offsets[0];
  std::int32_t last = zone.initial;
  for (std::size_t i = 0; i < times.size(); ++i) {
    const std::int32_t offset = type_offsets[type_of[i]];
    if (offset != last) {
      zone.times.push_back(posix(times[i]));
      zone.offsets.push_back(offset);
      last = offset;
    }
  }
  // Clamped to just past the Timestamp range, so that rule arithmetic on it cannot overflow.
  constexpr std::int64_t kLimit = kMax / 1000 + 1;
  zone.rule_from = times.empty() ? kMin : std::clamp(posix(times.back()), -kLimit, kLimit);
  return std::nullopt;
}

std::optional<std::string> read_tzif(std::string_view bytes, Zone& zone) {
  Bytes in(bytes);
  TzifHeader h;
  if (auto error = read_header(in, h)) {
    return error;
  }
  if (h.version == 0) {
    return read_block(in, h, 4, zone);
  }
  // Version 2+: skip the 32-bit block; the 64-bit one and the footer follow.
  if (!in.skip(block_size(h, 4))) {
    return "truncated data";
  }
  if (auto error = read_header(in, h)) {
    return error;
  }
  if (auto error = read_block(in, h, 8, zone)) {
    return error;
  }
  const std::string_view footer = in.rest();
  const std::size_t end = footer.find('\n', 1);
  if (footer.empty() || footer[0] != '\n' || end == std::string_view::npos) {
    return "missing footer";
  }
  const std::string_view tz = footer.substr(1, end - 1);
  if (!tz.empty()) {
    zone.rule = PosixParser(tz).parse();
    if (!zone.rule) {
      return "bad TZ string in footer '" + std::string(tz) + "'";
    }
  }
  return std::nullopt;
}

}  // namespace

struct TimeZone::Data : Zone {};

// --- Civil dates --------------------------------------------------------------------------------

// Howard Hinnant's days_from_civil / civil_from_days, in 64 bits throughout.
std::int64_t days_from_civil(int year, int month, int day) {
  const std::int64_t month0 = std::int64_t{month} - 1;  // 0-based, may be out of range
  std::int64_t y = year + floor_div(month0, 12);
  const auto m = static_cast<unsigned>(month0 - floor_div(month0, 12) * 12 + 1);
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(y, 400);
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468 + (std::int64_t{day} - 1);
}

void civil_from_days(std::int64_t days, int& year, int& month, int& day) {
  // days + 719468 could overflow; split it into eras first.
  const std::int64_t shifted = (days % 146097 + 146097) % 146097 + 719468;
  const std::int64_t era = floor_div(days, 146097) + shifted / 146097;
  const auto doe = static_cast<unsigned>(shifted % 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const std::int64_t y = era * 400 + yoe + (month <= 2 ? 1 : 0);
  year = static_cast<int>(std::clamp<std::int64_t>(y, std::numeric_limits<int>::min(),
                                                   std::numeric_limits<int>::max()));
}

int days_in_month(int year, int month) {
  constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) {
    return 0;
  }
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// --- TimeZone -----------------------------------------------------------------------------------

TimeZone TimeZone::utc() {
  static const auto kUtc = std::make_shared<const Data>(Data{Zone{.name = "UTC"}});
  return TimeZone(kUtc);
}

TimeZone TimeZone::with_offset(std::string name, std::int32_t offset_seconds) {
  return TimeZone(std::make_shared<const Data>(Data{Zone{
      .name = std::move(name), .initial = std::clamp(offset_seconds, kMinOffset, kMaxOffset)}}));
}

std::optional<TimeZone> TimeZone::fixed(std::string_view spec) {
  if (spec == "UTC" || spec == "Z") {
    return utc();
  }
  const auto digit = [spec](std::size_t i) { return spec[i] >= '0' && spec[i] <= '9'; };
  if (spec.size() != 6 || (spec[0] != '+' && spec[0] != '-') || !digit(1) || !digit(2) ||
      spec[3] != ':' || !digit(4) || !digit(5)) {
    return std::nullopt;
  }
  const int hours = (spec[1] - '0') * 10 + (spec[2] - '0');
  const int minutes = (spec[4] - '0') * 10 + (spec[5] - '0');
  if (hours > 23 || minutes > 59) {
    return std::nullopt;
  }
  return with_offset(std::string(spec), (spec[0] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60));
}

Result<TimeZone> TimeZone::from_tzif(std::string name, std::string_view bytes) {
  Data data;
  if (auto error = read_tzif(bytes, data)) {
    return make_error(Errc::invalid_argument, "time zone '" + name + "': " + *error);
  }
  data.name = std::move(name);
  return TimeZone(std::make_shared<const Data>(std::move(data)));
}

const std::string& TimeZone::name() const {
  return data_->name;
}

std::int32_t TimeZone::offset_seconds(Timestamp utc) const {
  return data_->offset_at(floor_div(utc, 1000));
}

LocalTime TimeZone::to_local(Timestamp utc) const {
  const std::int64_t local = saturating_add(utc, std::int64_t{offset_seconds(utc)} * 1000);
  LocalTime out{0, 0, 0, (local % kMsPerDay + kMsPerDay) % kMsPerDay};
  civil_from_days(floor_div(local, kMsPerDay), out.year, out.month, out.day);
  return out;
}

Timestamp TimeZone::to_utc(const LocalTime& local) const {
  const std::int64_t day = days_from_civil(local.year, local.month, local.day);
  std::int64_t local_ms = 0;
  if (__builtin_mul_overflow(day, kMsPerDay, &local_ms) ||
      __builtin_add_overflow(local_ms, local.ms_of_day, &local_ms)) {
    return day < 0 ? kMin : kMax;  // no offset brings it back into range
  }
  return resolve(local_ms, false);
}

std::int64_t TimeZone::local_day(Timestamp utc) const {
  return floor_div(saturating_add(utc, std::int64_t{offset_seconds(utc)} * 1000), kMsPerDay);
}

Timestamp TimeZone::start_of_day(std::int64_t day) const {
  std::int64_t local_ms = 0;
  if (__builtin_mul_overflow(day, kMsPerDay, &local_ms)) {
    return day < 0 ? kMin : kMax;
  }
  return resolve(local_ms, true);
}

Timestamp TimeZone::resolve(std::int64_t local_ms, bool gap_to_end) const {
  // Every offset lies in [kMinOffset, kMaxOffset], so only instants within that distance of
  // `local_ms` can show it. Walk the stretches of constant offset that meet that window, in order:
  // the first whose offset puts `local_ms` inside the stretch gives the earliest instant.
  const std::int64_t local_s = floor_div(local_ms, 1000);
  std::int64_t from = local_s - kMaxOffset - 1;
  std::int32_t offset = data_->offset_at(from);
  std::int64_t begin_ms = kMin;
  std::optional<Transition> gap;  // the transition whose gap holds `local_ms`
  std::int32_t gap_offset = 0;    // the offset before it
  for (;;) {
    const std::optional<Transition> next = data_->next_after(from);
    const Timestamp t = saturating_add(local_ms, -std::int64_t{offset} * 1000);
    const std::int64_t end_ms = next ? saturating_mul(next->at, 1000) : kMax;
    if (t >= begin_ms && (!next || t < end_ms)) {
      return t;
    }
    if (!next || next->at > local_s - kMinOffset) {
      break;
    }
    if (!gap && t >= end_ms &&
        saturating_add(local_ms, -std::int64_t{next->offset} * 1000) < end_ms) {
      gap = next;
      gap_offset = offset;
    }
    from = next->at;
    offset = next->offset;
    begin_ms = end_ms;
  }
  if (gap) {
    return gap_to_end ? saturating_mul(gap->at, 1000)
                      : saturating_add(local_ms, -std::int64_t{gap_offset} * 1000);
  }
  return saturating_add(local_ms,
                        -std::int64_t{offset} * 1000);  // unreachable with consistent data
}

}  // namespace carepath
