#include "core/json_schema.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string_view>

#include <boost/json/serialize.hpp>

namespace carepath {
namespace {

// Deeper schemas are refused: validation recurses once per schema level, and no step
// configuration needs anywhere near this many.
constexpr int kMaxSchemaDepth = 64;
// Instance values are compared (enum, const, uniqueItems) recursively; past this depth two
// values count as different. Configurations never nest this deep.
constexpr int kMaxCompareDepth = 128;
// libstdc++'s std::regex backtracks recursively, so a long subject can exhaust the stack. A
// configuration string longer than this is reported instead of matched.
constexpr std::size_t kMaxPatternSubject = 4096;

// std::regex expands counted repetitions ("a{1000}") into copies when it compiles, so a short
// hostile pattern could take gigabytes. Patterns are refused above these estimates.
constexpr std::size_t kMaxPatternLength = 1000;
constexpr std::uint64_t kMaxPatternStates = 20000;
constexpr std::uint64_t kCap = std::uint64_t{1} << 40U;  // where the estimate saturates

constexpr std::array<std::string_view, 7> kTypeNames{"null",   "boolean", "object", "array",
                                                     "number", "integer", "string"};

// ---------------------------------------------------------------------------------------------
// JSON Pointer helpers.

std::string pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string child(const std::string& pointer, std::string_view token) {
  return pointer + "/" + pointer_token(token);
}

std::string child(const std::string& pointer, std::size_t index) {
  return pointer + "/" + std::to_string(index);
}

// How a pointer appears in messages: the root is spelled "/" rather than "".
std::string shown(const std::string& pointer) {
  return pointer.empty() ? std::string("/") : pointer;
}

// The schema a `$ref` names inside `root`: "#" (the root itself) or "#/definitions/NAME" (a JSON
// Pointer with ~0 and ~1 escapes); nullptr for anything else. Remote references are not
// followed: a schema is one self-contained document.
const boost::json::value* resolve_ref(const boost::json::value& root, std::string_view ref) {
  if (ref == "#") {
    return &root;
  }
  constexpr std::string_view kPrefix = "#/definitions/";
  if (ref.substr(0, kPrefix.size()) != kPrefix || !root.is_object()) {
    return nullptr;
  }
  std::string name;
  const std::string_view token = ref.substr(kPrefix.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '/') {
      return nullptr;
    }
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      name += token[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      name += token[i];
    }
  }
  const auto* definitions = root.get_object().if_contains("definitions");
  if (definitions == nullptr || !definitions->is_object()) {
    return nullptr;
  }
  const auto* target = definitions->get_object().if_contains(name);
  return target != nullptr && (target->is_object() || target->is_bool()) ? target : nullptr;
}

// Keywords that only annotate; the only ones allowed next to `$ref`, whose siblings draft-07
// ignores (so a constraint there would look enforced and not be).
bool is_annotation(std::string_view key) {
  return key == "title" || key == "description" || key == "default" || key == "examples" ||
         key == "$comment";
}

// ---------------------------------------------------------------------------------------------
// Value helpers.

bool is_number(const boost::json::value& v) {
  return v.is_int64() || v.is_uint64() || v.is_double();
}

double to_double(const boost::json::value& v) {
  if (v.is_int64()) {
    return static_cast<double>(v.get_int64());
  }
  if (v.is_uint64()) {
    return static_cast<double>(v.get_uint64());
  }
  return v.get_double();
}

// Draft-07: 1.0 is an integer.
bool is_integer(const boost::json::value& v) {
  if (v.is_int64() || v.is_uint64()) {
    return true;
  }
  if (v.is_double()) {
    const double d = v.get_double();
    return std::isfinite(d) && std::trunc(d) == d;
  }
  return false;
}

bool is_non_negative_integer(const boost::json::value& v) {
  if (v.is_int64()) {
    return v.get_int64() >= 0;
  }
  return v.is_uint64() || (is_integer(v) && v.get_double() >= 0);
}

std::uint64_t to_count(const boost::json::value& v) {
  if (v.is_int64()) {
    return static_cast<std::uint64_t>(v.get_int64());
  }
  if (v.is_uint64()) {
    return v.get_uint64();
  }
  return static_cast<std::uint64_t>(v.get_double());
}

// JSON equality as JSON Schema defines it: numbers compare by value (1 == 1.0), objects ignore
// member order.
bool json_equal(const boost::json::value& a, const boost::json::value& b, int depth = 0) {
  if (depth > kMaxCompareDepth) {
    return false;
  }
  if (is_number(a) && is_number(b)) {
    if (a.is_int64() && b.is_int64()) {
      return a.get_int64() == b.get_int64();
    }
    if (a.is_uint64() && b.is_uint64()) {
      return a.get_uint64() == b.get_uint64();
    }
    return to_double(a) == to_double(b);
  }
  if (a.kind() != b.kind()) {
    return false;
  }
  switch (a.kind()) {
    case boost::json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) {
        return false;
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!json_equal(x[i], y[i], depth + 1)) {
          return false;
        }
      }
      return true;
    }
    case boost::json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) {
        return false;
      }
      for (const auto& member : x) {
        const auto* other = y.if_contains(member.key());
        if (other == nullptr || !json_equal(member.value(), *other, depth + 1)) {
          return false;
        }
      }
      return true;
    }
    default:
      return a == b;
  }
}

bool has_type(const boost::json::value& instance, std::string_view type) {
  if (type == "null") {
    return instance.is_null();
  }
  if (type == "boolean") {
    return instance.is_bool();
  }
  if (type == "object") {
    return instance.is_object();
  }
  if (type == "array") {
    return instance.is_array();
  }
  if (type == "number") {
    return is_number(instance);
  }
  if (type == "integer") {
    return is_integer(instance);
  }
  if (type == "string") {
    return instance.is_string();
  }
  return false;
}

std::string with_article(std::string_view type) {
  if (type == "null") {
    return "null";
  }
  const bool vowel = type == "object" || type == "array" || type == "integer";
  return std::string(vowel ? "an " : "a ") + std::string(type);
}

// Length as JSON Schema counts it: Unicode code points, not bytes. Continuation bytes of UTF-8
// sequences are not counted.
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

// A rough count of the automaton states std::regex builds for `pattern`: one per atom, times
// every counted repetition around it. Over-estimates rather than under-estimates; saturates.
std::uint64_t pattern_states(std::string_view pattern) {
  const auto add = [](std::uint64_t a, std::uint64_t b) { return std::min(a + b, kCap); };
  const auto mul = [](std::uint64_t a, std::uint64_t b) {
    return b != 0 && a > kCap / b ? kCap : std::min(a * b, kCap);
  };
  std::vector<std::uint64_t> groups{0};  // states so far in each open group
  std::uint64_t last = 0;                // states of the atom a quantifier would repeat
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '(') {
      groups.push_back(0);
      last = 0;
      continue;
    }
    if (c == ')' && groups.size() > 1) {
      last = add(groups.back(), 1);
      groups.pop_back();
      groups.back() = add(groups.back(), last);
      continue;
    }
    if (c == '{') {
      std::size_t j = i + 1;
      std::uint64_t low = 0;
      std::uint64_t high = 0;
      bool digits = false;
      while (j < pattern.size() && pattern[j] >= '0' && pattern[j] <= '9') {
        low = add(mul(low, 10), static_cast<std::uint64_t>(pattern[j] - '0'));
        digits = true;
        ++j;
      }
      high = low;  // "{m}", and "{m,}" (m copies and a star)
      if (j < pattern.size() && pattern[j] == ',') {
        ++j;
        std::uint64_t upper = 0;
        bool upper_digits = false;
        while (j < pattern.size() && pattern[j] >= '0' && pattern[j] <= '9') {
          upper = add(mul(upper, 10), static_cast<std::uint64_t>(pattern[j] - '0'));
          upper_digits = true;
          ++j;
        }
        if (upper_digits) {
          high = std::max(upper, low);
        }
      }
      if (digits && j < pattern.size() && pattern[j] == '}') {
        // The atom was counted once already; the repetition adds (high - 1) more copies.
        const std::uint64_t copies = high == 0 ? 0 : high - 1;
        groups.back() = add(groups.back(), mul(last, copies));
        last = mul(last, std::max<std::uint64_t>(high, 1));
        i = j;
        continue;
      }
    }
    if (c == '\\') {
      ++i;  // the escaped character is part of this atom
    } else if (c == '[') {
      // A bracket expression is one atom; skip to its closing ']' (a leading ']' is literal).
      std::size_t j = i + 1;
      if (j < pattern.size() && pattern[j] == '^') {
        ++j;
      }
      if (j < pattern.size() && pattern[j] == ']') {
        ++j;
      }
      while (j < pattern.size() && pattern[j] != ']') {
        j += pattern[j] == '\\' ? 2 : 1;
      }
      i = std::min(j, pattern.size());
    }
    last = 1;
    groups.back() = add(groups.back(), 1);
  }
  std::uint64_t total = 0;
  for (std::uint64_t g : groups) {
    total = add(total, g);
  }
  return total;
}

// A number as a person would write it: "1.5", not Boost.JSON's "1.5E0".
std::string number_text(const boost::json::value& v) {
  if (!v.is_double()) {
    return boost::json::serialize(v);
  }
  std::array<char, 64> buffer{};
  const auto [end, ec] =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), v.get_double());
  if (ec != std::errc{}) {
    return boost::json::serialize(v);
  }
  return {buffer.data(), end};
}

// ---------------------------------------------------------------------------------------------
// check_schema.

class SchemaChecker {
 public:
  explicit SchemaChecker(const boost::json::value& root) : root_(root) {}

  Result<void> check(const boost::json::value& schema, const std::string& pointer, int depth) {
    if (depth > kMaxSchemaDepth) {
      return make_error(Errc::invalid_argument, "schema nests deeper than " +
                                                    std::to_string(kMaxSchemaDepth) +
                                                    " levels at " + shown(pointer));
    }
    if (schema.is_bool()) {
      return {};
    }
    if (!schema.is_object()) {
      return make_error(Errc::invalid_argument,
                        "schema at " + shown(pointer) + " must be an object or a boolean");
    }
    const bool has_ref = schema.get_object().contains("$ref");
    for (const auto& member : schema.get_object()) {
      const std::string_view key = member.key();
      const boost::json::value& value = member.value();
      const std::string at = child(pointer, key);
      if (has_ref && key != "$ref" && !is_annotation(key)) {
        return make_error(Errc::invalid_argument,
                          "schema keyword '" + std::string(key) + "' at " + shown(at) +
                              " is next to '$ref', which draft-07 says to ignore; the engine "
                              "would not enforce it (use allOf)");
      }
      auto checked = check_keyword(key, value, at, depth);
      if (!checked) {
        return checked;
      }
    }
    return {};
  }

 private:
  static Result<void> wrong(std::string_view key, const std::string& at, std::string_view what) {
    return make_error(Errc::invalid_argument, "schema keyword '" + std::string(key) + "' at " +
                                                  shown(at) + " must be " + std::string(what));
  }

  Result<void> check_schema_array(std::string_view key, const boost::json::value& value,
                                  const std::string& at, int depth) {
    if (!value.is_array() || value.get_array().empty()) {
      return wrong(key, at, "a non-empty array of schemas");
    }
    const auto& items = value.get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto checked = check(items[i], child(at, i), depth + 1);
      if (!checked) {
        return checked;
      }
    }
    return {};
  }

  Result<void> check_keyword(std::string_view key, const boost::json::value& value,
                             const std::string& at, int depth) {
    if (key == "type") {
      return check_type(value, at);
    }
    if (key == "enum") {
      if (!value.is_array() || value.get_array().empty()) {
        return wrong(key, at, "a non-empty array");
      }
      return {};
    }
    if (key == "const" || key == "default") {
      return {};
    }
    if (key == "properties" || key == "definitions") {
      if (!value.is_object()) {
        return wrong(key, at, "an object of schemas");
      }
      for (const auto& property : value.get_object()) {
        auto checked = check(property.value(), child(at, property.key()), depth + 1);
        if (!checked) {
          return checked;
        }
      }
      return {};
    }
    if (key == "required") {
      if (!value.is_array()) {
        return wrong(key, at, "an array of unique strings");
      }
      const auto& names = value.get_array();
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (!names[i].is_string()) {
          return wrong(key, at, "an array of unique strings");
        }
        for (std::size_t j = 0; j < i; ++j) {
          if (names[j] == names[i]) {
            return wrong(key, at, "an array of unique strings");
          }
        }
      }
      return {};
    }
    if (key == "additionalProperties" || key == "not" || key == "propertyNames") {
      return check(value, at, depth + 1);
    }
    if (key == "$ref") {
      return check_ref(value, at);
    }
    if (key == "items") {
      if (value.is_array()) {
        const auto& items = value.get_array();
        for (std::size_t i = 0; i < items.size(); ++i) {
          auto checked = check(items[i], child(at, i), depth + 1);
          if (!checked) {
            return checked;
          }
        }
        return {};
      }
      return check(value, at, depth + 1);
    }
    if (key == "minItems" || key == "maxItems" || key == "minLength" || key == "maxLength" ||
        key == "minProperties" || key == "maxProperties") {
      if (!is_non_negative_integer(value)) {
        return wrong(key, at, "a non-negative integer");
      }
      return {};
    }
    if (key == "uniqueItems") {
      if (!value.is_bool()) {
        return wrong(key, at, "true or false");
      }
      return {};
    }
    if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
        key == "exclusiveMaximum") {
      if (!is_number(value)) {
        return wrong(key, at, "a number");
      }
      return {};
    }
    if (key == "pattern") {
      if (!value.is_string()) {
        return wrong(key, at, "a string");
      }
      if (value.get_string().size() > kMaxPatternLength ||
          pattern_states(value.get_string()) > kMaxPatternStates) {
        return wrong(key, at,
                     "a simpler regular expression (at most " + std::to_string(kMaxPatternLength) +
                         " characters, counted repetitions expanding to at most " +
                         std::to_string(kMaxPatternStates) + " states)");
      }
      try {
        const std::regex compiled(value.get_string().c_str(), value.get_string().size(),
                                  std::regex::ECMAScript);
        (void)compiled;
      } catch (const std::regex_error&) {
        return wrong(key, at, "a valid ECMAScript regular expression");
      }
      return {};
    }
    if (key == "anyOf" || key == "oneOf" || key == "allOf") {
      return check_schema_array(key, value, at, depth);
    }
    if (key == "title" || key == "description" || key == "$schema" || key == "$id" ||
        key == "$comment") {
      if (!value.is_string()) {
        return wrong(key, at, "a string");
      }
      return {};
    }
    if (key == "examples") {
      if (!value.is_array()) {
        return wrong(key, at, "an array");
      }
      return {};
    }
    return make_error(Errc::invalid_argument, "schema keyword '" + std::string(key) + "' at " +
                                                  shown(at) +
                                                  " is not supported; the engine would not "
                                                  "enforce it");
  }

  // A `$ref` must name a schema in this document; a chain of references that never reaches a
  // schema with keywords of its own would make validation loop.
  Result<void> check_ref(const boost::json::value& value, const std::string& at) const {
    constexpr std::string_view kWhat = "\"#\" or \"#/definitions/NAME\" naming a schema";
    if (!value.is_string()) {
      return wrong("$ref", at, kWhat);
    }
    const boost::json::value* target = resolve_ref(root_, value.get_string());
    for (int hops = 0; target != nullptr; ++hops) {
      const auto* next = target->is_object() ? target->get_object().if_contains("$ref") : nullptr;
      if (next == nullptr) {
        return {};
      }
      if (!next->is_string() || hops > kMaxSchemaDepth) {
        break;
      }
      target = resolve_ref(root_, next->get_string());
    }
    return wrong("$ref", at, kWhat);
  }

  static Result<void> check_type(const boost::json::value& value, const std::string& at) {
    const auto known = [](const boost::json::value& v) {
      return v.is_string() &&
             std::find(kTypeNames.begin(), kTypeNames.end(), v.get_string()) != kTypeNames.end();
    };
    constexpr std::string_view kWhat =
        "a type name (null, boolean, object, array, number, integer, string) or a non-empty "
        "array of unique type names";
    if (value.is_string()) {
      if (!known(value)) {
        return wrong("type", at, kWhat);
      }
      return {};
    }
    if (!value.is_array() || value.get_array().empty()) {
      return wrong("type", at, kWhat);
    }
    const auto& names = value.get_array();
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!known(names[i])) {
        return wrong("type", at, kWhat);
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (names[j] == names[i]) {
          return wrong("type", at, kWhat);
        }
      }
    }
    return {};
  }

  const boost::json::value& root_;
};

// ---------------------------------------------------------------------------------------------
// validate_schema.

class Validator {
 public:
  Validator(const boost::json::value& root, std::vector<SchemaProblem>& problems, bool& too_deep)
      : root_(root), problems_(problems), too_deep_(too_deep) {}

  void validate(const boost::json::value& schema, const boost::json::value& instance,
                const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) {
      // Not a problem of this branch: under `not` or `anyOf` it could turn into a match.
      // validate_schema() reports it once for the whole document.
      too_deep_ = true;
      return;
    }
    if (schema.is_bool()) {
      if (!schema.get_bool()) {
        add(path, "no value is allowed here");
      }
      return;
    }
    if (!schema.is_object()) {
      add(path, "schema is not valid");
      return;
    }
    const auto& s = schema.get_object();
    if (const auto* ref = s.if_contains("$ref"); ref != nullptr && ref->is_string()) {
      // check_schema() allowed only annotations beside it.
      if (const boost::json::value* target = resolve_ref(root_, ref->get_string())) {
        validate(*target, instance, path, depth + 1);
      } else {
        add(path, "schema is not valid");
      }
      return;
    }

    // A wrong type makes the type-specific keywords meaningless; report it alone.
    if (const auto* type = s.if_contains("type");
        type != nullptr && !type_matches(*type, instance)) {
      add(path, "expected " + type_list(*type));
      return;
    }
    if (const auto* value = s.if_contains("const");
        value != nullptr && !json_equal(*value, instance)) {
      add(path, "must be " + boost::json::serialize(*value));
    }
    if (const auto* values = s.if_contains("enum"); values != nullptr && values->is_array()) {
      const auto& list = values->get_array();
      const bool found = std::any_of(list.begin(), list.end(), [&](const boost::json::value& v) {
        return json_equal(v, instance);
      });
      if (!found) {
        std::string text;
        for (const auto& v : list) {
          if (!text.empty()) {
            text += ", ";
          }
          text += boost::json::serialize(v);
        }
        add(path, "must be one of: " + text);
      }
    }
    if (is_number(instance)) {
      validate_number(s, instance, path);
    } else if (instance.is_string()) {
      validate_string(s, instance.get_string(), path);
    } else if (instance.is_array()) {
      validate_array(s, instance.get_array(), path, depth);
    } else if (instance.is_object()) {
      validate_object(s, instance.get_object(), path, depth);
    }
    validate_combinators(s, instance, path, depth);
  }

 private:
  void add(const std::string& path, std::string message) {
    problems_.push_back(SchemaProblem{path, std::move(message)});
  }

  static bool type_matches(const boost::json::value& type, const boost::json::value& instance) {
    if (type.is_string()) {
      return has_type(instance, type.get_string());
    }
    if (type.is_array()) {
      const auto& names = type.get_array();
      return std::any_of(names.begin(), names.end(), [&](const boost::json::value& name) {
        return name.is_string() && has_type(instance, name.get_string());
      });
    }
    return true;
  }

  static std::string type_list(const boost::json::value& type) {
    if (type.is_string()) {
      return with_article(type.get_string());
    }
    std::string text;
    const auto& names = type.get_array();
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) {
        text += i + 1 == names.size() ? " or " : ", ";
      }
      text += names[i].is_string() ? with_article(names[i].get_string()) : std::string("?");
    }
    return text;
  }

  void validate_number(const boost::json::object& s, const boost::json::value& instance,
                       const std::string& path) {
    const double x = to_double(instance);
    if (const auto* v = s.if_contains("minimum");
        v != nullptr && is_number(*v) && x < to_double(*v)) {
      add(path, "must be at least " + number_text(*v));
    }
    if (const auto* v = s.if_contains("maximum");
        v != nullptr && is_number(*v) && x > to_double(*v)) {
      add(path, "must be at most " + number_text(*v));
    }
    if (const auto* v = s.if_contains("exclusiveMinimum");
        v != nullptr && is_number(*v) && x <= to_double(*v)) {
      add(path, "must be greater than " + number_text(*v));
    }
    if (const auto* v = s.if_contains("exclusiveMaximum");
        v != nullptr && is_number(*v) && x >= to_double(*v)) {
      add(path, "must be less than " + number_text(*v));
    }
  }

  void validate_string(const boost::json::object& s, std::string_view text,
                       const std::string& path) {
    const std::size_t length = code_points(text);
    if (const auto* v = s.if_contains("minLength");
        v != nullptr && is_non_negative_integer(*v) && length < to_count(*v)) {
      add(path, "must be at least " + number_text(*v) + " characters long");
    }
    if (const auto* v = s.if_contains("maxLength");
        v != nullptr && is_non_negative_integer(*v) && length > to_count(*v)) {
      add(path, "must be at most " + number_text(*v) + " characters long");
    }
    if (const auto* v = s.if_contains("pattern"); v != nullptr && v->is_string()) {
      const std::string_view pattern = v->get_string();
      if (text.size() > kMaxPatternSubject) {
        add(path, "is too long to check against pattern '" + std::string(pattern) + "'");
        return;
      }
      try {
        const std::regex re(pattern.data(), pattern.size(), std::regex::ECMAScript);
        if (!std::regex_search(text.begin(), text.end(), re)) {
          add(path, "must match pattern '" + std::string(pattern) + "'");
        }
      } catch (const std::regex_error&) {
        // Only reachable for a schema that did not pass check_schema(), or for a match that
        // exceeded the library's complexity limit.
        add(path, "cannot be checked against pattern '" + std::string(pattern) + "'");
      }
    }
  }

  void validate_array(const boost::json::object& s, const boost::json::array& items,
                      const std::string& path, int depth) {
    if (const auto* v = s.if_contains("minItems");
        v != nullptr && is_non_negative_integer(*v) && items.size() < to_count(*v)) {
      add(path, "must have at least " + number_text(*v) + " items");
    }
    if (const auto* v = s.if_contains("maxItems");
        v != nullptr && is_non_negative_integer(*v) && items.size() > to_count(*v)) {
      add(path, "must have at most " + number_text(*v) + " items");
    }
    if (const auto* v = s.if_contains("uniqueItems");
        v != nullptr && v->is_bool() && v->get_bool()) {
      bool reported = false;
      for (std::size_t i = 1; i < items.size() && !reported; ++i) {
        for (std::size_t j = 0; j < i; ++j) {
          if (json_equal(items[i], items[j])) {
            add(child(path, i), "duplicates item " + std::to_string(j));
            reported = true;
            break;
          }
        }
      }
    }
    if (const auto* v = s.if_contains("items"); v != nullptr) {
      if (v->is_array()) {
        // Tuple form: item i against schema i; items past the list are not constrained.
        const auto& schemas = v->get_array();
        for (std::size_t i = 0; i < items.size() && i < schemas.size(); ++i) {
          validate(schemas[i], items[i], child(path, i), depth + 1);
        }
      } else {
        for (std::size_t i = 0; i < items.size(); ++i) {
          validate(*v, items[i], child(path, i), depth + 1);
        }
      }
    }
  }

  void validate_object(const boost::json::object& s, const boost::json::object& object,
                       const std::string& path, int depth) {
    if (const auto* v = s.if_contains("minProperties");
        v != nullptr && is_non_negative_integer(*v) && object.size() < to_count(*v)) {
      add(path, "must have at least " + number_text(*v) + " keys");
    }
    if (const auto* v = s.if_contains("maxProperties");
        v != nullptr && is_non_negative_integer(*v) && object.size() > to_count(*v)) {
      add(path, "must have at most " + number_text(*v) + " keys");
    }
    if (const auto* names = s.if_contains("propertyNames"); names != nullptr) {
      for (const auto& member : object) {
        std::vector<SchemaProblem> found;
        Validator(root_, found, too_deep_)
            .validate(*names, boost::json::value(member.key()), "", depth + 1);
        for (const SchemaProblem& problem : found) {
          add(child(path, member.key()), "key name " + problem.message);
        }
      }
    }
    if (const auto* v = s.if_contains("required"); v != nullptr && v->is_array()) {
      for (const auto& name : v->get_array()) {
        if (name.is_string() && !object.contains(name.get_string())) {
          add(path, "missing required key '" + std::string(name.get_string()) + "'");
        }
      }
    }
    const boost::json::object* properties = nullptr;
    if (const auto* v = s.if_contains("properties"); v != nullptr && v->is_object()) {
      properties = &v->get_object();
    }
    const boost::json::value* additional = s.if_contains("additionalProperties");
    for (const auto& member : object) {
      const std::string at = child(path, member.key());
      const boost::json::value* property =
          properties != nullptr ? properties->if_contains(member.key()) : nullptr;
      if (property != nullptr) {
        validate(*property, member.value(), at, depth + 1);
      } else if (additional != nullptr) {
        if (additional->is_bool() && !additional->get_bool()) {
          // Not "no value is allowed here": name the key, it is usually a typo.
          add(at, "unknown key '" + std::string(member.key()) + "'");
        } else {
          validate(*additional, member.value(), at, depth + 1);
        }
      }
    }
  }

  void validate_combinators(const boost::json::object& s, const boost::json::value& instance,
                            const std::string& path, int depth) {
    if (const auto* v = s.if_contains("allOf"); v != nullptr && v->is_array()) {
      for (const auto& sub : v->get_array()) {
        validate(sub, instance, path, depth + 1);
      }
    }
    if (const auto* v = s.if_contains("anyOf"); v != nullptr && v->is_array()) {
      const auto& subs = v->get_array();
      const bool any = std::any_of(subs.begin(), subs.end(), [&](const boost::json::value& sub) {
        return matches(sub, instance, depth + 1);
      });
      if (!any) {
        add(path, "must match at least one of the 'anyOf' schemas");
      }
    }
    if (const auto* v = s.if_contains("oneOf"); v != nullptr && v->is_array()) {
      std::size_t count = 0;
      for (const auto& sub : v->get_array()) {
        if (matches(sub, instance, depth + 1)) {
          ++count;
        }
      }
      if (count != 1) {
        add(path,
            "must match exactly one of the 'oneOf' schemas, matches " + std::to_string(count));
      }
    }
    if (const auto* v = s.if_contains("not"); v != nullptr && matches(*v, instance, depth + 1)) {
      add(path, "must not match the 'not' schema");
    }
  }

  bool matches(const boost::json::value& schema, const boost::json::value& instance, int depth) {
    std::vector<SchemaProblem> problems;
    Validator(root_, problems, too_deep_).validate(schema, instance, "", depth);
    return problems.empty();
  }

  const boost::json::value& root_;
  std::vector<SchemaProblem>& problems_;
  bool& too_deep_;
};

}  // namespace

Result<void> check_schema(const boost::json::value& schema) {
  return SchemaChecker(schema).check(schema, "", 0);
}

std::vector<SchemaProblem> validate_schema(const boost::json::value& schema,
                                           const boost::json::value& instance) {
  std::vector<SchemaProblem> problems;
  bool too_deep = false;
  Validator(schema, problems, too_deep).validate(schema, instance, "", 0);
  if (too_deep) {
    return {SchemaProblem{"", "schema nests too deeply to validate"}};
  }
  return problems;
}

}  // namespace carepath
