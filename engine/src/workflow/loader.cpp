#include "workflow/loader.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <system_error>
#include <utility>

#include <yaml-cpp/yaml.h>

namespace carepath::workflow {
namespace {

constexpr int kFormatVersion = 1;

// The keys of format 1, in the order the docs list them. Anything else is an error: that is what
// lets a later version add keys (steps, timers, ...) without changing the meaning of any file
// that loads today.
constexpr std::array<std::string_view, 8> kTopKeys{"carepath",    "workflow", "version", "title",
                                                   "description", "roles",    "fields",  "states"};
constexpr std::array<std::string_view, 8> kFieldKeys{
    "type", "min", "max", "values", "sensitivity", "visible_to", "editable_by", "description"};
constexpr std::array<std::string_view, 4> kStateKeys{"initial", "final", "description", "on"};
constexpr std::array<std::string_view, 5> kTransitionKeys{"to", "roles", "requires", "when",
                                                          "description"};
// Case history records these itself; a transition with the same name would be ambiguous there.
constexpr std::array<std::string_view, 2> kReservedEvents{"opened", "updated"};

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
  Loader(std::string_view text, std::string file_name)
      : source_(text), file_(std::move(file_name)) {}

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
  std::optional<std::int64_t> read_integer(const Entry& e);
  std::optional<double> read_number(const Entry& e);
  std::optional<std::vector<NameItem>> read_names(const Entry& e, std::string_view what);
  std::vector<std::string> read_roles(const Entry& e);

  // --- the format ---
  void read_workflow(const YAML::Node& root);
  void read_field(const Entry& e);
  void read_min_max(const Entry& field_entry, const std::vector<Entry>& keys, Field& field);
  void read_states(const Entry& states);
  void read_transitions(StateId from, const Entry& on);
  void read_row(StateId from, const std::string& event, const YAML::Node& row,
                const YAML::Node& anchor);
  std::optional<Guard> compile_guard(const Entry& when);
  EventId intern_event(const std::string& name);
  void check_graph(const Entry& states_entry);

  SourceText source_;
  std::string file_;
  std::vector<Diagnostic> diagnostics_;
  int errors_ = 0;
  std::shared_ptr<Workflow> workflow_ = std::make_shared<Workflow>();
  std::map<std::string, std::size_t, std::less<>> field_index_;
  std::map<std::string, StateId, std::less<>> state_index_;
  std::vector<std::string> state_names_;
  std::vector<std::string> broken_fields_;  // declared, but with a definition in error
  bool roles_declared_ = false;             // the top-level `roles` list was readable
  // Maps and the known key that an unknown key in them was probably meant to be.
  std::vector<std::pair<YAML::Node, std::string>> suggested_;
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
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(source_.text()));
    if (documents.empty() || documents.front().IsNull()) {
      report(Severity::error, SourcePos{1, 1},
             "empty file; expected a workflow map starting with 'carepath: 1'");
    } else {
      read_workflow(documents.front());
    }
    // A trailing `---` makes an empty second document, which is harmless; content is not.
    for (std::size_t i = 1; i < documents.size(); ++i) {
      if (!documents[i].IsNull()) {
        error(documents[i], "a workflow file holds one YAML document; found another after '---'");
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
    }
  }

  if (const Entry* e = find(keys, "states")) {
    read_states(*e);
  } else {
    missing(root, root, "states", "missing required key 'states'");
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
    if (const Entry* d = find(keys, "description")) {
      read_string(*d);
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
  if (const Entry* when = find(keys, "when")) {
    t.when = compile_guard(*when);
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

}  // namespace

std::string to_string(const Diagnostic& d) {
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " +
         (d.severity == Severity::warning ? "warning" : "error") + ": " + d.message;
}

LoadResult load_workflow_text(std::string_view text, std::string file_name) {
  // A UTF-8 byte order mark is not content; yaml-cpp skips it but does not count it in its
  // offsets, so it goes before those offsets are turned into columns.
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  std::string_view content = text;
  if (content.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
    content.remove_prefix(kByteOrderMark.size());
  }
  Loader loader(content, std::move(file_name));
  LoadResult result = loader.run();
  result.source = std::string(text);
  return result;
}

LoadResult load_workflow_file(const std::filesystem::path& path) {
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
        return load_workflow_text(text.str(), file_name);
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
