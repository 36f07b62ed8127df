#include "core/guard.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "core/time.hpp"
#include "core/timezone.hpp"

namespace carepath {

namespace guard_detail {

enum class Op : std::uint8_t {
  literal,       // constant: boolean, integer, number, string, date, datetime
  list_literal,  // children are literals
  field,
  has,
  size,
  days_since,
  years_since,
  logical_not,
  logical_and,  // n-ary, so long chains stay one level deep
  logical_or,   // n-ary
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  in_list_literal,  // children[0] in children[1] (a list_literal)
  in_list_field,    // children[0] in children[1] (a list field)
};

// The static type of an expression. `any` only appears as the element type of `[]`.
enum class Type : std::uint8_t { boolean, integer, number, string, date, datetime, list, any };

// One node of a compiled guard. Immutable once compile() returns, so evaluation can share it
// across threads without locks.
struct Node {
  Op op = Op::literal;
  Type type = Type::boolean;
  Type element = Type::any;  // list types: the type of the items
  std::size_t offset = 0;    // where the expression starts in the text, for compile errors

  // literal payload; `integer` also holds days (date) and milliseconds (datetime)
  bool boolean = false;
  std::int64_t integer = 0;
  double number = 0;
  std::string string;  // string literal, or the field name for field nodes

  FieldType field_type = FieldType::string;  // field nodes
  std::vector<Node> children;
};

}  // namespace guard_detail

namespace {

using guard_detail::Node;
using guard_detail::Op;
using guard_detail::Type;

constexpr std::size_t kMaxGuardBytes = 4096;
// Bounds recursion in the parser and in evaluation; a hand-written guard never comes close.
constexpr int kMaxNesting = 64;

Error guard_error(std::string message, std::size_t offset) {
  Error error = make_error(Errc::invalid_argument, std::move(message));
  error.details["offset"] = static_cast<std::int64_t>(offset);
  return error;
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::boolean:
      return "boolean";
    case Type::integer:
      return "integer";
    case Type::number:
      return "number";
    case Type::string:
      return "string";
    case Type::date:
      return "date";
    case Type::datetime:
      return "datetime";
    case Type::list:
      return "list";
    case Type::any:
      return "any";
  }
  return "unknown";
}

bool is_numeric(Type type) {
  return type == Type::integer || type == Type::number;
}

Type type_of(FieldType type) {
  switch (type) {
    case FieldType::integer:
      return Type::integer;
    case FieldType::number:
      return Type::number;
    case FieldType::string:
    case FieldType::text:
    case FieldType::enumeration:
      return Type::string;
    case FieldType::boolean:
      return Type::boolean;
    case FieldType::date:
      return Type::date;
    case FieldType::datetime:
      return Type::datetime;
    case FieldType::list:
      return Type::list;
  }
  return Type::string;
}

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok : std::uint8_t {
  end,
  error,  // a lexing problem; `text` holds the message
  identifier,
  integer,
  number,
  string,
  lparen,
  rparen,
  lbracket,
  rbracket,
  comma,
  bang,
  and_and,
  or_or,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
};

struct Token {
  Tok kind = Tok::end;
  std::size_t offset = 0;
  std::string_view text;  // the source spelling (identifiers, numbers, operators)
  std::string value;      // unescaped string literal, or the message of an error token
  std::int64_t integer = 0;
  double number = 0;
};

bool is_identifier_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_identifier_char(char c) {
  return is_identifier_start(c) || is_digit(c);
}

// Splits the whole text into tokens up front (it is at most kMaxGuardBytes long). A lexing
// problem ends the list with an error token, so the parser reports problems in text order.
std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  const auto fail = [&](std::string message, std::size_t offset) {
    Token token;
    token.kind = Tok::error;
    token.offset = offset;
    token.value = std::move(message);
    tokens.push_back(std::move(token));
  };
  const auto simple = [&](Tok kind, std::size_t length) {
    Token token;
    token.kind = kind;
    token.offset = i;
    token.text = text.substr(i, length);
    tokens.push_back(std::move(token));
    i += length;
  };
  while (true) {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      ++i;
    }
    if (i >= text.size()) {
      Token token;
      token.kind = Tok::end;
      token.offset = text.size();
      tokens.push_back(std::move(token));
      return tokens;
    }
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (is_identifier_start(c)) {
      std::size_t end = i + 1;
      while (end < text.size() && is_identifier_char(text[end])) {
        ++end;
      }
      simple(Tok::identifier, end - i);
      continue;
    }
    if (is_digit(c) || (c == '-' && is_digit(next))) {
      const std::size_t start = i;
      std::size_t end = i + 1;
      while (end < text.size() && is_digit(text[end])) {
        ++end;
      }
      bool decimal = false;
      if (end < text.size() && text[end] == '.') {
        decimal = true;
        ++end;
        if (end >= text.size() || !is_digit(text[end])) {
          fail("expected digits after '.' in number", start);
          return tokens;
        }
        while (end < text.size() && is_digit(text[end])) {
          ++end;
        }
      }
      if (end < text.size() && (is_identifier_char(text[end]) || text[end] == '.')) {
        fail("invalid number", start);
        return tokens;
      }
      Token token;
      token.offset = start;
      token.text = text.substr(start, end - start);
      const char* first = text.data() + start;
      const char* last = text.data() + end;
      if (decimal) {
        token.kind = Tok::number;
        const auto [ptr, ec] = std::from_chars(first, last, token.number);
        if (ec != std::errc() || ptr != last || !std::isfinite(token.number)) {
          fail("number out of range", start);
          return tokens;
        }
      } else {
        token.kind = Tok::integer;
        const auto [ptr, ec] = std::from_chars(first, last, token.integer);
        if (ec != std::errc() || ptr != last) {
          fail("integer out of range", start);
          return tokens;
        }
      }
      tokens.push_back(std::move(token));
      i = end;
      continue;
    }
    if (c == '"' || c == '\'') {
      const std::size_t start = i;
      std::string value;
      std::size_t j = i + 1;
      bool closed = false;
      while (j < text.size()) {
        const char ch = text[j];
        if (ch == c) {
          closed = true;
          break;
        }
        if (ch == '\\') {
          const char escaped = j + 1 < text.size() ? text[j + 1] : '\0';
          if (escaped != '"' && escaped != '\'' && escaped != '\\') {
            fail("unknown escape in string (use \\\", \\' or \\\\)", j);
            return tokens;
          }
          value.push_back(escaped);
          j += 2;
          continue;
        }
        value.push_back(ch);
        ++j;
      }
      if (!closed) {
        fail("unterminated string", start);
        return tokens;
      }
      Token token;
      token.kind = Tok::string;
      token.offset = start;
      token.text = text.substr(start, j + 1 - start);
      token.value = std::move(value);
      tokens.push_back(std::move(token));
      i = j + 1;
      continue;
    }
    switch (c) {
      case '(':
        simple(Tok::lparen, 1);
        continue;
      case ')':
        simple(Tok::rparen, 1);
        continue;
      case '[':
        simple(Tok::lbracket, 1);
        continue;
      case ']':
        simple(Tok::rbracket, 1);
        continue;
      case ',':
        simple(Tok::comma, 1);
        continue;
      case '!':
        if (next == '=') {
          simple(Tok::ne, 2);
        } else {
          simple(Tok::bang, 1);
        }
        continue;
      case '<':
        if (next == '=') {
          simple(Tok::le, 2);
        } else {
          simple(Tok::lt, 1);
        }
        continue;
      case '>':
        if (next == '=') {
          simple(Tok::ge, 2);
        } else {
          simple(Tok::gt, 1);
        }
        continue;
      case '=':
        if (next == '=') {
          simple(Tok::eq, 2);
          continue;
        }
        fail("'=' is not an operator; compare with '=='", i);
        return tokens;
      case '&':
        if (next == '&') {
          simple(Tok::and_and, 2);
          continue;
        }
        fail("'&' is not an operator; use '&&'", i);
        return tokens;
      case '|':
        if (next == '|') {
          simple(Tok::or_or, 2);
          continue;
        }
        fail("'|' is not an operator; use '||'", i);
        return tokens;
      default:
        break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x21 && byte < 0x7f) {
      fail(std::string("unexpected character '") + c + "'", i);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(byte));
      fail(std::string("unexpected byte ") + hex, i);
    }
    return tokens;
  }
}

// How a token is named in messages. String literals are not quoted back: a guard's text is
// workflow text, but there is no reason to repeat free text in an error.
std::string describe(const Token& token) {
  switch (token.kind) {
    case Tok::end:
      return "end of guard";
    case Tok::string:
      return "a string";
    case Tok::error:
      return "an invalid token";
    default:
      return "'" + std::string(token.text) + "'";
  }
}

// ---------------------------------------------------------------------------------------------
// Parser and type checker

// An expression being compiled, plus the declaration when it is a (possibly parenthesised)
// field reference: needed for has()/days_since() and for enum literal checks.
struct Expr {
  Node node;
  const Field* field = nullptr;
};

bool is_string_literal(const Node& node) {
  return node.op == Op::literal && node.type == Type::string;
}

std::string enum_values_text(const Field& field) {
  std::string text;
  for (const auto& value : field.values) {
    if (!text.empty()) {
      text += ", ";
    }
    text += value;
  }
  return text;
}

// Rejects a string literal that an enum field can never hold.
Result<void> check_enum_literal(const Field* field, const Node& literal) {
  if (field == nullptr || field->type != FieldType::enumeration || !is_string_literal(literal)) {
    return {};
  }
  if (std::find(field->values.begin(), field->values.end(), literal.string) !=
      field->values.end()) {
    return {};
  }
  return guard_error("'" + literal.string + "' is not a value of enum field '" + field->name +
                         "' (expected one of: " + enum_values_text(*field) + ")",
                     literal.offset);
}

// Turns a string literal into a date/datetime constant when the other side is one.
Result<void> coerce_literal(Node& literal, Type target) {
  if (!is_string_literal(literal) || (target != Type::date && target != Type::datetime)) {
    return {};
  }
  if (target == Type::date) {
    const auto days = parse_date(literal.string);
    if (!days) {
      return guard_error("'" + literal.string + "' is not a valid date (expected YYYY-MM-DD)",
                         literal.offset);
    }
    literal.integer = *days;
  } else {
    const auto ms = parse_datetime(literal.string);
    if (!ms) {
      return guard_error("'" + literal.string + "' is not a valid RFC 3339 datetime",
                         literal.offset);
    }
    literal.integer = *ms;
  }
  literal.type = target;
  literal.string.clear();
  return {};
}

class Parser {
 public:
  Parser(std::string_view text, const FieldLookup& lookup)
      : tokens_(tokenize(text)), lookup_(lookup) {}

  Result<Node> parse() {
    if (peek().kind == Tok::end) {
      return guard_error("empty guard", 0);
    }
    auto expr = parse_or();
    if (!expr) {
      return expr.error();
    }
    if (peek().kind != Tok::end) {
      return unexpected("expected an operator or end of guard, found ");
    }
    if (expr->node.type != Type::boolean) {
      return guard_error("guard must be boolean, found " + std::string(type_name(expr->node.type)),
                         expr->node.offset);
    }
    return std::move(expr->node);
  }

  std::vector<std::string> take_fields() { return std::move(fields_); }

 private:
  const Token& peek() const { return tokens_[position_]; }
  const Token& advance() {
    const Token& token = tokens_[position_];
    if (token.kind != Tok::end && token.kind != Tok::error) {
      ++position_;
    }
    return token;
  }

  // An error about the current token; a lexing problem there wins, since it is the real cause.
  Error unexpected(std::string_view prefix) const {
    const Token& token = peek();
    if (token.kind == Tok::error) {
      return guard_error(token.value, token.offset);
    }
    return guard_error(std::string(prefix) + describe(token), token.offset);
  }
  Error expected(std::string message) const {
    const Token& token = peek();
    if (token.kind == Tok::error) {
      return guard_error(token.value, token.offset);
    }
    return guard_error(std::move(message), token.offset);
  }

  Result<void> enter(std::size_t offset) {
    if (++depth_ > kMaxNesting) {
      return guard_error("guard nests deeper than " + std::to_string(kMaxNesting) + " levels",
                         offset);
    }
    return {};
  }
  void leave() { --depth_; }

  Result<Expr> parse_or() { return parse_logical(Tok::or_or, Op::logical_or, "'||'"); }
  Result<Expr> parse_and() { return parse_logical(Tok::and_and, Op::logical_and, "'&&'"); }

  Result<Expr> parse_logical(Tok token, Op op, std::string_view spelling) {
    auto first = op == Op::logical_or ? parse_and() : parse_comparison();
    if (!first) {
      return first.error();
    }
    if (peek().kind != token) {
      return first;
    }
    Expr result;
    result.node.op = op;
    result.node.type = Type::boolean;
    result.node.offset = first->node.offset;
    result.node.children.push_back(std::move(first->node));
    while (peek().kind == token) {
      advance();
      auto next = op == Op::logical_or ? parse_and() : parse_comparison();
      if (!next) {
        return next.error();
      }
      result.node.children.push_back(std::move(next->node));
    }
    for (const auto& child : result.node.children) {
      if (child.type != Type::boolean) {
        return guard_error(std::string(spelling) + " needs boolean operands, found " +
                               std::string(type_name(child.type)),
                           child.offset);
      }
    }
    return result;
  }

  static bool is_comparison(Tok kind) {
    switch (kind) {
      case Tok::eq:
      case Tok::ne:
      case Tok::lt:
      case Tok::le:
      case Tok::gt:
      case Tok::ge:
        return true;
      default:
        return false;  // `in` is an identifier; see at_comparison()
    }
  }
  bool at_comparison() const {
    return is_comparison(peek().kind) || (peek().kind == Tok::identifier && peek().text == "in");
  }

  Result<Expr> parse_comparison() {
    auto lhs = parse_unary();
    if (!lhs) {
      return lhs.error();
    }
    if (!at_comparison()) {
      return lhs;
    }
    const Token& op_token = advance();
    const Tok op_kind = op_token.kind;
    const std::size_t op_offset = op_token.offset;
    const std::string op_text(op_token.text);
    auto rhs = parse_unary();
    if (!rhs) {
      return rhs.error();
    }
    Result<Expr> result =
        op_kind == Tok::identifier
            ? build_in(std::move(*lhs), std::move(*rhs), op_offset)
            : build_comparison(op_kind, op_text, std::move(*lhs), std::move(*rhs), op_offset);
    if (!result) {
      return result;
    }
    // `a < b < c` reads like a range test but would compare a boolean with c.
    if (at_comparison()) {
      return guard_error("comparisons do not chain; add parentheses", peek().offset);
    }
    return result;
  }

  Result<Expr> build_comparison(Tok kind, const std::string& spelling, Expr lhs, Expr rhs,
                                std::size_t op_offset) {
    if (auto r = coerce_literal(rhs.node, lhs.node.type); !r) {
      return r.error();
    }
    if (auto r = coerce_literal(lhs.node, rhs.node.type); !r) {
      return r.error();
    }
    const Type a = lhs.node.type;
    const Type b = rhs.node.type;
    const bool compatible =
        (is_numeric(a) && is_numeric(b)) || (a == b && a != Type::list && a != Type::any);
    if (!compatible) {
      return guard_error(
          "cannot compare " + std::string(type_name(a)) + " with " + std::string(type_name(b)),
          op_offset);
    }
    const bool equality = kind == Tok::eq || kind == Tok::ne;
    if (a == Type::boolean && !equality) {
      return guard_error("'" + spelling + "' does not apply to booleans", op_offset);
    }
    if (auto r = check_enum_literal(lhs.field, rhs.node); !r) {
      return r.error();
    }
    if (auto r = check_enum_literal(rhs.field, lhs.node); !r) {
      return r.error();
    }
    Expr result;
    switch (kind) {
      case Tok::eq:
        result.node.op = Op::eq;
        break;
      case Tok::ne:
        result.node.op = Op::ne;
        break;
      case Tok::lt:
        result.node.op = Op::lt;
        break;
      case Tok::le:
        result.node.op = Op::le;
        break;
      case Tok::gt:
        result.node.op = Op::gt;
        break;
      default:
        result.node.op = Op::ge;
        break;
    }
    result.node.type = Type::boolean;
    result.node.offset = lhs.node.offset;
    result.node.children.push_back(std::move(lhs.node));
    result.node.children.push_back(std::move(rhs.node));
    return result;
  }

  Result<Expr> build_in(Expr lhs, Expr rhs, std::size_t op_offset) {
    const Type a = lhs.node.type;
    if (rhs.node.type != Type::list) {
      return guard_error(
          "'in' needs a list on the right, found " + std::string(type_name(rhs.node.type)),
          rhs.node.offset);
    }
    if (a == Type::list) {
      return guard_error("'in' needs a single value on the left, found list", lhs.node.offset);
    }
    Expr result;
    result.node.type = Type::boolean;
    result.node.offset = lhs.node.offset;
    if (rhs.node.op == Op::list_literal) {
      for (auto& item : rhs.node.children) {
        if (auto r = coerce_literal(item, a); !r) {
          return r.error();
        }
        const bool compatible = (is_numeric(a) && is_numeric(item.type)) || a == item.type;
        if (!compatible) {
          return guard_error("cannot compare " + std::string(type_name(a)) + " with " +
                                 std::string(type_name(item.type)),
                             item.offset);
        }
        if (auto r = check_enum_literal(lhs.field, item); !r) {
          return r.error();
        }
      }
      result.node.op = Op::in_list_literal;
    } else {
      // List fields hold strings.
      if (a != Type::string) {
        return guard_error("cannot compare " + std::string(type_name(a)) + " with string",
                           op_offset);
      }
      result.node.op = Op::in_list_field;
    }
    result.node.children.push_back(std::move(lhs.node));
    result.node.children.push_back(std::move(rhs.node));
    return result;
  }

  Result<Expr> parse_unary() {
    if (peek().kind != Tok::bang) {
      return parse_primary();
    }
    const std::size_t offset = advance().offset;
    if (auto r = enter(offset); !r) {
      return r.error();
    }
    auto operand = parse_unary();
    leave();
    if (!operand) {
      return operand.error();
    }
    if (operand->node.type != Type::boolean) {
      return guard_error("'!' needs a boolean, found " + std::string(type_name(operand->node.type)),
                         operand->node.offset);
    }
    Expr result;
    result.node.op = Op::logical_not;
    result.node.type = Type::boolean;
    result.node.offset = offset;
    result.node.children.push_back(std::move(operand->node));
    return result;
  }

  // One literal token (for values and list items); nullopt when the current token is not one.
  std::optional<Node> literal() {
    const Token& token = peek();
    Node node;
    node.op = Op::literal;
    node.offset = token.offset;
    switch (token.kind) {
      case Tok::integer:
        node.type = Type::integer;
        node.integer = token.integer;
        break;
      case Tok::number:
        node.type = Type::number;
        node.number = token.number;
        break;
      case Tok::string:
        node.type = Type::string;
        node.string = token.value;
        break;
      case Tok::identifier:
        if (token.text == "true" || token.text == "false") {
          node.type = Type::boolean;
          node.boolean = token.text == "true";
          break;
        }
        return std::nullopt;
      default:
        return std::nullopt;
    }
    advance();
    return node;
  }

  Result<Expr> parse_primary() {
    const Token& token = peek();
    if (auto node = literal()) {
      return Expr{std::move(*node), nullptr};
    }
    switch (token.kind) {
      case Tok::lparen: {
        const std::size_t offset = advance().offset;
        if (auto r = enter(offset); !r) {
          return r.error();
        }
        auto inner = parse_or();
        leave();
        if (!inner) {
          return inner.error();
        }
        if (peek().kind != Tok::rparen) {
          return expected("expected ')'");
        }
        advance();
        return inner;
      }
      case Tok::lbracket:
        return parse_list();
      case Tok::identifier:
        return parse_name();
      default:
        return unexpected("expected a value, found ");
    }
  }

  Result<Expr> parse_list() {
    const std::size_t offset = advance().offset;
    if (auto r = enter(offset); !r) {
      return r.error();
    }
    Expr result;
    result.node.op = Op::list_literal;
    result.node.type = Type::list;
    result.node.element = Type::any;
    result.node.offset = offset;
    if (peek().kind != Tok::rbracket) {
      while (true) {
        auto item = literal();
        if (!item) {
          if (peek().kind == Tok::identifier || peek().kind == Tok::lbracket ||
              peek().kind == Tok::lparen || peek().kind == Tok::bang) {
            return guard_error("list items must be literals", peek().offset);
          }
          return unexpected("expected a list item, found ");
        }
        const Type have = result.node.element;
        if (have == Type::any) {
          result.node.element = item->type;
        } else if (is_numeric(have) && is_numeric(item->type)) {
          if (item->type == Type::number) {
            result.node.element = Type::number;
          }
        } else if (have != item->type) {
          return guard_error("list items must all have one type, found " +
                                 std::string(type_name(have)) + " and " +
                                 std::string(type_name(item->type)),
                             item->offset);
        }
        result.node.children.push_back(std::move(*item));
        if (peek().kind == Tok::comma) {
          advance();
          continue;
        }
        if (peek().kind == Tok::rbracket) {
          break;
        }
        return expected("expected ',' or ']' in list");
      }
    }
    advance();  // ']'
    leave();
    return result;
  }

  void note_field(const std::string& name) {
    if (std::find(fields_.begin(), fields_.end(), name) == fields_.end()) {
      fields_.push_back(name);
    }
  }

  Result<Expr> field_reference(const Token& token) {
    const Field* field = lookup_ ? lookup_(token.text) : nullptr;
    if (field == nullptr) {
      return guard_error("unknown field '" + std::string(token.text) + "'", token.offset);
    }
    Expr result;
    result.field = field;
    result.node.op = Op::field;
    result.node.type = type_of(field->type);
    result.node.element = result.node.type == Type::list ? Type::string : Type::any;
    result.node.field_type = field->type;
    result.node.string = field->name;
    result.node.offset = token.offset;
    note_field(field->name);
    return result;
  }

  Result<Expr> parse_name() {
    const Token& name = advance();
    Op op;
    if (name.text == "has") {
      op = Op::has;
    } else if (name.text == "size") {
      op = Op::size;
    } else if (name.text == "days_since") {
      op = Op::days_since;
    } else if (name.text == "years_since") {
      op = Op::years_since;
    } else {
      if (peek().kind == Tok::lparen) {
        return guard_error("unknown function '" + std::string(name.text) + "'", name.offset);
      }
      if (name.text == "in") {
        return guard_error("expected a value, found 'in'", name.offset);
      }
      return field_reference(name);
    }
    // A field may share a function's name; only a call makes it the function.
    if (peek().kind != Tok::lparen) {
      if (lookup_ && lookup_(name.text) != nullptr) {
        return field_reference(name);
      }
      return expected("expected '(' after " + std::string(name.text));
    }
    const std::size_t open = advance().offset;
    if (auto r = enter(open); !r) {
      return r.error();
    }
    const std::string function(name.text);
    std::vector<Expr> arguments;
    if (peek().kind != Tok::rparen) {
      while (true) {
        auto argument = parse_or();
        if (!argument) {
          return argument.error();
        }
        arguments.push_back(std::move(*argument));
        if (peek().kind != Tok::comma) {
          break;
        }
        advance();
      }
    }
    if (peek().kind != Tok::rparen) {
      return expected("expected ')' after arguments of " + function);
    }
    const std::size_t close = advance().offset;
    leave();
    if (arguments.size() != 1) {
      return guard_error(function + " takes exactly one argument",
                         arguments.empty() ? close : arguments[1].node.offset);
    }
    Expr& argument = arguments.front();
    Expr result;
    result.node.op = op;
    result.node.offset = name.offset;
    switch (op) {
      case Op::has:
        if (argument.node.op != Op::field) {
          return guard_error("has needs a field name", argument.node.offset);
        }
        result.node.type = Type::boolean;
        break;
      case Op::size:
        if (argument.node.type != Type::string && argument.node.type != Type::list) {
          return guard_error(
              "size needs a string or a list, found " + std::string(type_name(argument.node.type)),
              argument.node.offset);
        }
        result.node.type = Type::integer;
        break;
      default:
        if (argument.node.op != Op::field ||
            (argument.node.type != Type::date && argument.node.type != Type::datetime)) {
          return guard_error(function + " needs a date or datetime field", argument.node.offset);
        }
        result.node.type = Type::integer;
        break;
    }
    result.node.children.push_back(std::move(argument.node));
    return result;
  }

  std::vector<Token> tokens_;
  std::size_t position_ = 0;
  const FieldLookup& lookup_;
  int depth_ = 0;
  std::vector<std::string> fields_;
};

// ---------------------------------------------------------------------------------------------
// Evaluation

// A value produced while evaluating. Which members matter follows from the node's static type,
// so there is no run-time tag beyond `is_number`.
struct Value {
  std::int64_t integer = 0;  // integer, date (days), datetime (ms), size
  double number = 0;         // numeric values that are not integers
  std::string_view string;
  const boost::json::array* json_list = nullptr;
  const Node* literal_list = nullptr;
  bool boolean = false;
  bool is_number = false;
};

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++count;
    }
  }
  return count;
}

double as_double(const Value& v) {
  return v.is_number ? v.number : static_cast<double>(v.integer);
}

// <0, 0, >0 like strcmp; only for statically compatible values.
int compare(Type type, const Value& a, const Value& b) {
  switch (type) {
    case Type::integer:
    case Type::number: {
      if (!a.is_number && !b.is_number) {
        return a.integer < b.integer ? -1 : (a.integer > b.integer ? 1 : 0);
      }
      const double x = as_double(a);
      const double y = as_double(b);
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case Type::string: {
      const int c = a.string.compare(b.string);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Type::boolean:
      return a.boolean == b.boolean ? 0 : (a.boolean ? 1 : -1);
    case Type::date:
    case Type::datetime:
      return a.integer < b.integer ? -1 : (a.integer > b.integer ? 1 : 0);
    default:
      return 1;  // lists and `any` never reach here (rejected at compile time)
  }
}

Value literal_value(const Node& node) {
  Value v;
  v.boolean = node.boolean;
  v.integer = node.integer;
  v.number = node.number;
  v.is_number = node.type == Type::number;
  v.string = node.string;
  return v;
}

class Evaluator {
 public:
  explicit Evaluator(const GuardContext& context) : context_(context) {}

  // False when the guard read an unset field; unset_field() then names it.
  bool eval(const Node& node, Value& out) {
    switch (node.op) {
      case Op::literal:
        out = literal_value(node);
        return true;
      case Op::list_literal:
        out.literal_list = &node;
        return true;
      case Op::field:
        if (!read_field(node, out)) {
          unset_ = &node.string;
          return false;
        }
        return true;
      case Op::has: {
        Value ignored;
        out.boolean = read_field(node.children[0], ignored);
        return true;
      }
      case Op::size: {
        Value v;
        if (!eval(node.children[0], v)) {
          return false;
        }
        if (node.children[0].type == Type::string) {
          out.integer = static_cast<std::int64_t>(utf8_length(v.string));
        } else if (v.json_list != nullptr) {
          out.integer = static_cast<std::int64_t>(v.json_list->size());
        } else {
          out.integer = static_cast<std::int64_t>(v.literal_list->children.size());
        }
        out.is_number = false;
        return true;
      }
      case Op::days_since: {
        Value v;
        if (!eval(node.children[0], v)) {
          return false;
        }
        const std::int64_t day =
            node.children[0].type == Type::datetime ? day_number(v.integer) : v.integer;
        // `today` comes from the caller; saturate rather than overflow on absurd values.
        std::int64_t diff = 0;
        if (__builtin_sub_overflow(context_.today, day, &diff)) {
          diff = context_.today < 0 ? std::numeric_limits<std::int64_t>::min()
                                    : std::numeric_limits<std::int64_t>::max();
        }
        out.integer = diff;
        out.is_number = false;
        return true;
      }
      case Op::years_since: {
        Value v;
        if (!eval(node.children[0], v)) {
          return false;
        }
        const std::int64_t day =
            node.children[0].type == Type::datetime ? day_number(v.integer) : v.integer;
        // Whole years on the calendar, as an age is counted: a birthday on 29 February is
        // reached on 1 March in other years.
        int y1 = 0;
        int m1 = 0;
        int d1 = 0;
        int y2 = 0;
        int m2 = 0;
        int d2 = 0;
        civil_from_days(day, y1, m1, d1);
        civil_from_days(context_.today, y2, m2, d2);
        std::int64_t years = static_cast<std::int64_t>(y2) - y1;
        if (m2 < m1 || (m2 == m1 && d2 < d1)) {
          --years;
        }
        out.integer = years;
        out.is_number = false;
        return true;
      }
      case Op::logical_not: {
        Value v;
        if (!eval(node.children[0], v)) {
          return false;
        }
        out.boolean = !v.boolean;
        return true;
      }
      case Op::logical_and:
      case Op::logical_or: {
        const bool stop_on = node.op == Op::logical_or;
        for (const auto& child : node.children) {
          Value v;
          if (!eval(child, v)) {
            return false;
          }
          if (v.boolean == stop_on) {
            out.boolean = stop_on;
            return true;
          }
        }
        out.boolean = !stop_on;
        return true;
      }
      case Op::eq:
      case Op::ne:
      case Op::lt:
      case Op::le:
      case Op::gt:
      case Op::ge: {
        Value a;
        Value b;
        if (!eval(node.children[0], a) || !eval(node.children[1], b)) {
          return false;
        }
        const Type type = is_numeric(node.children[0].type) ? Type::number : node.children[0].type;
        const int c = compare(type, a, b);
        switch (node.op) {
          case Op::eq:
            out.boolean = c == 0;
            break;
          case Op::ne:
            out.boolean = c != 0;
            break;
          case Op::lt:
            out.boolean = c < 0;
            break;
          case Op::le:
            out.boolean = c <= 0;
            break;
          case Op::gt:
            out.boolean = c > 0;
            break;
          default:
            out.boolean = c >= 0;
            break;
        }
        return true;
      }
      case Op::in_list_literal: {
        Value needle;
        if (!eval(node.children[0], needle)) {
          return false;
        }
        const Type type = is_numeric(node.children[0].type) ? Type::number : node.children[0].type;
        out.boolean = false;
        for (const auto& item : node.children[1].children) {
          if (compare(type, needle, literal_value(item)) == 0) {
            out.boolean = true;
            break;
          }
        }
        return true;
      }
      case Op::in_list_field: {
        Value needle;
        Value list;
        if (!eval(node.children[0], needle) || !eval(node.children[1], list)) {
          return false;
        }
        out.boolean = false;
        for (const auto& item : *list.json_list) {
          // Items of another kind cannot equal a string; they are skipped, not fatal.
          if (const auto* s = item.if_string();
              s != nullptr && std::string_view(*s) == needle.string) {
            out.boolean = true;
            break;
          }
        }
        return true;
      }
    }
    return false;
  }

  const std::string* unset_field() const { return unset_; }

 private:
  // Reads a field as its declared type. Absent, null, the wrong JSON kind and unparsable
  // dates all count as unset.
  bool read_field(const Node& node, Value& out) const {
    const auto it = context_.data.find(node.string);
    if (it == context_.data.end()) {
      return false;
    }
    const boost::json::value& value = it->value();
    switch (node.field_type) {
      case FieldType::integer:
      case FieldType::number:
        if (const auto* i = value.if_int64()) {
          out.integer = *i;
          out.is_number = false;
          return true;
        }
        if (const auto* u = value.if_uint64()) {
          if (*u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            out.integer = static_cast<std::int64_t>(*u);
            out.is_number = false;
          } else {
            out.number = static_cast<double>(*u);
            out.is_number = true;
          }
          return true;
        }
        if (const auto* d = value.if_double(); d != nullptr && std::isfinite(*d)) {
          out.number = *d;
          out.is_number = true;
          return true;
        }
        return false;
      case FieldType::string:
      case FieldType::text:
      case FieldType::enumeration:
        if (const auto* s = value.if_string()) {
          out.string = *s;
          return true;
        }
        return false;
      case FieldType::boolean:
        if (const auto* b = value.if_bool()) {
          out.boolean = *b;
          return true;
        }
        return false;
      case FieldType::date:
      case FieldType::datetime: {
        const auto* s = value.if_string();
        if (s == nullptr) {
          return false;
        }
        // The parsers are not ours; evaluation must not throw whatever the data holds.
        try {
          const auto parsed =
              node.field_type == FieldType::date ? parse_date(*s) : parse_datetime(*s);
          if (!parsed) {
            return false;
          }
          out.integer = *parsed;
          return true;
        } catch (...) {
          return false;
        }
      }
      case FieldType::list:
        if (const auto* a = value.if_array()) {
          out.json_list = a;
          return true;
        }
        return false;
    }
    return false;
  }

  const GuardContext& context_;
  const std::string* unset_ = nullptr;
};

}  // namespace

Result<Guard> Guard::compile(std::string_view text, const FieldLookup& lookup) {
  // Checked before lexing so hostile input costs nothing.
  if (text.size() > kMaxGuardBytes) {
    return guard_error("guard is longer than " + std::to_string(kMaxGuardBytes) + " bytes",
                       kMaxGuardBytes);
  }
  Parser parser(text, lookup);
  auto root = parser.parse();
  if (!root) {
    return root.error();
  }
  Guard guard;
  guard.text_ = std::string(text);
  guard.fields_ = parser.take_fields();
  guard.root_ = std::make_shared<const Node>(std::move(*root));
  return guard;
}

GuardOutcome Guard::evaluate(const GuardContext& context) const {
  GuardOutcome outcome;
  if (!root_) {
    return outcome;  // a default-constructed Guard never passes
  }
  Evaluator evaluator(context);
  Value value;
  if (!evaluator.eval(*root_, value)) {
    outcome.unset_field = *evaluator.unset_field();
    return outcome;
  }
  outcome.value = value.boolean;
  return outcome;
}

}  // namespace carepath
