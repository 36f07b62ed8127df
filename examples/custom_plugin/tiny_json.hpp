// tiny_json: just enough JSON reading for this example, with no dependencies.
//
// The carepath SDK deliberately comes without a JSON library, so that plugins can use whichever
// they already have. In your own plugin, prefer a real one (Boost.JSON, nlohmann/json, simdjson,
// RapidJSON) and delete this file. It is here so that the example builds with nothing but the
// carepath SDK installed.
//
// It parses RFC 8259 JSON into a tree of Values and never crashes on bad input: parse() returns
// std::nullopt for anything malformed, including nesting deeper than kMaxDepth.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace tiny_json {

// One JSON value. Objects keep their members in document order.
struct Value {
  enum class Type { null, boolean, integer, number, string, array, object };

  Type type = Type::null;
  bool boolean = false;
  std::int64_t integer = 0;       // Type::integer: a number with no fraction or exponent
  double number = 0;              // Type::number and Type::integer
  std::string string;             // Type::string
  std::vector<Value> items;       // Type::array, and the member values of Type::object
  std::vector<std::string> keys;  // Type::object: keys[i] names items[i]

  // The member called `key` (the last one, if the document repeats it), or nullptr when this is
  // not an object or has no such member.
  const Value* find(std::string_view key) const {
    if (type != Type::object) {
      return nullptr;
    }
    for (std::size_t i = keys.size(); i > 0; --i) {
      if (keys[i - 1] == key) {
        return &items[i - 1];
      }
    }
    return nullptr;
  }
};

namespace detail {

constexpr int kMaxDepth = 64;

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::optional<Value> parse_document() {
    Value value;
    if (!parse_value(value, 0)) {
      return std::nullopt;
    }
    skip_space();
    if (pos_ != text_.size()) {
      return std::nullopt;  // trailing garbage
    }
    return value;
  }

 private:
  bool parse_value(Value& out, int depth) {
    if (depth > kMaxDepth) {
      return false;
    }
    skip_space();
    if (pos_ >= text_.size()) {
      return false;
    }
    switch (text_[pos_]) {
      case '{':
        return parse_object(out, depth);
      case '[':
        return parse_array(out, depth);
      case '"':
        out.type = Value::Type::string;
        return parse_string(out.string);
      case 't':
        out.type = Value::Type::boolean;
        out.boolean = true;
        return literal("true");
      case 'f':
        out.type = Value::Type::boolean;
        out.boolean = false;
        return literal("false");
      case 'n':
        out.type = Value::Type::null;
        return literal("null");
      default:
        return parse_number(out);
    }
  }

  bool parse_object(Value& out, int depth) {
    out.type = Value::Type::object;
    ++pos_;  // '{'
    skip_space();
    if (consume('}')) {
      return true;
    }
    while (true) {
      skip_space();
      std::string key;
      if (pos_ >= text_.size() || text_[pos_] != '"' || !parse_string(key)) {
        return false;
      }
      skip_space();
      if (!consume(':')) {
        return false;
      }
      Value member;
      if (!parse_value(member, depth + 1)) {
        return false;
      }
      out.keys.push_back(std::move(key));
      out.items.push_back(std::move(member));
      skip_space();
      if (consume('}')) {
        return true;
      }
      if (!consume(',')) {
        return false;
      }
    }
  }

  bool parse_array(Value& out, int depth) {
    out.type = Value::Type::array;
    ++pos_;  // '['
    skip_space();
    if (consume(']')) {
      return true;
    }
    while (true) {
      Value item;
      if (!parse_value(item, depth + 1)) {
        return false;
      }
      out.items.push_back(std::move(item));
      skip_space();
      if (consume(']')) {
        return true;
      }
      if (!consume(',')) {
        return false;
      }
    }
  }

  // A string, with escapes decoded to UTF-8. Starts at the opening quote.
  bool parse_string(std::string& out) {
    ++pos_;  // '"'
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') {
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return false;  // control characters must be escaped
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) {
        return false;
      }
      switch (text_[pos_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          if (!parse_unicode_escape(out)) {
            return false;
          }
          break;
        default:
          return false;
      }
    }
    return false;  // no closing quote
  }

  // The XXXX of \uXXXX (and a following low surrogate, if this is a high one), as UTF-8.
  bool parse_unicode_escape(std::string& out) {
    std::uint32_t code = 0;
    if (!hex4(code)) {
      return false;
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
      std::uint32_t low = 0;
      if (!consume('\\') || !consume('u') || !hex4(low) || low < 0xDC00 || low > 0xDFFF) {
        return false;
      }
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    } else if (code >= 0xDC00 && code <= 0xDFFF) {
      return false;  // a lone low surrogate
    }
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
    return true;
  }

  bool hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) {
      return false;
    }
    const char* first = text_.data() + pos_;
    const auto [end, error] = std::from_chars(first, first + 4, out, 16);
    if (error != std::errc() || end != first + 4) {
      return false;
    }
    pos_ += 4;
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool parse_number(Value& out) {
    const std::size_t start = pos_;
    consume('-');
    if (consume('0')) {
      // no further integer digits after a leading zero
    } else if (!digits()) {
      return false;
    }
    bool integral = true;
    if (consume('.')) {
      integral = false;
      if (!digits()) {
        return false;
      }
    }
    if (consume('e') || consume('E')) {
      integral = false;
      if (!consume('+')) {
        consume('-');
      }
      if (!digits()) {
        return false;
      }
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    const auto parsed = std::from_chars(first, last, out.number);
    if (parsed.ec != std::errc() || parsed.ptr != last) {
      return false;  // out of range for a double
    }
    out.type = Value::Type::number;
    if (integral) {
      const auto as_integer = std::from_chars(first, last, out.integer);
      if (as_integer.ec == std::errc() && as_integer.ptr == last) {
        out.type = Value::Type::integer;
      }
    }
    return true;
  }

  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      ++pos_;
    }
    return pos_ > start;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace detail

// Parses one JSON document; std::nullopt when `text` is not valid JSON.
inline std::optional<Value> parse(std::string_view text) {
  return detail::Parser(text).parse_document();
}

}  // namespace tiny_json
