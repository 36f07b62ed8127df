#include "workflow/loader.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <system_error>
#include <utility>

#include <boost/json/value.hpp>
#include <yaml-cpp/yaml.h>

#include "core/consent.hpp"
#include "core/duration.hpp"
#include "core/json_schema.hpp"
#include "core/outcome.hpp"
#include "workflow/yaml_support.hpp"

namespace carepath::workflow {
namespace {

constexpr int kFormatVersion = 1;

// The keys of format 1, in the order the docs list them. Anything else is an error: that is what
// lets a later version add keys (timers, ...) without changing the meaning of any file that
// loads today.
constexpr std::array<std::string_view, 10> kTopKeys{"carepath",    "workflow", "version", "title",
                                                    "description", "roles",    "fields",  "states",
                                                    "clocks",      "consents"};
constexpr std::array<std::string_view, 12> kFieldKeys{
    "type",        "min",      "max",         "values",    "sensitivity", "visible_to",
    "editable_by", "required", "description", "placement", "assignment",  "retain"};
constexpr std::array<std::string_view, 9> kStateKeys{
    "initial", "final", "outcome", "description", "on_enter", "on_exit", "on", "after", "every"};
constexpr std::array<std::string_view, 4> kAfterKeys{"in", "at", "event", "met_by"};
constexpr std::array<std::string_view, 5> kEveryKeys{"interval", "first", "event", "until",
                                                     "met_by"};
constexpr std::array<std::string_view, 10> kClockKeys{
    "title", "description", "starts",     "due",       "excludes",
    "stops", "warn_before", "on_warning", "on_breach", "extendable_by"};
constexpr std::array<std::string_view, 2> kTriggerKeys{"on_event", "on_enter"};
constexpr std::array<std::string_view, 2> kClockActionKeys{"event", "notify"};
constexpr std::array<std::string_view, 1> kExcludeKeys{"between"};
constexpr std::string_view kDurationRule =
    "a duration such as 10s, 30m, 24h, 15d or 4mo (calendar months), or ISO 8601 such as P15D "
    "or PT24H";
constexpr std::array<std::string_view, 8> kTransitionKeys{
    "to", "roles", "requires", "requires_consent", "when", "steps", "counts_as", "description"};
constexpr std::array<std::string_view, 3> kConsentKeys{"title", "description", "override_by"};
constexpr std::array<std::string_view, 6> kStepCallKeys{"step",  "with",  "when",
                                                        "async", "retry", "on_complete"};
constexpr std::array<std::string_view, 2> kRetryKeys{"max_attempts", "backoff"};
constexpr std::int64_t kMaxAttemptsLimit = 100;
// Case history records these itself; a transition with the same name would be ambiguous there.
// The clock_* events are how a statutory clock is paused, resumed or extended, with a reason;
// `migrated` records a case moved to another version by a migration plan; `erased` and
// `retention_applied` record an erasure and the retention job removing expired values;
// consent_given and consent_withdrawn record consents (core/consent.hpp).
constexpr std::array<std::string_view, 10> kReservedEvents{
    "opened",   "updated", "clock_extended",    "clock_paused",  "clock_resumed",
    "migrated", "erased",  "retention_applied", "consent_given", "consent_withdrawn"};

constexpr std::array<FieldType, 9> kFieldTypes{
    FieldType::string,   FieldType::text,        FieldType::integer,
    FieldType::number,   FieldType::boolean,     FieldType::date,
    FieldType::datetime, FieldType::enumeration, FieldType::list};
constexpr std::array<Sensitivity, 4> kSensitivities{
    Sensitivity::none, Sensitivity::identifying, Sensitivity::sensitive, Sensitivity::privileged};

constexpr std::string_view kNameRule = "lower-case letters, digits and '_', starting with a letter";

bool is_name(std::string_view s) {
  if (s.empty() || s.front() < 'a' || s.front() > 'z') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Whether `name` occurs in `text` as a whole word (not inside a longer name).
bool mentions(std::string_view text, std::string_view name) {
  auto is_word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  for (std::size_t at = text.find(name); at != std::string_view::npos;
       at = text.find(name, at + 1)) {
    const std::size_t end = at + name.size();
    if ((at == 0 || !is_word(text[at - 1])) && (end == text.size() || !is_word(text[end]))) {
      return true;
    }
  }
  return false;
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

template <class Range>
std::string join(const Range& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, the most common
// typing slip ("initail").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The closest candidate when it is close enough to be a likely typo; empty otherwise.
template <class Range>
std::string closest(std::string_view word, const Range& candidates) {
  std::string best;
  std::size_t best_distance = 0;
  for (const auto& candidate : candidates) {
    const std::string_view c(candidate);
    const std::size_t limit = c.size() <= 4 ? 1 : 2;
    const std::size_t distance = edit_distance(word, c);
    if (distance <= limit && distance < word.size() && (best.empty() || distance < best_distance)) {
      best = std::string(c);
      best_distance = distance;
    }
  }
  return best;
}

// "expected one of: a, b, c; did you mean 'b'?" for a word that is not among `candidates`.
template <class Range>
std::string expected_one_of(std::string_view word, const Range& candidates) {
  std::string out = "expected one of: " + join(candidates);
  const std::string suggestion = closest(word, candidates);
  if (!suggestion.empty()) {
    out += "; did you mean " + in_quotes(suggestion) + "?";
  }
  return out;
}

std::string_view kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// A quoted or block scalar carries the non-specific tag "!"; a plain one carries "?". Only plain
// scalars are numbers or booleans: `version: "1"` is a string, as it is in JSON Schema.
bool is_plain(const YAML::Node& scalar) {
  return scalar.Tag() == "?";
}

// A plain decimal integer scalar ("42", "+42", "-1"); nullopt for anything else.
std::optional<std::int64_t> plain_integer(const YAML::Node& node) {
  if (!node.IsScalar() || !is_plain(node)) {
    return std::nullopt;
  }
  const std::string& s = node.Scalar();
  std::int64_t value = 0;
  const char* begin = s.data() + (!s.empty() && s.front() == '+' ? 1 : 0);
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || begin == end) {
    return std::nullopt;
  }
  return value;
}

// "500ms", "30s", "5m", "2h", "1d": a whole number and one unit, in milliseconds; nullopt for any
// other spelling or a value too large to hold.
std::optional<std::int64_t> parse_duration_ms(std::string_view s) {
  constexpr std::array<std::pair<std::string_view, std::int64_t>, 5> kUnits{{
      {"ms", 1},
      {"s", 1'000},
      {"m", 60'000},
      {"h", 3'600'000},
      {"d", 86'400'000},
  }};
  const std::size_t digits = s.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string_view::npos) {
    return std::nullopt;
  }
  std::int64_t count = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + digits, count);
  if (ec != std::errc() || end != s.data() + digits) {
    return std::nullopt;
  }
  for (const auto& [unit, ms] : kUnits) {
    if (s.substr(digits) == unit) {
      if (count > INT64_MAX / ms) {
        return std::nullopt;
      }
      return count * ms;
    }
  }
  return std::nullopt;
}

// Moves `i` past the digits at s[i] and says how many there were.
std::size_t count_digits(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
  }
  return i - start;
}

// The YAML 1.2 core schema's float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_core_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  const std::size_t whole = count_digits(s, i);
  std::size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = count_digits(s, i);
  }
  if (whole == 0 && fraction == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (count_digits(s, i) == 0) {
      return false;
    }
  }
  return i == s.size();
}

// The value of a plain scalar under the YAML 1.2 core schema (null, booleans, decimal, octal
// `0o` and hexadecimal `0x` integers, floats), so that `with:` blocks mean what the YAML spec and
// other tools say; anything else is a string. nullopt for a number JSON cannot hold (.inf, .nan,
// 1e999).
std::optional<boost::json::value> core_schema_value(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return boost::json::value(nullptr);
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    return boost::json::value(true);
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return boost::json::value(false);
  }
  const std::string_view text = s;
  const std::string_view body = text.substr(s.front() == '+' ? 1 : 0);
  auto integer = [](std::string_view digits, int base) -> std::optional<boost::json::value> {
    std::int64_t value = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (ec == std::errc() && end == digits.data() + digits.size()) {
      return boost::json::value(value);
    }
    std::uint64_t big = 0;
    const auto [big_end, big_ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), big, base);
    if (big_ec == std::errc() && big_end == digits.data() + digits.size()) {
      return boost::json::value(big);
    }
    return std::nullopt;
  };
  auto all_of = [](std::string_view digits, std::string_view allowed) {
    return !digits.empty() && digits.find_first_not_of(allowed) == std::string_view::npos;
  };
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    const std::string_view digits = text.substr(2);
    const bool octal = s[1] == 'o';
    if (all_of(digits, octal ? "01234567" : "0123456789abcdefABCDEF")) {
      return integer(digits, octal ? 8 : 16);
    }
    return boost::json::value(s);
  }
  const std::string_view unsigned_body = body.substr(!body.empty() && body.front() == '-' ? 1 : 0);
  if (all_of(unsigned_body, "0123456789")) {
    if (auto value = integer(body, 10)) {
      return value;
    }
    // Too large for 64 bits: still a number, as JSON would read it.
  } else if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" ||
             s == "+.INF" || s == "-.inf" || s == "-.Inf" || s == "-.INF" || s == ".nan" ||
             s == ".NaN" || s == ".NAN") {
    return std::nullopt;
  } else if (!is_core_float(s)) {
    return boost::json::value(s);
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec != std::errc() || end != body.data() + body.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return boost::json::value(value);
}

// One reference token of a JSON Pointer, unescaped ("~1" is '/', "~0" is '~').
std::string unescape_pointer_token(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += token[i];
    }
  }
  return out;
}

// The reference tokens of a JSON Pointer: "/checks/0" is {"checks", "0"}; "" is none.
std::vector<std::string> pointer_tokens(std::string_view pointer) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < pointer.size();) {
    const std::size_t next = pointer.find('/', at + 1);
    const std::size_t end = next == std::string_view::npos ? pointer.size() : next;
    out.push_back(unescape_pointer_token(pointer.substr(at + 1, end - at - 1)));
    at = end;
  }
  return out;
}

// The keys the schema declares (`properties`) for the object at the first `depth` tokens, found
// by following `properties` and `items` only; empty when there is no such plain path.
std::vector<std::string> schema_keys(const boost::json::value& schema,
                                     const std::vector<std::string>& tokens, std::size_t depth) {
  const boost::json::value* at = &schema;
  for (std::size_t i = 0; i <= depth; ++i) {
    if (!at->is_object()) {
      return {};
    }
    const boost::json::value* properties = at->as_object().if_contains("properties");
    if (i == depth) {
      std::vector<std::string> out;
      if (properties != nullptr && properties->is_object()) {
        for (const auto& member : properties->as_object()) {
          out.emplace_back(member.key());
        }
      }
      return out;
    }
    const boost::json::value* items = at->as_object().if_contains("items");
    if (properties != nullptr && properties->is_object() &&
        properties->as_object().contains(tokens[i])) {
      at = &properties->as_object().at(tokens[i]);
    } else if (items != nullptr && items->is_object() && !tokens[i].empty() &&
               tokens[i].find_first_not_of("0123456789") == std::string::npos) {
      at = items;
    } else {
      return {};
    }
  }
  return {};
}

std::size_t utf8_length(std::uint32_t code_point) {
  if (code_point < 0x80) {
    return 1;
  }
  if (code_point < 0x800) {
    return 2;
  }
  return code_point < 0x10000 ? 3 : 4;
}

// The text of a YAML file, with the means to turn yaml-cpp's byte offsets into 1-based lines and
// character columns, and offsets inside a scalar's value back into the file.
class SourceText {
 public:
  explicit SourceText(std::string_view text) : text_(text) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        line_starts_.push_back(i + 1);
      }
    }
  }

  std::string_view text() const { return text_; }

  SourcePos at(std::size_t offset) const {
    offset = std::min(offset, text_.size());
    const auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const std::size_t line_start = *(next - 1);
    int column = 1;
    for (std::size_t i = line_start; i < offset; ++i) {
      // Count characters, not bytes: UTF-8 continuation bytes are 10xxxxxx.
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) {
        ++column;
      }
    }
    return SourcePos{static_cast<int>(next - line_starts_.begin()), column};
  }

  SourcePos at(const YAML::Mark& mark) const {
    if (mark.pos >= 0) {
      return at(static_cast<std::size_t>(mark.pos));
    }
    if (mark.line >= 0) {
      return SourcePos{mark.line + 1, mark.column + 1};
    }
    return SourcePos{1, 1};
  }

  // The byte in the file holding byte `offset` of `value`, the decoded text of the scalar that
  // starts at byte `start`. Follows quoting, escapes, line folding and block scalars, and checks
  // each step against `value`; nullopt when the spelling is not understood.
  std::optional<std::size_t> locate(std::size_t start, std::string_view value,
                                    std::size_t offset) const {
    std::size_t p = start;
    // Skip node properties (a tag or an anchor) written before the scalar.
    while (p < text_.size() && (text_[p] == '!' || text_[p] == '&')) {
      while (p < text_.size() && text_[p] != ' ' && text_[p] != '\t' && text_[p] != '\n') {
        ++p;
      }
      while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) {
        ++p;
      }
    }
    if (p >= text_.size()) {
      return std::nullopt;
    }
    const char first = text_[p];
    if (first == '|' || first == '>') {
      return locate_block(p, value, offset);
    }
    if (first == '"' || first == '\'') {
      return locate_flow(p + 1, first, value, offset);
    }
    return locate_flow(p, '\0', value, offset);
  }

 private:
  bool is_blank(std::size_t p) const {
    return p < text_.size() && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\r');
  }

  // Plain (quote == '\0'), single- or double-quoted scalars, which fold line breaks: one break
  // becomes a space, n > 1 breaks become n - 1 newlines, and the spaces around them vanish.
  std::optional<std::size_t> locate_flow(std::size_t p, char quote, std::string_view value,
                                         std::size_t offset) const {
    std::size_t v = 0;
    while (v < offset) {
      if (p >= text_.size()) {
        return std::nullopt;
      }
      const char c = text_[p];
      if (quote != '\0' && c == quote) {
        if (quote == '\'' && p + 1 < text_.size() && text_[p + 1] == '\'') {
          if (value[v] != '\'') {
            return std::nullopt;
          }
          p += 2;
          ++v;
          continue;
        }
        return std::nullopt;  // the closing quote, before the offset was reached
      }
      if (quote == '"' && c == '\\') {
        const auto escape = escape_length(p);
        if (!escape) {
          return std::nullopt;
        }
        if (v + escape->second > offset) {
          return p;  // the offset is inside the escape's bytes; point at the backslash
        }
        p += escape->first;
        v += escape->second;
        if (escape->second == 0) {  // an escaped line break also eats the next indentation
          while (is_blank(p)) {
            ++p;
          }
        }
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        std::size_t end = p;
        int breaks = 0;
        while (end < text_.size() && (is_blank(end) || text_[end] == '\n')) {
          breaks += text_[end] == '\n' ? 1 : 0;
          ++end;
        }
        if (breaks > 0) {
          const std::string folded = breaks == 1
                                         ? std::string(" ")
                                         : std::string(static_cast<std::size_t>(breaks - 1), '\n');
          if (value.substr(v, folded.size()) != folded) {
            return std::nullopt;
          }
          if (v + folded.size() > offset) {
            return p;
          }
          v += folded.size();
          p = end;
          continue;
        }
      }
      if (v >= value.size() || value[v] != c) {
        return std::nullopt;
      }
      ++p;
      ++v;
    }
    return p;
  }

  // Source bytes and value bytes of the escape sequence at `p` in a double-quoted scalar.
  std::optional<std::pair<std::size_t, std::size_t>> escape_length(std::size_t p) const {
    if (p + 1 >= text_.size()) {
      return std::nullopt;
    }
    const char e = text_[p + 1];
    if (e == '\n') {
      return std::pair<std::size_t, std::size_t>{2, 0};
    }
    if (e == '\r' && p + 2 < text_.size() && text_[p + 2] == '\n') {
      return std::pair<std::size_t, std::size_t>{3, 0};
    }
    std::size_t digits = 0;
    switch (e) {
      case 'x':
        digits = 2;
        break;
      case 'u':
        digits = 4;
        break;
      case 'U':
        digits = 8;
        break;
      case 'N':
      case '_':
        return std::pair<std::size_t, std::size_t>{2, 2};
      case 'L':
      case 'P':
        return std::pair<std::size_t, std::size_t>{2, 3};
      default:
        return std::pair<std::size_t, std::size_t>{2, 1};
    }
    if (p + 2 + digits > text_.size()) {
      return std::nullopt;
    }
    std::uint32_t code_point = 0;
    const char* begin = text_.data() + p + 2;
    const auto [end, ec] = std::from_chars(begin, begin + digits, code_point, 16);
    if (ec != std::errc() || end != begin + digits) {
      return std::nullopt;
    }
    return std::pair<std::size_t, std::size_t>{2 + digits, utf8_length(code_point)};
  }

  // Literal (|) and folded (>) block scalars: the text starts on the line after the indicator,
  // indented; literal keeps every line break, folded folds them like a plain scalar.
  std::optional<std::size_t> locate_block(std::size_t p, std::string_view value,
                                          std::size_t offset) const {
    const bool folded = text_[p] == '>';
    ++p;
    while (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) {
      ++p;
    }
    if (p < text_.size() && text_[p] >= '1' && text_[p] <= '9') {
      return std::nullopt;  // an explicit indentation is relative to the parent; not worth it
    }
    const std::size_t newline = text_.find('\n', p);
    if (newline == std::string_view::npos) {
      return std::nullopt;
    }
    p = newline + 1;
    // The indentation of the first non-empty line is the scalar's.
    std::size_t indent = 0;
    for (std::size_t q = p; q < text_.size();) {
      std::size_t spaces = 0;
      while (q + spaces < text_.size() && text_[q + spaces] == ' ') {
        ++spaces;
      }
      if (q + spaces < text_.size() && text_[q + spaces] != '\n' && text_[q + spaces] != '\r') {
        indent = spaces;
        break;
      }
      const std::size_t next = text_.find('\n', q);
      if (next == std::string_view::npos) {
        return std::nullopt;
      }
      q = next + 1;
    }
    std::size_t v = 0;
    bool line_start = true;
    while (true) {
      if (line_start) {
        for (std::size_t i = 0; i < indent && p < text_.size() && text_[p] == ' '; ++i) {
          ++p;
        }
        line_start = false;
      }
      if (v >= offset) {
        return p;
      }
      if (p >= text_.size()) {
        return std::nullopt;
      }
      const char c = text_[p] == '\r' ? '\n' : text_[p];
      if (c == '\n') {
        std::size_t end = text_[p] == '\r' ? p + 2 : p + 1;
        std::string replaced = "\n";
        if (folded) {
          // Count the blank lines that follow; they become the newlines of the value.
          int breaks = 1;
          std::size_t q = end;
          while (true) {
            std::size_t r = q;
            while (is_blank(r)) {
              ++r;
            }
            if (r < text_.size() && text_[r] == '\n') {
              ++breaks;
              q = r + 1;
              continue;
            }
            break;
          }
          if (breaks > 1 || v + 1 < value.size()) {
            replaced = breaks == 1 ? std::string(" ")
                                   : std::string(static_cast<std::size_t>(breaks - 1), '\n');
            end = q;
          }
        }
        if (value.substr(v, replaced.size()) != replaced) {
          return std::nullopt;
        }
        if (v + replaced.size() > offset) {
          return p;
        }
        v += replaced.size();
        p = end;
        line_start = true;
        continue;
      }
      if (v >= value.size() || value[v] != c) {
        return std::nullopt;
      }
      ++p;
      ++v;
    }
  }

  std::string_view text_;
  std::vector<std::size_t> line_starts_;
};

// One key of a YAML map with its value. Nodes are only ever copy-constructed, never assigned:
// assigning to a yaml-cpp Node rewrites the node it refers to.
struct Entry {
  YAML::Node key;
  YAML::Node value;
  std::string name;
};

// A name written in a list (roles, requires, ...) and where.
struct NameItem {
  std::string name;
  YAML::Node node;
};

class Loader {
 public:
  Loader(std::string_view text, std::string file_name, const StepCatalog* steps)
      : source_(text), file_(std::move(file_name)), steps_(steps) {}

  LoadResult run();

 private:
  // --- diagnostics ---
  void report(Severity severity, SourcePos pos, std::string message) {
    if (severity == Severity::error) {
      ++errors_;
    }
    diagnostics_.push_back(Diagnostic{file_, pos.line, pos.column, severity, std::move(message)});
  }
  void error(const YAML::Node& at, std::string message) {
    report(Severity::error, pos_of(at), std::move(message));
  }
  SourcePos pos_of(const YAML::Node& node) const { return source_.at(node.Mark()); }

  // --- generic readers; each reports what it could not accept and returns nullopt ---
  std::vector<Entry> entries(const YAML::Node& map, std::span<const std::string_view> allowed);
  const Entry* find(const std::vector<Entry>& list, std::string_view name) const;
  // Reports a required key missing from `map`, unless a misspelling of it was reported already.
  // Reported at `at`.
  void missing(const YAML::Node& map, const YAML::Node& at, std::string_view key,
               std::string message);
  bool expect_kind(const Entry& e, YAML::NodeType::value kind, std::string_view what);
  std::optional<std::string> read_string(const Entry& e);
  std::optional<bool> read_bool(const Entry& e);
  // One word of the outcome vocabulary (core/outcome.hpp); an error listing them otherwise.
  std::optional<Outcome> read_outcome(const Entry& e);
  std::optional<std::int64_t> read_integer(const Entry& e);
  std::optional<double> read_number(const Entry& e);
  std::optional<std::vector<NameItem>> read_names(const Entry& e, std::string_view what);
  std::vector<std::string> read_roles(const Entry& e);

  // --- the format ---
  void read_workflow(const YAML::Node& root);
  void read_field(const Entry& e);
  // At most one field is the placement and one the assignment.
  void check_markers(const YAML::Node& fields);
  void read_min_max(const Entry& field_entry, const std::vector<Entry>& keys, Field& field);
  void read_states(const Entry& states);
  void read_transitions(StateId from, const Entry& on);
  void read_row(StateId from, const std::string& event, const YAML::Node& row,
                const YAML::Node& anchor);
  std::optional<Guard> compile_guard(const Entry& when);
  EventId intern_event(const std::string& name);
  void check_graph(const Entry& states_entry);

  // --- time: state timers and statutory clocks ---
  std::optional<Duration> read_duration(const Entry& e);
  // `retain: "<duration> after closed|opened"`.
  std::optional<Retention> read_retention(const Entry& e);
  // An event a timer or clock fires; interned, so a workflow need not have a row for it.
  std::optional<std::string> read_fired_event(const Entry& e);
  void read_timers(State& state, const Entry* after, const Entry* every);
  void check_timer_events();
  void read_clocks(const Entry& clocks);
  // --- consents (core/consent.hpp) ---
  void read_consents(const Entry& consents);
  void read_consent(const Entry& e);
  void read_required_consents(const Entry& e, Transition& t);
  void read_clock(const Entry& e);
  std::vector<ClockTrigger> read_triggers(const Entry& e);
  ClockReaction read_clock_action(const Entry& e);
  // An event name some transition uses; reports `what` with a suggestion otherwise.
  bool known_event(const YAML::Node& at, const std::string& name, std::string_view what);

  // --- step calls ---
  std::vector<StepCall> read_step_calls(const Entry& list);
  StepCall read_step_call(const YAML::Node& item);
  const StepType* find_step_type(const Entry& step, const std::string& name);
  void read_retry(const Entry& retry, RetryPolicy& policy);
  bool read_config(const StepType& type, const Entry& step, const Entry* with, StepCall& call);
  boost::json::value to_json(const YAML::Node& node);
  void report_schema_problem(const StepType& type, const Entry& step, const Entry* with,
                             const SchemaProblem& problem);
  void create_instance(const StepType& type, const Entry& step, StepCall& call);
  void check_on_complete();

  SourceText source_;
  std::string file_;
  const StepCatalog* steps_;
  std::vector<Diagnostic> diagnostics_;
  int errors_ = 0;
  std::shared_ptr<Workflow> workflow_ = std::make_shared<Workflow>();
  std::map<std::string, std::size_t, std::less<>> field_index_;
  std::map<std::string, StateId, std::less<>> state_index_;
  std::vector<std::string> state_names_;
  std::vector<std::string> broken_fields_;  // declared, but with a definition in error
  bool roles_declared_ = false;             // the top-level `roles` list was readable
  // Consents declared, but with a declaration in error.
  std::vector<std::string> broken_consents_;
  // Maps and the known key that an unknown key in them was probably meant to be.
  std::vector<std::pair<YAML::Node, std::string>> suggested_;
  // Every event some state's `on` names, in source order, and the `on_complete` values that
  // must be among them; checked once every transition has been read.
  std::vector<std::string> event_names_;
  std::vector<std::pair<std::string, YAML::Node>> on_complete_refs_;
  // Timer events and `met_by` events, checked once every transition has been read.
  struct TimerRef {
    StateId state;
    std::string event;
    YAML::Node node;
    bool needs_row;  // a timer's own event (warn when the state has no row); met_by: any event
  };
  std::vector<TimerRef> timer_refs_;
  // Step types whose schema this engine's validator was asked about, and its answer.
  std::map<const StepType*, bool> schema_usable_;
};

std::vector<Entry> Loader::entries(const YAML::Node& map,
                                   std::span<const std::string_view> allowed) {
  std::vector<Entry> out;
  std::map<std::string, SourcePos, std::less<>> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      error(kv.first, "expected a key name, found " + std::string(kind_name(kv.first)));
      continue;
    }
    const std::string& name = kv.first.Scalar();
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      error(kv.first, "unknown key " + in_quotes(name) + "; " + expected_one_of(name, allowed));
      if (std::string suggestion = closest(name, allowed); !suggestion.empty()) {
        suggested_.emplace_back(map, std::move(suggestion));
      }
      continue;
    }
    // yaml-cpp 0.7 keeps both pairs of a repeated key; YAML says keys are unique, and silently
    // taking either one would hide a mistake.
    const SourcePos here = pos_of(kv.first);
    const auto [it, inserted] = seen.emplace(name, here);
    if (!inserted) {
      error(kv.first, "duplicate key " + in_quotes(name) + " (first at line " +
                          std::to_string(it->second.line) + ")");
      continue;
    }
    out.push_back(Entry{kv.first, kv.second, name});
  }
  return out;
}

void Loader::missing(const YAML::Node& map, const YAML::Node& at, std::string_view key,
                     std::string message) {
  const bool misspelled = std::any_of(suggested_.begin(), suggested_.end(), [&](const auto& s) {
    return s.first.is(map) && s.second == key;
  });
  if (!misspelled) {
    error(at, std::move(message));
  }
}

const Entry* Loader::find(const std::vector<Entry>& list, std::string_view name) const {
  const auto it =
      std::find_if(list.begin(), list.end(), [name](const Entry& e) { return e.name == name; });
  return it == list.end() ? nullptr : &*it;
}

bool Loader::expect_kind(const Entry& e, YAML::NodeType::value kind, std::string_view what) {
  if (e.value.Type() == kind) {
    return true;
  }
  if (e.value.IsNull()) {
    error(e.key, in_quotes(e.name) + " has no value; expected " + std::string(what));
  } else {
    error(e.value, "expected " + std::string(what) + " for " + in_quotes(e.name) + ", found " +
                       std::string(kind_name(e.value)));
  }
  return false;
}

std::optional<std::string> Loader::read_string(const Entry& e) {
  if (!expect_kind(e, YAML::NodeType::Scalar, "a string")) {
    return std::nullopt;
  }
  return e.value.Scalar();
}

std::optional<bool> Loader::read_bool(const Entry& e) {
  if (!expect_kind(e, YAML::NodeType::Scalar, "true or false")) {
    return std::nullopt;
  }
  const std::string& s = e.value.Scalar();
  if (is_plain(e.value)) {
    if (s == "true" || s == "True" || s == "TRUE") {
      return true;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      return false;
    }
  }
  error(e.value, "expected true or false for " + in_quotes(e.name) + ", found " +
                     (is_plain(e.value) ? in_quotes(s) : "a quoted string"));
  return std::nullopt;
}

std::optional<Outcome> Loader::read_outcome(const Entry& e) {
  const auto name = read_string(e);
  if (!name) {
    return std::nullopt;
  }
  if (const auto outcome = parse_outcome(*name)) {
    return outcome;
  }
  std::vector<std::string> names;
  for (const Outcome o : kOutcomes) {
    names.emplace_back(outcome_name(o));
  }
  error(e.value, "unknown outcome " + in_quotes(*name) + " in " + in_quotes(e.name) + "; " +
                     expected_one_of(*name, names));
  return std::nullopt;
}

std::optional<std::int64_t> Loader::read_integer(const Entry& e) {
  if (!expect_kind(e, YAML::NodeType::Scalar, "an integer")) {
    return std::nullopt;
  }
  const auto value = plain_integer(e.value);
  if (!value) {
    error(e.value, "expected an integer for " + in_quotes(e.name) + ", found " +
                       (is_plain(e.value) ? in_quotes(e.value.Scalar()) : "a quoted string"));
  }
  return value;
}

std::optional<double> Loader::read_number(const Entry& e) {
  if (!expect_kind(e, YAML::NodeType::Scalar, "a number")) {
    return std::nullopt;
  }
  const std::string& s = e.value.Scalar();
  double value = 0;
  const char* begin = s.data() + (!s.empty() && s.front() == '+' ? 1 : 0);
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), value);
  // from_chars also reads "inf" and "nan"; neither is a usable limit.
  if (!is_plain(e.value) || ec != std::errc() || end != s.data() + s.size() || begin == end ||
      !std::isfinite(value)) {
    error(e.value, "expected a number for " + in_quotes(e.name) + ", found " +
                       (is_plain(e.value) ? in_quotes(s) : "a quoted string"));
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<NameItem>> Loader::read_names(const Entry& e, std::string_view what) {
  if (!expect_kind(e, YAML::NodeType::Sequence, "a list of " + std::string(what) + " names")) {
    return std::nullopt;
  }
  // The names that are fine are returned even when others are not, so that one typo does not
  // turn every later use of the list into an error too.
  std::vector<NameItem> out;
  for (const auto& item : e.value) {
    if (!item.IsScalar()) {
      error(item,
            "expected a " + std::string(what) + " name, found " + std::string(kind_name(item)));
      continue;
    }
    const std::string& name = item.Scalar();
    if (!is_name(name)) {
      error(item, "invalid " + std::string(what) + " name " + in_quotes(name) + "; expected " +
                      std::string(kNameRule));
      continue;
    }
    if (std::any_of(out.begin(), out.end(), [&](const NameItem& n) { return n.name == name; })) {
      error(item,
            std::string(what) + " " + in_quotes(name) + " is listed twice in " + in_quotes(e.name));
      continue;
    }
    out.push_back(NameItem{name, item});
  }
  return out;
}

std::vector<std::string> Loader::read_roles(const Entry& e) {
  std::vector<std::string> out;
  const auto names = read_names(e, "role");
  if (!names) {
    return out;
  }
  for (const NameItem& item : *names) {
    // Without a usable top-level `roles` list that error was reported once already.
    if (roles_declared_ && !workflow_->has_role(item.name)) {
      error(item.node, "undeclared role " + in_quotes(item.name) + "; " +
                           expected_one_of(item.name, workflow_->roles) +
                           " (declare roles in the top-level 'roles' list)");
      continue;
    }
    out.push_back(item.name);
  }
  return out;
}

LoadResult Loader::run() {
  LoadResult result;
  try {
    const detail::YamlDocuments documents = detail::load_documents(source_.text());
    if (documents.first.IsNull()) {
      report(Severity::error, SourcePos{1, 1},
             "empty file; expected a workflow map starting with 'carepath: 1'");
    } else {
      read_workflow(documents.first);
    }
    // A trailing `---` makes an empty second document, which is harmless; content is not.
    for (const auto& later : documents.later) {
      if (!later.null) {
        report(Severity::error, source_.at(later.mark),
               "a workflow file holds one YAML document; found another after '---'");
        break;
      }
    }
  } catch (const YAML::Exception& e) {
    // Syntax errors, and anything yaml-cpp throws while we walk the tree: the file is not
    // loadable, and its mark is the best position there is.
    report(Severity::error, source_.at(e.mark), "invalid YAML: " + e.msg);
  }
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
  result.diagnostics = std::move(diagnostics_);
  if (errors_ == 0) {
    workflow_->source_file = file_;
    workflow_->finalize();
    result.workflow = std::move(workflow_);
  }
  return result;
}

void Loader::read_workflow(const YAML::Node& root) {
  if (!root.IsMap()) {
    error(root, "expected a map of workflow keys (" + join(kTopKeys) + "), found " +
                    std::string(kind_name(root)));
    return;
  }
  // The format version comes first: under another version the other keys may mean something
  // else, and reporting them would only add noise.
  for (const auto& kv : root) {
    if (kv.first.IsScalar() && kv.first.Scalar() == "carepath") {
      const auto format = plain_integer(kv.second);
      if (format && *format != kFormatVersion) {
        error(kv.second, "unsupported format version " + std::to_string(*format) +
                             "; this engine reads 'carepath: " + std::to_string(kFormatVersion) +
                             "'");
        return;
      }
      break;
    }
  }
  const std::vector<Entry> keys = entries(root, kTopKeys);
  if (const Entry* e = find(keys, "carepath")) {
    read_integer(*e);
  } else {
    missing(root, root, "carepath",
            "missing required key 'carepath' (the format version); expected 'carepath: 1'");
  }

  if (const Entry* e = find(keys, "workflow")) {
    if (const auto name = read_string(*e)) {
      if (is_name(*name)) {
        workflow_->name = *name;
      } else {
        error(e->value,
              "invalid workflow name " + in_quotes(*name) + "; expected " + std::string(kNameRule));
      }
    }
  } else {
    missing(root, root, "workflow", "missing required key 'workflow' (the workflow's name)");
  }

  if (const Entry* e = find(keys, "version")) {
    if (const auto version = read_integer(*e)) {
      if (*version < 1 || *version > INT32_MAX) {
        error(e->value, "invalid workflow version " + std::to_string(*version) +
                            "; expected a positive integer");
      } else {
        workflow_->version = static_cast<int>(*version);
      }
    }
  } else {
    missing(root, root, "version",
            "missing required key 'version' (a positive integer, raised on every change)");
  }

  if (const Entry* e = find(keys, "title")) {
    if (auto title = read_string(*e)) {
      workflow_->title = std::move(*title);
    }
  }
  if (const Entry* e = find(keys, "description")) {
    read_string(*e);
  }

  if (const Entry* e = find(keys, "roles")) {
    if (const auto names = read_names(*e, "role")) {
      if (names->empty()) {
        error(e->value, "'roles' is empty; expected at least one role");
      }
      for (const NameItem& item : *names) {
        workflow_->roles.push_back(item.name);
      }
      roles_declared_ = !names->empty();
    }
  } else {
    missing(root, root, "roles",
            "missing required key 'roles' (the roles that work on cases of this workflow)");
  }

  if (const Entry* e = find(keys, "fields")) {
    if (expect_kind(*e, YAML::NodeType::Map, "a map of field names to definitions")) {
      for (const Entry& field : entries(e->value, {})) {
        read_field(field);
      }
      check_markers(e->value);
    }
  }

  // Consents before states: transitions name them in `requires_consent`.
  if (const Entry* e = find(keys, "consents")) {
    read_consents(*e);
  }

  if (const Entry* e = find(keys, "states")) {
    read_states(*e);
  } else {
    missing(root, root, "states", "missing required key 'states'");
  }
  // Clocks name states and events, so they are read once every state is known.
  if (const Entry* e = find(keys, "clocks")) {
    read_clocks(*e);
  }
}

void Loader::check_markers(const YAML::Node& fields) {
  for (const char* marker : {"placement", "assignment"}) {
    std::vector<std::string> marked;
    for (const Field& field : workflow_->fields) {
      if (std::string_view(marker) == "placement" ? field.placement : field.assignment) {
        marked.push_back(field.name);
      }
    }
    if (marked.size() > 1) {
      error(fields[marked[1]], std::string("only one field may be the ") + marker + "; " +
                                   in_quotes(marked[0]) + " already is");
    }
  }
}

void Loader::read_field(const Entry& e) {
  if (!is_name(e.name)) {
    error(e.key,
          "invalid field name " + in_quotes(e.name) + "; expected " + std::string(kNameRule));
    return;
  }
  if (!expect_kind(e, YAML::NodeType::Map, "a field definition (a map with 'type')")) {
    broken_fields_.push_back(e.name);
    return;
  }
  const std::vector<Entry> keys = entries(e.value, kFieldKeys);
  Field field;
  field.name = e.name;
  bool ok = true;

  std::vector<std::string> type_names;
  type_names.reserve(kFieldTypes.size());
  for (const FieldType t : kFieldTypes) {
    type_names.emplace_back(field_type_name(t));
  }
  std::optional<FieldType> type;
  if (const Entry* t = find(keys, "type")) {
    if (const auto name = read_string(*t)) {
      type = parse_field_type(*name);
      if (!type) {
        error(t->value,
              "unknown field type " + in_quotes(*name) + "; " + expected_one_of(*name, type_names));
      }
    }
  } else {
    missing(e.value, e.key, "type",
            "field " + in_quotes(e.name) + " has no 'type'; expected one of: " + join(type_names));
  }
  ok = ok && type.has_value();
  if (type) {
    field.type = *type;
  }

  read_min_max(e, keys, field);

  const Entry* values = find(keys, "values");
  if (type == FieldType::enumeration) {
    if (values == nullptr) {
      error(e.key, "enum field " + in_quotes(e.name) +
                       " has no 'values'; expected a list of the allowed values");
    } else if (expect_kind(*values, YAML::NodeType::Sequence, "a list of values")) {
      if (values->value.size() == 0) {
        error(values->value, "'values' is empty; expected at least one value");
      }
      for (const auto& item : values->value) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          error(item.IsNull() ? values->key : item,
                "expected a non-empty string as an enum value, found " +
                    std::string(item.IsScalar() ? "an empty string" : kind_name(item)));
          continue;
        }
        const std::string& v = item.Scalar();
        if (std::find(field.values.begin(), field.values.end(), v) != field.values.end()) {
          error(item, "enum value " + in_quotes(v) + " is listed twice");
          continue;
        }
        field.values.push_back(v);
      }
    }
  } else if (values != nullptr && type) {
    error(values->key, "'values' is only allowed on enum fields; " + in_quotes(e.name) +
                           " has type " + std::string(field_type_name(*type)));
  }

  if (const Entry* s = find(keys, "sensitivity")) {
    if (const auto name = read_string(*s)) {
      if (const auto sensitivity = parse_sensitivity(*name)) {
        field.sensitivity = *sensitivity;
      } else {
        std::vector<std::string> names;
        names.reserve(kSensitivities.size());
        for (const Sensitivity level : kSensitivities) {
          names.emplace_back(sensitivity_name(level));
        }
        error(s->value,
              "unknown sensitivity " + in_quotes(*name) + "; " + expected_one_of(*name, names));
      }
    }
  }
  if (const Entry* v = find(keys, "visible_to")) {
    field.visible_to = read_roles(*v);
  }
  if (const Entry* v = find(keys, "editable_by")) {
    field.editable_by = read_roles(*v);
  }
  if (const Entry* r = find(keys, "required")) {
    field.required = read_bool(*r).value_or(false);
  }
  if (const Entry* r = find(keys, "retain")) {
    field.retain = read_retention(*r);
  }
  // The placement and the assignment are copied into plain columns, so that object-level
  // authorisation and work lists can filter on them: they must be plain text.
  for (const auto& [key, flag] :
       {std::pair{"placement", &field.placement}, std::pair{"assignment", &field.assignment}}) {
    const Entry* marker = find(keys, key);
    if (marker == nullptr || !read_bool(*marker).value_or(false)) {
      continue;
    }
    *flag = true;
    if (type && *type != FieldType::string && *type != FieldType::enumeration) {
      error(marker->key, std::string("'") + key + ": true' needs a string or enum field; " +
                             in_quotes(e.name) + " has type " +
                             std::string(field_type_name(*type)));
    } else if (field.sensitivity != Sensitivity::none) {
      error(marker->key, std::string("'") + key + ": true' needs a field of sensitivity none: " +
                             "its value is kept unencrypted for access checks, and " +
                             in_quotes(e.name) + " is " +
                             std::string(sensitivity_name(field.sensitivity)));
    }
  }
  if (field.sensitivity != Sensitivity::none && field.visible_to.empty() &&
      field.editable_by.empty()) {
    report(Severity::warning, pos_of(e.key),
           "field " + in_quotes(e.name) + " is " +
               std::string(sensitivity_name(field.sensitivity)) +
               " and names no roles, so no role may see it (only break-glass can); add "
               "visible_to: [roles that need it]");
  }
  if (const Entry* d = find(keys, "description")) {
    read_string(*d);
  }
  // A field whose type could not be read is still declared, so that `requires` lists naming it
  // do not add errors of their own; guards that read it are not reported (see compile_guard).
  if (!ok) {
    broken_fields_.push_back(field.name);
  }
  field_index_.emplace(field.name, workflow_->fields.size());
  workflow_->fields.push_back(std::move(field));
}

void Loader::read_min_max(const Entry& field_entry, const std::vector<Entry>& keys, Field& field) {
  const Entry* min = find(keys, "min");
  const Entry* max = find(keys, "max");
  if (min == nullptr && max == nullptr) {
    return;
  }
  // Validated only once the type is known; an unknown type was reported already.
  const Entry* type_entry = find(keys, "type");
  if (type_entry == nullptr || !type_entry->value.IsScalar() ||
      !parse_field_type(type_entry->value.Scalar())) {
    return;
  }
  const FieldType type = field.type;
  const bool is_length =
      type == FieldType::string || type == FieldType::text || type == FieldType::list;
  if (type != FieldType::integer && type != FieldType::number && !is_length) {
    for (const Entry* limit : {min, max}) {
      if (limit != nullptr) {
        error(limit->key, in_quotes(limit->name) + " is not allowed on " +
                              std::string(field_type_name(type)) + " field " +
                              in_quotes(field_entry.name) +
                              "; it applies to integer, number, string, text and list fields");
      }
    }
    return;
  }
  auto read_limit = [&](const Entry* limit) -> std::optional<double> {
    if (limit == nullptr) {
      return std::nullopt;
    }
    const auto value = read_number(*limit);
    if (!value) {
      return std::nullopt;
    }
    if (type != FieldType::number && *value != std::floor(*value)) {
      error(limit->value, "expected an integer for " + in_quotes(limit->name) + " of " +
                              std::string(field_type_name(type)) + " field " +
                              in_quotes(field_entry.name));
      return std::nullopt;
    }
    if (is_length && *value < 0) {
      error(limit->value, in_quotes(limit->name) + " of " + std::string(field_type_name(type)) +
                              " field " + in_quotes(field_entry.name) +
                              " is a length; expected zero or more");
      return std::nullopt;
    }
    return value;
  };
  field.min = read_limit(min);
  field.max = read_limit(max);
  if (field.min && field.max && *field.min > *field.max) {
    std::ostringstream message;
    message << "'max' (" << *field.max << ") is less than 'min' (" << *field.min << ") of field "
            << in_quotes(field_entry.name);
    error(max->value, message.str());
  }
}

void Loader::read_states(const Entry& states) {
  if (!expect_kind(states, YAML::NodeType::Map, "a map of state names to states")) {
    return;
  }
  const std::vector<Entry> list = entries(states.value, {});
  if (list.empty() && states.value.size() == 0) {
    error(states.value, "no states; expected at least one, one of them with 'initial: true'");
    return;
  }

  // First pass: the states themselves, so that `to` can name a state written further down.
  std::vector<std::optional<Entry>> on_entries;
  std::optional<std::string> initial_name;
  int initial_line = 0;
  for (const Entry& e : list) {
    if (!is_name(e.name)) {
      error(e.key,
            "invalid state name " + in_quotes(e.name) + "; expected " + std::string(kNameRule));
      continue;
    }
    // An empty state (`waiting:`) is allowed: it has no transitions and is neither initial nor
    // final, which the graph check below reports if it matters.
    if (!e.value.IsNull() && !expect_kind(e, YAML::NodeType::Map, "a state (a map)")) {
      continue;
    }
    State state;
    state.name = e.name;
    state.pos = pos_of(e.key);
    std::vector<Entry> keys;
    if (e.value.IsMap()) {
      keys = entries(e.value, kStateKeys);
    }
    if (const Entry* i = find(keys, "initial")) {
      state.initial = read_bool(*i).value_or(false);
      if (state.initial) {
        if (initial_name) {
          error(i->key, "second initial state " + in_quotes(e.name) + "; " +
                            in_quotes(*initial_name) + " (line " + std::to_string(initial_line) +
                            ") is already initial, and a workflow has exactly one");
          state.initial = false;
        } else {
          initial_name = e.name;
          initial_line = pos_of(i->key).line;
        }
      }
    }
    if (const Entry* f = find(keys, "final")) {
      state.final = read_bool(*f).value_or(false);
    }
    if (const Entry* o = find(keys, "outcome")) {
      state.outcome = read_outcome(*o);
      if (state.outcome && !state.final) {
        error(o->key, "state " + in_quotes(e.name) +
                          " has an 'outcome' but is not final; an outcome says how a case "
                          "ended: add 'final: true', or put 'counts_as' on the transitions "
                          "that lead here");
        state.outcome.reset();
      }
    }
    if (const Entry* d = find(keys, "description")) {
      read_string(*d);
    }
    if (const Entry* enter = find(keys, "on_enter")) {
      state.on_enter = read_step_calls(*enter);
    }
    if (const Entry* exit = find(keys, "on_exit")) {
      if (state.final) {
        error(exit->key, "final state " + in_quotes(e.name) +
                             " is never left, so its 'on_exit' would never run; remove 'on_exit' "
                             "or 'final: true'");
      } else {
        state.on_exit = read_step_calls(*exit);
      }
    }
    const Entry* after = find(keys, "after");
    const Entry* every = find(keys, "every");
    if ((after != nullptr || every != nullptr) && state.final) {
      error((after != nullptr ? after : every)->key,
            "final state " + in_quotes(e.name) +
                " is never left and has no transitions, so its timers could do nothing; remove "
                "them or 'final: true'");
    } else {
      read_timers(state, after, every);
    }
    const Entry* on = find(keys, "on");
    if (on != nullptr && state.final) {
      error(on->key, "final state " + in_quotes(e.name) +
                         " cannot have transitions; remove 'on' or 'final: true'");
      on = nullptr;
    }
    on_entries.push_back(on != nullptr ? std::optional<Entry>(*on) : std::nullopt);
    state_index_.emplace(state.name, static_cast<StateId>(workflow_->states.size()));
    state_names_.push_back(state.name);
    workflow_->states.push_back(std::move(state));
  }
  const bool initial_misspelled = std::any_of(suggested_.begin(), suggested_.end(),
                                              [](const auto& s) { return s.second == "initial"; });
  if (!initial_name && !workflow_->states.empty() && !initial_misspelled) {
    error(states.key, "no initial state; expected 'initial: true' on the state new cases start in");
  }

  // Second pass: transitions, grouped by (from, on) in source order as Workflow requires.
  for (StateId id = 0; id < workflow_->states.size(); ++id) {
    if (on_entries[id]) {
      read_transitions(id, *on_entries[id]);
    }
  }
  check_on_complete();
  check_timer_events();

  if (errors_ == 0) {
    check_graph(states);
  }
}

void Loader::read_transitions(StateId from, const Entry& on) {
  if (!expect_kind(on, YAML::NodeType::Map, "a map of event names to transitions")) {
    return;
  }
  for (const Entry& e : entries(on.value, {})) {
    if (!is_name(e.name)) {
      error(e.key,
            "invalid event name " + in_quotes(e.name) + "; expected " + std::string(kNameRule));
      continue;
    }
    if (std::find(kReservedEvents.begin(), kReservedEvents.end(), e.name) !=
        kReservedEvents.end()) {
      error(e.key, "event name " + in_quotes(e.name) + " is reserved (case history uses it); " +
                       "reserved names are: " + join(kReservedEvents));
      continue;
    }
    if (std::find(event_names_.begin(), event_names_.end(), e.name) == event_names_.end()) {
      event_names_.push_back(e.name);
    }
    if (e.value.IsMap()) {
      read_row(from, e.name, e.value, e.key);
    } else if (e.value.IsSequence()) {
      if (e.value.size() == 0) {
        error(e.value, "event " + in_quotes(e.name) +
                           " has an empty list of transitions; expected at least one");
      }
      for (const auto& row : e.value) {
        read_row(from, e.name, row, row);
      }
    } else {
      expect_kind(e, YAML::NodeType::Map,
                  "a transition (a map with 'to') or a list of transitions");
    }
  }
}

void Loader::read_row(StateId from, const std::string& event, const YAML::Node& row,
                      const YAML::Node& anchor) {
  if (!row.IsMap()) {
    error(row, "expected a transition (a map with 'to'), found " + std::string(kind_name(row)));
    return;
  }
  const std::vector<Entry> keys = entries(row, kTransitionKeys);
  Transition t;
  t.from = from;
  t.pos = pos_of(anchor);
  bool ok = true;
  if (const Entry* to = find(keys, "to")) {
    if (const auto name = read_string(*to)) {
      const auto it = state_index_.find(*name);
      if (it != state_index_.end()) {
        t.to = it->second;
      } else {
        error(to->value, "unknown state " + in_quotes(*name) + " in 'to'; " +
                             expected_one_of(*name, state_names_));
        ok = false;
      }
    } else {
      ok = false;
    }
  } else {
    missing(row, row, "to",
            "transition " + in_quotes(event) + " of state " +
                in_quotes(workflow_->states[from].name) +
                " has no 'to'; expected the name of the state it leads to");
    ok = false;
  }
  if (const Entry* roles = find(keys, "roles")) {
    t.roles = read_roles(*roles);
  }
  if (const Entry* requires_entry = find(keys, "requires")) {
    if (const auto names = read_names(*requires_entry, "field")) {
      for (const NameItem& item : *names) {
        if (field_index_.find(item.name) == field_index_.end() &&
            std::find(broken_fields_.begin(), broken_fields_.end(), item.name) ==
                broken_fields_.end()) {
          std::vector<std::string> declared;
          for (const Field& f : workflow_->fields) {
            declared.push_back(f.name);
          }
          error(item.node, "undeclared field " + in_quotes(item.name) + " in 'requires'; " +
                               expected_one_of(item.name, declared));
          continue;
        }
        t.required_fields.push_back(item.name);
      }
    }
  }
  if (const Entry* consents = find(keys, "requires_consent")) {
    read_required_consents(*consents, t);
  }
  if (const Entry* when = find(keys, "when")) {
    t.when = compile_guard(*when);
  }
  if (const Entry* steps = find(keys, "steps")) {
    t.steps = read_step_calls(*steps);
  }
  if (const Entry* counts = find(keys, "counts_as")) {
    t.counts_as = read_outcome(*counts);
  }
  if (const Entry* d = find(keys, "description")) {
    read_string(*d);
  }
  if (ok) {
    t.on = intern_event(event);
    workflow_->transitions.push_back(std::move(t));
  }
}

std::optional<Guard> Loader::compile_guard(const Entry& when) {
  // `when: !done` is a YAML tag followed by nothing, not a negation; say so plainly.
  const std::string& tag = when.value.Tag();
  if (!tag.empty() && tag != "?" && tag != "!") {
    error(when.value, "'when' carries the YAML tag " + in_quotes(tag) +
                          "; quote a guard that starts with '!': when: \"" + tag + " ...\"");
    return std::nullopt;
  }
  const auto text = read_string(when);
  if (!text) {
    return std::nullopt;
  }
  if (text->empty()) {
    error(when.value, "empty guard; expected an expression such as \"age < 18\", or no 'when'");
    return std::nullopt;
  }
  const FieldLookup lookup = [this](std::string_view name) -> const Field* {
    const auto it = field_index_.find(name);
    return it == field_index_.end() ? nullptr : &workflow_->fields[it->second];
  };
  auto guard = Guard::compile(*text, lookup);
  if (guard) {
    return std::move(*guard);
  }
  const Error& e = guard.error();
  if (std::any_of(broken_fields_.begin(), broken_fields_.end(),
                  [&](const std::string& f) { return mentions(*text, f); })) {
    return std::nullopt;  // the field's own error says what to fix; its type here is a guess
  }
  std::size_t offset = 0;
  if (const boost::json::value* v = e.details.if_contains("offset")) {
    if (v->is_int64() && v->as_int64() >= 0) {
      offset = static_cast<std::size_t>(v->as_int64());
    } else if (v->is_uint64()) {
      offset = static_cast<std::size_t>(v->as_uint64());
    }
  }
  offset = std::min(offset, text->size());
  SourcePos pos = pos_of(when.value);
  const YAML::Mark mark = when.value.Mark();
  if (mark.pos >= 0) {
    const auto at = source_.locate(static_cast<std::size_t>(mark.pos), *text, offset);
    if (at) {
      pos = source_.at(*at);
    } else if (!is_plain(when.value)) {
      pos.column += 1;  // past the opening quote; the best guess for an unusual spelling
    }
  }
  report(Severity::error, pos, "invalid guard: " + e.message);
  return std::nullopt;
}

EventId Loader::intern_event(const std::string& name) {
  auto& events = workflow_->events;
  const auto it = std::find(events.begin(), events.end(), name);
  if (it != events.end()) {
    return static_cast<EventId>(it - events.begin());
  }
  events.push_back(name);
  return static_cast<EventId>(events.size() - 1);
}

// Warnings for states no case can reach and states from which no case can close. Both load: a
// workflow under construction may have them on purpose for a while.
void Loader::check_graph(const Entry& states_entry) {
  const auto& states = workflow_->states;
  const std::size_t n = states.size();
  std::vector<std::vector<StateId>> next(n);
  std::vector<std::vector<StateId>> previous(n);
  for (const Transition& t : workflow_->transitions) {
    next[t.from].push_back(t.to);
    previous[t.to].push_back(t.from);
  }
  auto walk = [n](const std::vector<StateId>& start,
                  const std::vector<std::vector<StateId>>& edges) {
    std::vector<bool> seen(n, false);
    std::deque<StateId> queue(start.begin(), start.end());
    for (const StateId s : start) {
      seen[s] = true;
    }
    while (!queue.empty()) {
      const StateId s = queue.front();
      queue.pop_front();
      for (const StateId t : edges[s]) {
        if (!seen[t]) {
          seen[t] = true;
          queue.push_back(t);
        }
      }
    }
    return seen;
  };

  std::vector<StateId> initial;
  std::vector<StateId> finals;
  for (StateId s = 0; s < n; ++s) {
    if (states[s].initial) {
      initial.push_back(s);
    }
    if (states[s].final) {
      finals.push_back(s);
    }
  }
  const std::vector<bool> reachable = walk(initial, next);
  for (StateId s = 0; s < n; ++s) {
    if (!reachable[s]) {
      report(Severity::warning, states[s].pos,
             "state " + in_quotes(states[s].name) + " cannot be reached from the initial state " +
                 in_quotes(states[initial.front()].name));
    }
  }
  if (finals.empty()) {
    report(Severity::warning, pos_of(states_entry.key),
           "no final state; cases of this workflow can never be closed");
    return;
  }
  const std::vector<bool> closable = walk(finals, previous);
  for (StateId s = 0; s < n; ++s) {
    if (!closable[s]) {
      report(Severity::warning, states[s].pos,
             "state " + in_quotes(states[s].name) +
                 " cannot reach a final state; a case there can never be closed");
    }
  }
}

std::vector<StepCall> Loader::read_step_calls(const Entry& list) {
  std::vector<StepCall> out;
  if (!expect_kind(list, YAML::NodeType::Sequence, "a list of step calls")) {
    return out;
  }
  for (const auto& item : list.value) {
    if (!item.IsMap()) {
      error(item.IsNull() ? list.key : item, "expected a step call (a map with 'step') in " +
                                                 in_quotes(list.name) + ", found " +
                                                 std::string(kind_name(item)));
      continue;
    }
    out.push_back(read_step_call(item));
  }
  return out;
}

StepCall Loader::read_step_call(const YAML::Node& item) {
  const std::vector<Entry> keys = entries(item, kStepCallKeys);
  StepCall call;
  call.pos = pos_of(item);
  const StepType* type = nullptr;
  const Entry* step = find(keys, "step");
  if (step != nullptr) {
    call.pos = pos_of(step->key);
    if (auto name = read_string(*step)) {
      type = find_step_type(*step, *name);
      call.type = std::move(*name);
    }
  } else {
    missing(item, item, "step",
            "step call has no 'step'; expected the name of a step type, such as 'medical.check'");
  }

  bool async_known = true;
  if (const Entry* async = find(keys, "async")) {
    const auto value = read_bool(*async);
    async_known = value.has_value();
    call.async = value.value_or(false);
  }
  if (const Entry* retry = find(keys, "retry")) {
    if (!call.async && async_known) {
      error(retry->key,
            "'retry' is only allowed with 'async: true'; a synchronous step runs once, inside "
            "the transition");
    } else {
      read_retry(*retry, call.retry);
    }
  }
  if (const Entry* when = find(keys, "when")) {
    call.when = compile_guard(*when);
  }
  if (const Entry* on_complete = find(keys, "on_complete")) {
    if (auto name = read_string(*on_complete)) {
      on_complete_refs_.emplace_back(*name, on_complete->value);
      call.on_complete = std::move(*name);
    }
  }

  const Entry* with = find(keys, "with");
  if (type != nullptr) {
    call.reads = type->reads();
    if (read_config(*type, *step, with, call)) {
      create_instance(*type, *step, call);
    }
  }
  return call;
}

const StepType* Loader::find_step_type(const Entry& step, const std::string& name) {
  if (steps_ != nullptr) {
    if (const StepType* type = steps_->find(name)) {
      return type;
    }
  }
  std::vector<std::string> names;
  if (steps_ != nullptr) {
    for (const StepType* type : steps_->all()) {
      names.push_back(type->name());
    }
  }
  if (names.empty()) {
    error(step.value, "unknown step type " + in_quotes(name) + ": no plugins are loaded");
    return nullptr;
  }
  std::sort(names.begin(), names.end());
  const std::string suggestion = closest(name, names);
  if (!suggestion.empty()) {
    error(step.value,
          "unknown step type " + in_quotes(name) + "; did you mean " + in_quotes(suggestion) + "?");
  } else {
    error(step.value,
          "unknown step type " + in_quotes(name) + "; the loaded plugins provide: " + join(names));
  }
  return nullptr;
}

void Loader::read_retry(const Entry& retry, RetryPolicy& policy) {
  if (!expect_kind(retry, YAML::NodeType::Map, "a map with 'max_attempts' and/or 'backoff'")) {
    return;
  }
  const std::vector<Entry> keys = entries(retry.value, kRetryKeys);
  if (const Entry* attempts = find(keys, "max_attempts")) {
    if (const auto value = read_integer(*attempts)) {
      if (*value < 1 || *value > kMaxAttemptsLimit) {
        error(attempts->value, "'max_attempts' is " + std::to_string(*value) + "; expected 1 to " +
                                   std::to_string(kMaxAttemptsLimit) +
                                   " (runs in all, the first one included)");
      } else {
        policy.max_attempts = static_cast<int>(*value);
      }
    }
  }
  if (const Entry* backoff = find(keys, "backoff")) {
    if (const auto text = read_string(*backoff)) {
      const auto ms = parse_duration_ms(*text);
      if (!ms) {
        error(backoff->value, "invalid duration " + in_quotes(*text) +
                                  " for 'backoff'; expected a whole number and a unit: 500ms, "
                                  "30s, 5m, 2h or 1d");
      } else if (*ms == 0) {
        error(backoff->value, "'backoff' is zero; expected a wait of at least 1ms");
      } else {
        policy.backoff_ms = *ms;
      }
    }
  }
}

// Checks `with` against the type's schema and fills call.config; false when it is not usable.
bool Loader::read_config(const StepType& type, const Entry& step, const Entry* with,
                         StepCall& call) {
  const boost::json::value& schema = type.config_schema();
  if (schema.is_null()) {
    if (with != nullptr) {
      error(with->key, "step " + in_quotes(type.name()) + " takes no settings; remove 'with'");
      return false;
    }
    return true;
  }
  // The catalog should only hold types with usable schemas; validating against one this
  // validator does not fully understand would accept settings the plugin never agreed to.
  auto [checked, inserted] = schema_usable_.emplace(&type, false);
  if (inserted) {
    const auto usable = check_schema(schema);
    checked->second = usable.has_value();
    if (!usable) {
      const Error problem = usable.error();
      error(step.key,
            "step " + in_quotes(type.name()) +
                " has a configuration schema the engine cannot enforce: " + problem.message);
    }
  }
  if (!checked->second) {
    return false;
  }

  boost::json::value config = boost::json::object{};
  if (with != nullptr) {
    if (!expect_kind(*with, YAML::NodeType::Map, "a map of settings")) {
      return false;
    }
    const int errors_before = errors_;
    config = to_json(with->value);
    if (errors_ != errors_before) {
      return false;
    }
  }
  std::vector<SchemaProblem> problems = validate_schema(schema, config);
  // An unknown key gets the keys that are known there and a suggestion. A misspelt required key
  // is one mistake, as elsewhere in the file: no "missing required key" on top.
  std::vector<std::pair<std::string, std::string>> misspelt;  // (object path, message)
  for (SchemaProblem& problem : problems) {
    const std::vector<std::string> tokens = pointer_tokens(problem.path);
    if (problem.message.rfind("unknown key ", 0) != 0 || tokens.empty() ||
        problem.message.find(';') != std::string::npos) {
      continue;
    }
    const std::vector<std::string> known = schema_keys(schema, tokens, tokens.size() - 1);
    if (known.empty()) {
      continue;
    }
    problem.message += "; " + expected_one_of(tokens.back(), known);
    if (const std::string suggestion = closest(tokens.back(), known); !suggestion.empty()) {
      misspelt.emplace_back(problem.path.substr(0, problem.path.rfind('/')),
                            "missing required key " + in_quotes(suggestion));
    }
  }
  for (const SchemaProblem& problem : problems) {
    if (std::find(misspelt.begin(), misspelt.end(), std::pair(problem.path, problem.message)) ==
        misspelt.end()) {
      report_schema_problem(type, step, with, problem);
    }
  }
  if (!problems.empty()) {
    return false;
  }
  call.config = std::move(config.as_object());
  return true;
}

// The `with:` block as JSON. Keys are always strings; plain scalars follow the YAML 1.2 core
// schema; quoted and block scalars are strings; an empty value is null.
boost::json::value Loader::to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      boost::json::object out;
      for (const Entry& e : entries(node, {})) {
        out[e.name] = to_json(e.value);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      boost::json::array out;
      for (const auto& item : node) {
        out.push_back(to_json(item));
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      if (!is_plain(node)) {
        return boost::json::string(node.Scalar());
      }
      auto value = core_schema_value(node.Scalar());
      if (!value) {
        error(node, in_quotes(node.Scalar()) +
                        " is not a number JSON can hold (no infinities, NaN or overflows); quote "
                        "it if you mean a string");
        return nullptr;
      }
      return std::move(*value);
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return nullptr;
}

// Reports one schema problem at the YAML node its JSON Pointer names, or the nearest enclosing
// node that exists. A map or list is reported at its key, where an editor shows it; an unknown
// key at that key, and the message names the path of the map that holds it.
void Loader::report_schema_problem(const StepType& type, const Entry& step, const Entry* with,
                                   const SchemaProblem& problem) {
  const bool unknown_key = problem.message.rfind("unknown key ", 0) == 0;
  const std::vector<std::string> tokens = pointer_tokens(problem.path);
  const std::string prefix = "step " + in_quotes(type.name()) + ": ";
  if (with == nullptr) {
    error(step.key, prefix + "with: " + problem.message);
    return;
  }
  // Walk down by copy-constructing nodes (never assigning: that would rewrite the YAML tree).
  std::string label = "with";
  std::function<SourcePos(const YAML::Node&, const YAML::Node&, std::size_t)> walk =
      [&](const YAML::Node& node, const YAML::Node& key, std::size_t depth) -> SourcePos {
    const bool last = depth + 1 == tokens.size();
    if (depth < tokens.size()) {
      const std::string& token = tokens[depth];
      const bool name_it = !(unknown_key && last);
      if (node.IsMap()) {
        for (const auto& kv : node) {
          if (kv.first.IsScalar() && kv.first.Scalar() == token) {
            if (name_it) {
              label += "." + token;
            }
            return walk(kv.second, kv.first, depth + 1);
          }
        }
      } else if (node.IsSequence()) {
        std::size_t index = 0;
        const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
        if (ec == std::errc() && end == token.data() + token.size() && index < node.size()) {
          if (name_it) {
            label += "[" + token + "]";
          }
          const YAML::Node item = node[index];
          return walk(item, item, depth + 1);
        }
      }
    }
    const bool at_key =
        !node.IsScalar() || depth < tokens.size() || (unknown_key && depth == tokens.size());
    return pos_of(at_key ? key : node);
  };
  const SourcePos pos = walk(with->value, with->key, 0);
  report(Severity::error, pos, prefix + label + ": " + problem.message);
}

void Loader::create_instance(const StepType& type, const Entry& step, StepCall& call) {
  const std::string prefix = "step " + in_quotes(type.name()) + " refused its configuration: ";
  try {
    auto instance = type.create(call.config);
    if (!instance) {
      const Error refusal = instance.error();
      error(step.key, prefix + refusal.message);
      return;
    }
    if (*instance == nullptr) {
      error(step.key, prefix + "the plugin made no instance");
      return;
    }
    call.instance = std::move(*instance);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    error(step.key, prefix + e.what());
  }
}

void Loader::check_on_complete() {
  for (const auto& [name, node] : on_complete_refs_) {
    if (std::find(event_names_.begin(), event_names_.end(), name) != event_names_.end()) {
      continue;
    }
    if (event_names_.empty()) {
      error(node, "unknown event " + in_quotes(name) +
                      " in 'on_complete'; no state of this workflow has transitions ('on')");
    } else {
      error(node, "unknown event " + in_quotes(name) + " in 'on_complete'; " +
                      expected_one_of(name, event_names_));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Time: state timers and statutory clocks

std::optional<Duration> Loader::read_duration(const Entry& e) {
  const auto text = read_string(e);
  if (!text) {
    return std::nullopt;
  }
  auto duration = parse_duration(*text);
  if (!duration) {
    error(e.value, "invalid duration " + in_quotes(*text) + " for " + in_quotes(e.name) +
                       "; expected " + std::string(kDurationRule));
  }
  return duration;
}

std::optional<Retention> Loader::read_retention(const Entry& e) {
  const auto text = read_string(e);
  if (!text) {
    return std::nullopt;
  }
  const std::string_view rule =
      "expected '<duration> after closed' or '<duration> after opened', such as '7y after "
      "closed' (the duration as 7y, 18mo, 90d or P7Y)";
  const auto space = text->find(' ');
  const std::string amount = text->substr(0, space);
  const std::string rest = space == std::string::npos ? "" : text->substr(space + 1);
  std::optional<RetainAnchor> anchor;
  if (rest == "after closed") {
    anchor = RetainAnchor::closed;
  } else if (rest == "after opened") {
    anchor = RetainAnchor::opened;
  }
  if (!anchor) {
    error(e.value, "invalid retention " + in_quotes(*text) + "; " + std::string(rule));
    return std::nullopt;
  }
  const auto keep = parse_duration(amount);
  if (!keep || keep->is_zero()) {
    error(e.value, "invalid retention duration " + in_quotes(amount) + "; " + std::string(rule));
    return std::nullopt;
  }
  return Retention{*keep, *anchor};
}

std::optional<std::string> Loader::read_fired_event(const Entry& e) {
  auto name = read_string(e);
  if (!name) {
    return std::nullopt;
  }
  if (!is_name(*name)) {
    error(e.value,
          "invalid event name " + in_quotes(*name) + "; expected " + std::string(kNameRule));
    return std::nullopt;
  }
  if (std::find(kReservedEvents.begin(), kReservedEvents.end(), *name) != kReservedEvents.end()) {
    error(e.value, "event name " + in_quotes(*name) +
                       " is reserved; reserved names are: " + join(kReservedEvents));
    return std::nullopt;
  }
  intern_event(*name);
  return name;
}

void Loader::read_timers(State& state, const Entry* after, const Entry* every) {
  const auto id = static_cast<StateId>(workflow_->states.size());
  auto read_met_by = [&](const std::vector<Entry>& keys, Timer& timer) {
    if (const Entry* met = find(keys, "met_by")) {
      if (auto name = read_string(*met)) {
        timer_refs_.push_back(TimerRef{id, *name, met->value, false});
        timer.met_by = std::move(*name);
      }
    }
  };
  auto read_event = [&](const std::vector<Entry>& keys, const YAML::Node& item, Timer& timer) {
    if (const Entry* event = find(keys, "event")) {
      if (auto name = read_fired_event(*event)) {
        timer_refs_.push_back(TimerRef{id, *name, event->value, true});
        timer.event = std::move(*name);
        return true;
      }
      return false;
    }
    missing(item, item, "event", "timer has no 'event'; expected the event it fires when due");
    return false;
  };
  auto items = [&](const Entry& list, std::string_view what) {
    std::vector<YAML::Node> out;
    if (!expect_kind(list, YAML::NodeType::Sequence, "a list of " + std::string(what))) {
      return out;
    }
    for (const auto& item : list.value) {
      if (!item.IsMap()) {
        error(item.IsNull() ? list.key : item, "expected " + std::string(what) + " (a map) in " +
                                                   in_quotes(list.name) + ", found " +
                                                   std::string(kind_name(item)));
        continue;
      }
      out.push_back(item);
    }
    return out;
  };

  if (after != nullptr) {
    std::size_t index = 0;
    for (const YAML::Node& item : items(*after, "a timer with 'in' or 'at' and 'event'")) {
      const std::vector<Entry> keys = entries(item, kAfterKeys);
      Timer timer;
      timer.name = state.name + "/after/" + std::to_string(index++);
      timer.pos = pos_of(item);
      bool ok = read_event(keys, item, timer);
      const Entry* in = find(keys, "in");
      const Entry* at = find(keys, "at");
      if ((in == nullptr) == (at == nullptr)) {
        error(in != nullptr ? at->key : item,
              in != nullptr ? "a timer has either 'in' or 'at', not both"
                            : "timer has neither 'in' (a duration after entering the state) nor "
                              "'at' (a date or datetime field of the case)");
        ok = false;
      } else if (in != nullptr) {
        timer.kind = Timer::Kind::after;
        const auto delay = read_duration(*in);
        ok = ok && delay.has_value();
        timer.delay = delay.value_or(Duration{});
      } else if (const auto field = read_string(*at)) {
        timer.kind = Timer::Kind::at;
        timer.field = *field;
        const auto it = field_index_.find(*field);
        const Field* declared = it == field_index_.end() ? nullptr : &workflow_->fields[it->second];
        if (declared == nullptr) {
          std::vector<std::string> dates;
          for (const Field& f : workflow_->fields) {
            if (f.type == FieldType::date || f.type == FieldType::datetime) {
              dates.push_back(f.name);
            }
          }
          error(at->value, "undeclared field " + in_quotes(*field) + " in 'at'; " +
                               expected_one_of(*field, dates));
          ok = false;
        } else if (declared->type != FieldType::date && declared->type != FieldType::datetime) {
          error(at->value, "field " + in_quotes(*field) +
                               " is not a date or datetime; 'at' needs one to know when to fire");
          ok = false;
        }
      } else {
        ok = false;
      }
      read_met_by(keys, timer);
      if (ok) {
        state.timers.push_back(std::move(timer));
      }
    }
  }
  if (every != nullptr) {
    std::size_t index = 0;
    for (const YAML::Node& item : items(*every, "a repeating timer with 'interval' and 'event'")) {
      const std::vector<Entry> keys = entries(item, kEveryKeys);
      Timer timer;
      timer.kind = Timer::Kind::every;
      timer.name = state.name + "/every/" + std::to_string(index++);
      timer.pos = pos_of(item);
      bool ok = read_event(keys, item, timer);
      if (const Entry* interval = find(keys, "interval")) {
        const auto value = read_duration(*interval);
        if (value && value->is_zero()) {
          error(interval->value, "'interval' is zero; a repeating timer needs a positive interval");
          ok = false;
        }
        ok = ok && value && !value->is_zero();
        timer.delay = value.value_or(Duration{});
        timer.first = timer.delay;
      } else {
        missing(item, item, "interval",
                "repeating timer has no 'interval'; expected a duration such as 30d or 6mo");
        ok = false;
      }
      if (const Entry* first = find(keys, "first")) {
        const auto value = read_duration(*first);
        ok = ok && value.has_value();
        timer.first = value.value_or(timer.first);
      }
      if (const Entry* until = find(keys, "until")) {
        timer.until = compile_guard(*until);
        ok = ok && timer.until.has_value();
      }
      read_met_by(keys, timer);
      if (ok) {
        state.timers.push_back(std::move(timer));
      }
    }
  }
}

bool Loader::known_event(const YAML::Node& at, const std::string& name, std::string_view what) {
  const auto& events = workflow_->events;
  if (std::find(events.begin(), events.end(), name) != events.end()) {
    return true;
  }
  if (events.empty()) {
    error(at, "unknown event " + in_quotes(name) + " in " + std::string(what) +
                  "; no state of this workflow has transitions ('on')");
  } else {
    error(at, "unknown event " + in_quotes(name) + " in " + std::string(what) + "; " +
                  expected_one_of(name, events));
  }
  return false;
}

void Loader::check_timer_events() {
  for (const TimerRef& ref : timer_refs_) {
    if (!ref.needs_row) {
      known_event(ref.node, ref.event, "'met_by'");
      continue;
    }
    const auto& events = workflow_->events;
    const auto event =
        static_cast<EventId>(std::find(events.begin(), events.end(), ref.event) - events.begin());
    const bool has_row =
        std::any_of(workflow_->transitions.begin(), workflow_->transitions.end(),
                    [&](const Transition& t) { return t.from == ref.state && t.on == event; });
    if (!has_row) {
      report(Severity::warning, pos_of(ref.node),
             "state " + in_quotes(workflow_->states[ref.state].name) + " has no transition on " +
                 in_quotes(ref.event) +
                 ", so this timer will fire and change nothing; add it under 'on'");
    }
  }
}

void Loader::read_clocks(const Entry& clocks) {
  if (!expect_kind(clocks, YAML::NodeType::Map, "a map of clock names to clocks")) {
    return;
  }
  for (const Entry& e : entries(clocks.value, {})) {
    if (!is_name(e.name)) {
      error(e.key,
            "invalid clock name " + in_quotes(e.name) + "; expected " + std::string(kNameRule));
      continue;
    }
    if (expect_kind(e, YAML::NodeType::Map, "a clock (a map with 'starts', 'due' and 'stops')")) {
      read_clock(e);
    }
  }
}

std::vector<ClockTrigger> Loader::read_triggers(const Entry& e) {
  std::vector<ClockTrigger> out;
  std::vector<YAML::Node> maps;
  if (e.value.IsSequence() && e.value.size() > 0) {
    for (const auto& item : e.value) {
      maps.push_back(item);
    }
  } else if (e.value.IsMap()) {
    maps.push_back(e.value);
  } else {
    expect_kind(e, YAML::NodeType::Map, "{ on_event: EVENT } or { on_enter: STATE }");
    return out;
  }
  for (const YAML::Node& map : maps) {
    if (!map.IsMap()) {
      error(map, "expected { on_event: EVENT } or { on_enter: STATE }, found " +
                     std::string(kind_name(map)));
      continue;
    }
    const std::vector<Entry> keys = entries(map, kTriggerKeys);
    if (keys.size() != 1) {
      if (keys.empty()) {
        missing(map, map, "on_event",
                "expected { on_event: EVENT } or { on_enter: STATE } in " + in_quotes(e.name));
      } else {
        error(keys[1].key,
              "one trigger per map; write a list for several: [ { on_event: a }, "
              "{ on_enter: b } ]");
      }
      continue;
    }
    const Entry& key = keys.front();
    const auto name = read_string(key);
    if (!name) {
      continue;
    }
    if (key.name == "on_enter") {
      if (state_index_.find(*name) == state_index_.end()) {
        error(key.value, "unknown state " + in_quotes(*name) + " in 'on_enter'; " +
                             expected_one_of(*name, state_names_));
        continue;
      }
      out.push_back(ClockTrigger{ClockTrigger::Kind::on_enter, *name});
    } else if (known_event(key.value, *name, "'on_event'")) {
      out.push_back(ClockTrigger{ClockTrigger::Kind::on_event, *name});
    }
  }
  return out;
}

ClockReaction Loader::read_clock_action(const Entry& e) {
  ClockReaction action;
  if (!expect_kind(e, YAML::NodeType::Map, "a map with 'event' and/or 'notify'")) {
    return action;
  }
  const std::vector<Entry> keys = entries(e.value, kClockActionKeys);
  if (const Entry* event = find(keys, "event")) {
    action.event = read_fired_event(*event);
  }
  if (const Entry* notify = find(keys, "notify")) {
    action.notify = read_roles(*notify);
  }
  if (keys.empty()) {
    error(e.value, "empty " + in_quotes(e.name) + "; expected 'event' and/or 'notify'");
  }
  return action;
}

void Loader::read_clock(const Entry& e) {
  const std::vector<Entry> keys = entries(e.value, kClockKeys);
  ClockDef clock;
  clock.name = e.name;
  clock.pos = pos_of(e.key);
  bool ok = true;
  if (const Entry* title = find(keys, "title")) {
    clock.title = read_string(*title).value_or("");
  }
  if (const Entry* d = find(keys, "description")) {
    read_string(*d);
  }
  // Actions first: their events may be what another clock starts or stops on.
  if (const Entry* warning = find(keys, "on_warning")) {
    clock.on_warning = read_clock_action(*warning);
  }
  if (const Entry* breach = find(keys, "on_breach")) {
    clock.on_breach = read_clock_action(*breach);
  }
  for (const std::string_view which : {"starts", "stops"}) {
    const Entry* trigger = find(keys, which);
    if (trigger == nullptr) {
      missing(e.value, e.key, which,
              "clock " + in_quotes(e.name) + " has no " + in_quotes(which) +
                  "; expected { on_event: EVENT } or { on_enter: STATE }");
      ok = false;
      continue;
    }
    auto triggers = read_triggers(*trigger);
    ok = ok && !triggers.empty();
    (which == "starts" ? clock.starts : clock.stops) = std::move(triggers);
  }
  if (const Entry* due = find(keys, "due")) {
    const auto value = read_duration(*due);
    if (value && value->is_zero()) {
      error(due->value, "'due' is zero; expected the time the law allows, such as 24h or 15d");
    }
    ok = ok && value && !value->is_zero();
    clock.due = value.value_or(Duration{});
  } else {
    missing(e.value, e.key, "due",
            "clock " + in_quotes(e.name) + " has no 'due'; expected a duration such as 24h or 15d");
    ok = false;
  }
  if (const Entry* excludes = find(keys, "excludes")) {
    std::vector<YAML::Node> maps;
    if (excludes->value.IsSequence()) {
      for (const auto& item : excludes->value) {
        maps.push_back(item);
      }
    } else if (expect_kind(*excludes, YAML::NodeType::Map,
                           "{ between: [START_EVENT, END_EVENT] } or a list of them")) {
      maps.push_back(excludes->value);
    }
    for (const YAML::Node& map : maps) {
      if (!map.IsMap()) {
        error(map, "expected { between: [START_EVENT, END_EVENT] }, found " +
                       std::string(kind_name(map)));
        ok = false;
        continue;
      }
      const std::vector<Entry> between_keys = entries(map, kExcludeKeys);
      const Entry* between = find(between_keys, "between");
      if (between == nullptr) {
        missing(map, map, "between", "expected { between: [START_EVENT, END_EVENT] }");
        ok = false;
        continue;
      }
      const auto names = read_names(*between, "event");
      if (!names || names->size() != 2) {
        if (names) {
          error(between->value,
                "'between' takes two events: the one that starts the excluded "
                "time and the one that ends it");
        }
        ok = false;
        continue;
      }
      // Both are checked, so that both unknown names are reported.
      const bool first_known = known_event((*names)[0].node, (*names)[0].name, "'between'");
      const bool second_known = known_event((*names)[1].node, (*names)[1].name, "'between'");
      const bool known = first_known && second_known;
      if (known) {
        clock.excludes.emplace_back((*names)[0].name, (*names)[1].name);
      }
      ok = ok && known;
    }
  }
  if (const Entry* warn = find(keys, "warn_before")) {
    clock.warn_before = read_duration(*warn);
    ok = ok && clock.warn_before.has_value();
  }
  if (const Entry* roles = find(keys, "extendable_by")) {
    clock.extendable_by = read_roles(*roles);
  }
  if (ok) {
    workflow_->clocks.push_back(std::move(clock));
  }
}

// ---------------------------------------------------------------------------------------------
// Consents

void Loader::read_consents(const Entry& consents) {
  if (!expect_kind(consents, YAML::NodeType::Map, "a map of consent names to declarations")) {
    // Declared, but unreadable: do not also report every `requires_consent` that names one.
    workflow_->consents_declared = false;
    return;
  }
  workflow_->consents_declared = true;
  for (const Entry& e : entries(consents.value, {})) {
    if (!is_name(e.name)) {
      error(e.key,
            "invalid consent name " + in_quotes(e.name) + "; expected " + std::string(kNameRule));
      continue;
    }
    if (!expect_kind(e, YAML::NodeType::Map,
                     "a consent declaration (a map with 'title', 'description', 'override_by')")) {
      broken_consents_.push_back(e.name);
      continue;
    }
    read_consent(e);
  }
}

void Loader::read_consent(const Entry& e) {
  const int errors_before = errors_;
  const std::vector<Entry> keys = entries(e.value, kConsentKeys);
  ConsentDef consent;
  consent.name = e.name;
  consent.pos = pos_of(e.key);
  if (const Entry* title = find(keys, "title")) {
    consent.title = read_string(*title).value_or("");
  }
  if (const Entry* d = find(keys, "description")) {
    consent.description = read_string(*d).value_or("");
  }
  if (const Entry* roles = find(keys, "override_by")) {
    consent.override_by = read_roles(*roles);
  } else {
    consent.override_by = {std::string(kDefaultConsentOverrideRole)};
  }
  if (errors_ != errors_before) {
    broken_consents_.push_back(e.name);
    return;
  }
  workflow_->consents.push_back(std::move(consent));
}

void Loader::read_required_consents(const Entry& e, Transition& t) {
  const auto names = read_names(e, "consent");
  if (!names) {
    return;
  }
  for (const NameItem& item : *names) {
    const bool declared = workflow_->find_consent(item.name) != nullptr;
    const bool broken = std::find(broken_consents_.begin(), broken_consents_.end(), item.name) !=
                        broken_consents_.end();
    if (workflow_->consents_declared && !declared && !broken) {
      std::vector<std::string> known;
      for (const ConsentDef& c : workflow_->consents) {
        known.push_back(c.name);
      }
      error(item.node, "undeclared consent " + in_quotes(item.name) + " in 'requires_consent'; " +
                           (known.empty() ? std::string("'consents' declares none")
                                          : expected_one_of(item.name, known)) +
                           " (declare it under the top-level 'consents')");
      continue;
    }
    t.required_consents.push_back(item.name);
  }
}

}  // namespace

namespace detail {

namespace {

// Where each document's root node starts and whether it is empty.
class DocumentScan final : public YAML::EventHandler {
 public:
  struct Root {
    YAML::Mark mark;
    bool null = true;
    bool seen = false;
  };
  std::vector<Root> roots;

  void OnDocumentStart(const YAML::Mark& /*mark*/) override { roots.emplace_back(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {
    node(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
    node(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    node(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark, bool null) {
    if (roots.empty()) {
      roots.emplace_back();
    }
    Root& root = roots.back();
    if (!root.seen) {
      root = Root{mark, null, true};
    }
  }
};

}  // namespace

YamlDocuments load_documents(std::string_view text) {
  const std::string copy(text);
  YamlDocuments out;
  std::istringstream in(copy);
  YAML::Parser parser(in);
  DocumentScan scan;
  while (parser.HandleNextDocument(scan)) {
    const auto& roots = scan.roots;
    // Every document but the first consumes at least one token ('---' or its content), so an
    // empty document where the one before stood, or more documents than bytes, is yaml-cpp
    // going round in circles.
    const std::size_t n = roots.size();
    const bool stuck = n >= 2 && roots[n - 1].null && roots[n - 2].null &&
                       roots[n - 1].mark.pos == roots[n - 2].mark.pos;
    if (stuck || n > copy.size() + 1) {
      const YAML::Mark mark = roots.back().mark;
      const auto at = static_cast<std::size_t>(std::max(0, mark.pos));
      const char c = at < copy.size() ? copy[at] : '\0';
      throw YAML::ParserException(mark, c > 0x20 && c < 0x7f
                                            ? "unexpected '" + std::string(1, c) + "'"
                                            : std::string("unexpected character"));
    }
  }
  out.count = scan.roots.size();
  for (std::size_t i = 1; i < scan.roots.size(); ++i) {
    out.later.push_back(YamlDocuments::Later{scan.roots[i].mark, scan.roots[i].null});
  }
  if (out.count > 0) {
    out.first = YAML::Load(copy);  // the first document only: no loop
  }
  return out;
}

SourcePos position_in(std::string_view text, const YAML::Mark& mark) {
  return SourceText(text).at(mark);
}

std::string expected_one_of(std::string_view word, std::span<const std::string> candidates) {
  return workflow::expected_one_of(word, candidates);
}

std::string_view kind_name(const YAML::Node& node) {
  return workflow::kind_name(node);
}

Result<boost::json::value> node_as_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      boost::json::object out;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return make_error(Errc::invalid_argument, "a key that is not a single value");
        }
        auto value = node_as_json(kv.second);
        if (!value) {
          return value;
        }
        out[kv.first.Scalar()] = std::move(*value);
      }
      return boost::json::value(std::move(out));
    }
    case YAML::NodeType::Sequence: {
      boost::json::array out;
      for (const auto& item : node) {
        auto value = node_as_json(item);
        if (!value) {
          return value;
        }
        out.push_back(std::move(*value));
      }
      return boost::json::value(std::move(out));
    }
    case YAML::NodeType::Scalar: {
      if (!is_plain(node)) {
        return boost::json::value(node.Scalar());
      }
      if (auto value = core_schema_value(node.Scalar())) {
        return std::move(*value);
      }
      return make_error(Errc::invalid_argument,
                        "'" + node.Scalar() + "' is not a number JSON can hold");
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return boost::json::value(nullptr);
}

}  // namespace detail

Result<boost::json::value> workflow_as_json(std::string_view text) {
  try {
    return detail::node_as_json(YAML::Load(std::string(text)));
  } catch (const YAML::Exception& e) {
    return make_error(Errc::invalid_argument, "invalid YAML: " + e.msg);
  }
}

std::span<const std::string_view> known_keys(std::string_view where) {
  static const std::map<std::string_view, std::span<const std::string_view>> kPlaces{
      {"workflow", kTopKeys},
      {"field", kFieldKeys},
      {"state", kStateKeys},
      {"transition", kTransitionKeys},
      {"step_call", kStepCallKeys},
      {"retry", kRetryKeys},
      {"after", kAfterKeys},
      {"every", kEveryKeys},
      {"clock", kClockKeys},
      {"trigger", kTriggerKeys},
      {"clock_action", kClockActionKeys},
      {"exclude", kExcludeKeys},
      {"consent", kConsentKeys}};
  const auto it = kPlaces.find(where);
  return it == kPlaces.end() ? std::span<const std::string_view>{} : it->second;
}

std::string to_string(const Diagnostic& d) {
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " +
         (d.severity == Severity::warning ? "warning" : "error") + ": " + d.message;
}

LoadResult load_workflow_text(std::string_view text, std::string file_name,
                              const StepCatalog* steps) {
  // A UTF-8 byte order mark is not content; yaml-cpp skips it but does not count it in its
  // offsets, so it goes before those offsets are turned into columns.
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  std::string_view content = text;
  if (content.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
    content.remove_prefix(kByteOrderMark.size());
  }
  Loader loader(content, std::move(file_name), steps);
  LoadResult result = loader.run();
  result.source = std::string(text);
  return result;
}

LoadResult load_workflow_file(const std::filesystem::path& path, const StepCatalog* steps) {
  const std::string file_name = path.string();
  std::string problem;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    problem = "is a directory; expected a workflow file";
  } else {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      if (!in.bad()) {
        return load_workflow_text(text.str(), file_name, steps);
      }
    }
    problem = std::filesystem::exists(path, ec) ? "cannot be read" : "does not exist";
  }
  LoadResult result;
  result.diagnostics.push_back(
      Diagnostic{file_name, 0, 0, Severity::error, "workflow file " + problem});
  return result;
}

}  // namespace carepath::workflow
