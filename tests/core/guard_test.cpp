#include "core/guard.hpp"

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/time.hpp"

namespace carepath {
namespace {

Field make_field(std::string name, FieldType type, std::vector<std::string> values = {}) {
  Field field;
  field.name = std::move(name);
  field.type = type;
  field.values = std::move(values);
  return field;
}

const std::vector<Field>& declared_fields() {
  static const std::vector<Field> fields = {
      make_field("age", FieldType::integer),
      make_field("score", FieldType::number),
      make_field("name", FieldType::string),
      make_field("notes", FieldType::text),
      make_field("home", FieldType::enumeration, {"umang", "umeed", "udaan"}),
      make_field("medical_cleared", FieldType::boolean),
      make_field("consent", FieldType::boolean),
      make_field("admitted_on", FieldType::date),
      make_field("born_on", FieldType::date),
      make_field("last_visit", FieldType::datetime),
      make_field("tags", FieldType::list),
  };
  return fields;
}

const Field* lookup_field(std::string_view name) {
  for (const auto& field : declared_fields()) {
    if (field.name == name) {
      return &field;
    }
  }
  return nullptr;
}

const FieldLookup kLookup = lookup_field;

std::int64_t today() {
  static const std::int64_t day = *parse_date("2026-03-01");
  return day;
}

Guard compile_ok(std::string_view text) {
  auto guard = Guard::compile(text, kLookup);
  if (!guard) {
    ADD_FAILURE() << "guard `" << text << "` failed to compile: " << guard.error().message;
    return Guard{};
  }
  return *guard;
}

GuardOutcome run(std::string_view text, const boost::json::object& data,
                 std::int64_t day = today()) {
  return compile_ok(text).evaluate(GuardContext{data, day});
}

bool holds(std::string_view text, const boost::json::object& data = {}) {
  const auto outcome = run(text, data);
  EXPECT_TRUE(outcome.unset_field.empty()) << text << ": unset " << outcome.unset_field;
  return outcome.value;
}

struct CompileFailure {
  std::string message;
  std::int64_t offset = -1;
};

CompileFailure compile_error(std::string_view text, const FieldLookup& lookup = kLookup) {
  auto guard = Guard::compile(text, lookup);
  if (guard) {
    ADD_FAILURE() << "guard `" << text << "` compiled but should not have";
    return {};
  }
  const Error error = guard.error();
  EXPECT_EQ(error.code, Errc::invalid_argument) << text;
  const auto* offset = error.details.if_contains("offset");
  if (offset == nullptr || !offset->is_int64()) {
    ADD_FAILURE() << "no integer offset in details for `" << text << "`";
    return {error.message, -1};
  }
  return {error.message, offset->as_int64()};
}

const boost::json::object kChild = {
    {"age", 15},
    {"score", 7.5},
    {"name", "Anaïs"},
    {"notes", "settled well"},
    {"home", "umeed"},
    {"medical_cleared", true},
    {"consent", false},
    {"admitted_on", "2026-02-19"},  // 10 days before today()
    {"born_on", "2011-06-30"},
    {"last_visit", "2026-02-27T23:30:00Z"},
    {"tags", boost::json::array{"orphan", "flagged"}},
};

// --- literals and operators -------------------------------------------------------------------

TEST(Guard, EvaluatesLiterals) {
  EXPECT_TRUE(holds("true"));
  EXPECT_FALSE(holds("false"));
  EXPECT_TRUE(holds("1 < 2"));
  EXPECT_TRUE(holds("3.5 > 3"));
  EXPECT_TRUE(holds("-1 < 0"));
  EXPECT_TRUE(holds("-2.5 < -2"));
  EXPECT_TRUE(holds("'a' == \"a\""));
  EXPECT_TRUE(holds("\"a\\\"b\" == 'a\"b'"));
  EXPECT_TRUE(holds("'it\\'s' == \"it's\""));
  // 'back\\slash' is ten characters: the escape is one backslash.
  EXPECT_TRUE(holds("size('back\\\\slash') == 10"));
}

TEST(Guard, AppliesEveryComparisonOperatorToIntegers) {
  struct Row {
    const char* text;
    bool expected;
  };
  const Row rows[] = {
      {"age == 15", true}, {"age == 16", false}, {"age != 15", false}, {"age != 16", true},
      {"age < 16", true},  {"age < 15", false},  {"age <= 15", true},  {"age <= 14", false},
      {"age > 14", true},  {"age > 15", false},  {"age >= 15", true},  {"age >= 16", false},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(holds(row.text, kChild), row.expected) << row.text;
  }
}

TEST(Guard, ComparesIntegersAndDecimalsAsNumbers) {
  EXPECT_TRUE(holds("age > 14.5", kChild));
  EXPECT_TRUE(holds("age == 15.0", kChild));
  EXPECT_TRUE(holds("score > 7", kChild));
  EXPECT_TRUE(holds("score < 8", kChild));
  EXPECT_TRUE(holds("score > age", {{"score", 15.5}, {"age", 15}}));
  EXPECT_FALSE(holds("score == age", {{"score", 15.5}, {"age", 15}}));
}

TEST(Guard, AcceptsIntegersStoredAsUnsignedOrDouble) {
  EXPECT_TRUE(holds("age == 15", {{"age", std::uint64_t{15}}}));
  EXPECT_TRUE(holds("age == 15", {{"age", 15.0}}));
  EXPECT_TRUE(
      holds("age > 9223372036854775807", {{"age", std::numeric_limits<std::uint64_t>::max()}}));
  EXPECT_TRUE(holds("score == 7", {{"score", std::int64_t{7}}}));
}

TEST(Guard, ComparesStringsByteWise) {
  EXPECT_TRUE(holds("notes == 'settled well'", kChild));
  EXPECT_TRUE(holds("notes != 'Settled well'", kChild));
  EXPECT_TRUE(holds("'apple' < 'banana'"));
  EXPECT_FALSE(holds("'b' <= 'a'"));
  EXPECT_TRUE(holds("home == 'umeed'", kChild));
  EXPECT_TRUE(holds("home != name", kChild));
}

TEST(Guard, AcceptsABareBooleanField) {
  EXPECT_TRUE(holds("medical_cleared", kChild));
  EXPECT_FALSE(holds("consent", kChild));
  EXPECT_FALSE(holds("!medical_cleared", kChild));
  EXPECT_TRUE(holds("medical_cleared == true", kChild));
  EXPECT_TRUE(holds("medical_cleared != consent", kChild));
}

TEST(Guard, CombinesWithAndOrNot) {
  EXPECT_TRUE(holds("medical_cleared && !consent", kChild));
  EXPECT_FALSE(holds("medical_cleared && consent", kChild));
  EXPECT_TRUE(holds("consent || medical_cleared", kChild));
  EXPECT_FALSE(holds("consent || !medical_cleared", kChild));
  EXPECT_TRUE(holds("!!medical_cleared", kChild));
  EXPECT_TRUE(holds("false || false || false || true"));
  EXPECT_FALSE(holds("true && true && true && false"));
}

TEST(Guard, BindsAndTighterThanOr) {
  // (true || false) && false would be false.
  EXPECT_TRUE(holds("true || false && false"));
  EXPECT_FALSE(holds("(true || false) && false"));
  // false && (false || true) would be false.
  EXPECT_TRUE(holds("false && false || true"));
}

TEST(Guard, BindsNotTighterThanComparison) {
  // Parsed as (!age) == 3, which is a type error; with parentheses it is fine.
  EXPECT_EQ(compile_error("!age == 3").message, "'!' needs a boolean, found integer");
  EXPECT_TRUE(holds("!(age == 3)", kChild));
  // Comparisons bind tighter than && and ||.
  EXPECT_TRUE(holds("age > 3 && age < 20 || consent", kChild));
  EXPECT_FALSE(holds("!medical_cleared == true", kChild));
}

// --- unset fields and short-circuit -----------------------------------------------------------

TEST(Guard, ShortCircuitSkipsTheUnsetField) {
  const boost::json::object empty;
  auto outcome = run("has(age) && age > 3", empty);
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "");

  outcome = run("true || age > 3", empty);
  EXPECT_TRUE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "");

  outcome = run("false && age > 3", empty);
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "");

  outcome = run("!has(age) || age > 3", empty);
  EXPECT_TRUE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "");
}

TEST(Guard, UnsetFieldMakesTheWholeGuardFalse) {
  const boost::json::object empty;
  // Negation does not turn "unknown" into true.
  auto outcome = run("!(age > 3)", empty);
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "age");

  // Evaluation stops at the unset field even though the right side would be true.
  outcome = run("age > 3 || true", empty);
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "age");

  outcome = run("medical_cleared", empty);
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "medical_cleared");
}

TEST(Guard, ReportsTheFirstUnsetFieldRead) {
  auto outcome = run("score > 1 && age > 3", {});
  EXPECT_EQ(outcome.unset_field, "score");
  outcome = run("score > 1 && age > 3", {{"score", 2}});
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "age");
  outcome = run("consent || age > 3", {{"consent", false}});
  EXPECT_EQ(outcome.unset_field, "age");
}

TEST(Guard, TreatsNullAsUnset) {
  const auto outcome = run("age >= 0", {{"age", nullptr}});
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "age");
  EXPECT_FALSE(holds("has(age)", {{"age", nullptr}}));
}

TEST(Guard, TreatsWrongJsonKindsAsUnset) {
  struct Row {
    const char* text;
    const char* field;
    boost::json::value stored;
  };
  const std::vector<Row> rows = {
      {"age > 3", "age", "fifteen"},
      {"age > 3", "age", true},
      {"score > 3", "score", boost::json::array{1}},
      {"name == 'x'", "name", 3},
      {"home == 'umang'", "home", boost::json::object{}},
      {"medical_cleared", "medical_cleared", 1},
      {"'x' in tags", "tags", "x"},
      {"admitted_on > '2026-01-01'", "admitted_on", 20000},
      {"last_visit > '2026-01-01T00:00:00Z'", "last_visit", false},
  };
  for (const auto& row : rows) {
    boost::json::object data;
    data[row.field] = row.stored;
    const auto outcome = run(row.text, data);
    EXPECT_FALSE(outcome.value) << row.text;
    EXPECT_EQ(outcome.unset_field, row.field) << row.text;
    EXPECT_FALSE(holds(std::string("has(") + row.field + ")", data)) << row.text;
  }
}

TEST(Guard, TreatsUnparsableStoredDatesAsUnset) {
  auto outcome = run("days_since(admitted_on) > 1", {{"admitted_on", "2026-02-30"}});
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "admitted_on");
  outcome = run("last_visit < '2030-01-01T00:00:00Z'", {{"last_visit", "yesterday"}});
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "last_visit");
  // A date field does not accept a datetime string, nor the reverse.
  EXPECT_FALSE(holds("has(admitted_on)", {{"admitted_on", "2026-02-19T00:00:00Z"}}));
  EXPECT_FALSE(holds("has(last_visit)", {{"last_visit", "2026-02-19"}}));
}

TEST(Guard, TreatsNonFiniteNumbersAsUnset) {
  boost::json::object data;
  data["score"] = std::numeric_limits<double>::quiet_NaN();
  const auto outcome = run("score < 1 || score >= 1", data);
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "score");
}

TEST(Guard, HasIsTrueForUsableValuesAndNeverReportsUnset) {
  EXPECT_TRUE(holds("has(age)", kChild));
  EXPECT_TRUE(holds("has(tags) && has(admitted_on) && has(last_visit)", kChild));
  EXPECT_TRUE(holds("has(consent)", kChild));  // false is a value, not unset
  const auto outcome = run("has(age)", {});
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "");
  EXPECT_TRUE(holds("has((age))", kChild));
}

// --- functions --------------------------------------------------------------------------------

TEST(Guard, SizeCountsCharactersAndListItems) {
  EXPECT_TRUE(holds("size(name) == 5", kChild));  // "Anaïs" is six bytes, five characters
  EXPECT_TRUE(holds("size(notes) == 12", kChild));
  EXPECT_TRUE(holds("size(home) == 5", kChild));
  EXPECT_TRUE(holds("size(tags) == 2", kChild));
  EXPECT_TRUE(holds("size(tags) == 0", {{"tags", boost::json::array{}}}));
  EXPECT_TRUE(holds("size('abc') == 3"));
  EXPECT_TRUE(holds("size([1, 2, 3]) == 3"));
  EXPECT_TRUE(holds("size([]) == 0"));
  const auto outcome = run("size(name) >= 0", {});
  EXPECT_FALSE(outcome.value);
  EXPECT_EQ(outcome.unset_field, "name");
}

TEST(Guard, DaysSinceCountsWholeDaysFromADate) {
  EXPECT_TRUE(holds("days_since(admitted_on) == 10", kChild));
  EXPECT_TRUE(holds("days_since(admitted_on) > 7", kChild));
  EXPECT_TRUE(holds("days_since(admitted_on) == 0", {{"admitted_on", "2026-03-01"}}));
  EXPECT_TRUE(holds("days_since(admitted_on) == -1", {{"admitted_on", "2026-03-02"}}));
  // Across a leap day: 2024-02-28 to 2024-03-01 is two days.
  const boost::json::object leap = {{"admitted_on", "2024-02-28"}};
  EXPECT_TRUE(compile_ok("days_since(admitted_on) == 2")
                  .evaluate(GuardContext{leap, *parse_date("2024-03-01")})
                  .value);
}

TEST(Guard, DaysSinceUsesTheUtcDayOfADatetime) {
  EXPECT_TRUE(holds("days_since(last_visit) == 2", kChild));
  // 02:00 at +05:30 on the 28th is still the 27th in UTC.
  EXPECT_TRUE(holds("days_since(last_visit) == 2", {{"last_visit", "2026-02-28T02:00:00+05:30"}}));
}

TEST(Guard, DaysSinceSaturatesInsteadOfOverflowing) {
  const boost::json::object data = {{"admitted_on", "1900-01-01"}};
  const auto guard = compile_ok("days_since(admitted_on) > 0");
  EXPECT_TRUE(guard.evaluate(GuardContext{data, std::numeric_limits<std::int64_t>::max()}).value);
  EXPECT_FALSE(guard.evaluate(GuardContext{data, std::numeric_limits<std::int64_t>::min()}).value);
}

// --- dates ------------------------------------------------------------------------------------

TEST(Guard, ComparesDatesWithDateLiterals) {
  EXPECT_TRUE(holds("admitted_on == '2026-02-19'", kChild));
  EXPECT_TRUE(holds("admitted_on > '2026-02-18'", kChild));
  EXPECT_TRUE(holds("admitted_on < '2026-02-20'", kChild));
  EXPECT_TRUE(holds("'2026-01-01' <= admitted_on", kChild));
  EXPECT_TRUE(holds("admitted_on >= \"2026-02-19\"", kChild));
  // Compared as dates, not text: '2026-2-19' would not be a valid literal, and order is by day.
  EXPECT_TRUE(holds("admitted_on > '1999-12-31'", kChild));
}

TEST(Guard, ComparesTwoDateFields) {
  EXPECT_TRUE(holds("born_on < admitted_on", kChild));
  EXPECT_FALSE(holds("born_on == admitted_on", kChild));
}

TEST(Guard, ComparesDatetimesWithDatetimeLiterals) {
  EXPECT_TRUE(holds("last_visit == '2026-02-27T23:30:00Z'", kChild));
  // The same instant written with an offset.
  EXPECT_TRUE(holds("last_visit == '2026-02-28T05:00:00+05:30'", kChild));
  EXPECT_TRUE(holds("last_visit > '2026-02-27T23:29:59Z'", kChild));
  EXPECT_TRUE(holds("last_visit < '2026-02-27T23:30:00.001Z'", kChild));
}

TEST(Guard, ChecksDateListItems) {
  EXPECT_TRUE(holds("admitted_on in ['2026-02-19', '2026-02-20']", kChild));
  EXPECT_FALSE(holds("admitted_on in ['2026-02-18']", kChild));
  EXPECT_TRUE(holds("last_visit in ['2026-02-27T23:30:00Z']", kChild));
  const auto failure = compile_error("admitted_on in ['2026-02-19', '2026-13-01']");
  EXPECT_EQ(failure.message, "'2026-13-01' is not a valid date (expected YYYY-MM-DD)");
  EXPECT_EQ(failure.offset, 30);
}

// --- in ---------------------------------------------------------------------------------------

TEST(Guard, TestsMembershipInListLiterals) {
  EXPECT_TRUE(holds("home in ['umang', 'umeed']", kChild));
  EXPECT_FALSE(holds("home in ['umang', 'udaan']", kChild));
  EXPECT_TRUE(holds("!(home in ['umang'])", kChild));
  EXPECT_TRUE(holds("age in [14, 15, 16]", kChild));
  EXPECT_TRUE(holds("age in [15.0]", kChild));
  EXPECT_FALSE(holds("age in [15.5]", kChild));
  EXPECT_TRUE(holds("score in [1, 7.5]", kChild));
  EXPECT_TRUE(holds("medical_cleared in [true]", kChild));
  EXPECT_FALSE(holds("age in []", kChild));
  EXPECT_TRUE(holds("'b' in ['a', 'b']"));
}

TEST(Guard, TestsMembershipInListFields) {
  EXPECT_TRUE(holds("'flagged' in tags", kChild));
  EXPECT_FALSE(holds("'Flagged' in tags", kChild));
  EXPECT_TRUE(holds("name in tags", {{"name", "x"}, {"tags", boost::json::array{"y", "x"}}}));
  EXPECT_TRUE(holds("home in tags", {{"home", "umang"}, {"tags", boost::json::array{"umang"}}}));
  // Items of other kinds are skipped rather than making the list unset.
  EXPECT_TRUE(holds("'x' in tags", {{"tags", boost::json::array{1, nullptr, true, "x"}}}));
  EXPECT_FALSE(holds("'1' in tags", {{"tags", boost::json::array{1}}}));
}

// --- enums ------------------------------------------------------------------------------------

TEST(Guard, RejectsEnumLiteralsThatAreNotValues) {
  auto failure = compile_error("home == 'umung'");
  EXPECT_EQ(failure.message,
            "'umung' is not a value of enum field 'home' (expected one of: umang, umeed, udaan)");
  EXPECT_EQ(failure.offset, 8);

  failure = compile_error("'umung' != home");
  EXPECT_EQ(failure.offset, 0);
  EXPECT_NE(failure.message.find("'umung'"), std::string::npos);

  failure = compile_error("home in ['umang', 'Umeed']");
  EXPECT_EQ(failure.message,
            "'Umeed' is not a value of enum field 'home' (expected one of: umang, umeed, udaan)");
  EXPECT_EQ(failure.offset, 18);

  failure = compile_error("(home) == 'x'");
  EXPECT_EQ(failure.offset, 10);
}

TEST(Guard, AcceptsEnumLiteralsThatAreValues) {
  EXPECT_TRUE(Guard::compile("home == 'udaan' || home in ['umang', 'umeed']", kLookup));
  EXPECT_TRUE(Guard::compile("home != name", kLookup));  // no literal, nothing to check
}

// --- compile errors ---------------------------------------------------------------------------

TEST(Guard, ReportsEachCompileErrorWithItsOffset) {
  struct Row {
    std::string text;
    std::string message;
    std::int64_t offset;
  };
  const std::vector<Row> rows = {
      {"", "empty guard", 0},
      {"  \n\t", "empty guard", 0},
      {"agee > 3", "unknown field 'agee'", 0},
      {"age > 3 && agee", "unknown field 'agee'", 11},
      {"age > 3 &&", "expected a value, found end of guard", 10},
      {"age >", "expected a value, found end of guard", 5},
      {"size(name", "expected ')' after arguments of size", 9},
      {"size(name name) > 1", "expected ')' after arguments of size", 10},
      {"(age > 3", "expected ')'", 8},
      {"age == 'x'", "cannot compare integer with string", 4},
      {"score < 'x'", "cannot compare number with string", 6},
      {"name == true", "cannot compare string with boolean", 5},
      {"tags == tags", "cannot compare list with list", 5},
      {"admitted_on > last_visit", "cannot compare date with datetime", 12},
      {"admitted_on > name", "cannot compare date with string", 12},
      {"admitted_on > 3", "cannot compare date with integer", 12},
      {"age", "guard must be boolean, found integer", 0},
      {"  size(name)", "guard must be boolean, found integer", 2},
      {"'x'", "guard must be boolean, found string", 0},
      {"[true]", "guard must be boolean, found list", 0},
      {"name == 'abc", "unterminated string", 8},
      {"name == \"abc\\\"", "unterminated string", 8},
      {"age > 3 )", "expected an operator or end of guard, found ')'", 8},
      {"age > 3 age", "expected an operator or end of guard, found 'age'", 8},
      {"true false", "expected an operator or end of guard, found 'false'", 5},
      {"!age", "'!' needs a boolean, found integer", 1},
      {"age && true", "'&&' needs boolean operands, found integer", 0},
      {"true || name", "'||' needs boolean operands, found string", 8},
      {"age = 3", "'=' is not an operator; compare with '=='", 4},
      {"medical_cleared & consent", "'&' is not an operator; use '&&'", 16},
      {"medical_cleared | consent", "'|' is not an operator; use '||'", 16},
      {"age > 3 # x", "unexpected character '#'", 8},
      {"has(age + 1)", "unexpected character '+'", 8},
      {"age > 3 \x01", "unexpected byte 0x01", 8},
      {"age \xE2\x89\xA5 3", "unexpected byte 0xE2", 4},
      {"name == 'a\\n'", "unknown escape in string (use \\\", \\' or \\\\)", 10},
      {"age > 99999999999999999999", "integer out of range", 6},
      {"age > 3.", "expected digits after '.' in number", 6},
      {"age > 3abc", "invalid number", 6},
      {"age > 1.2.3", "invalid number", 6},
      {"has(3)", "has needs a field name", 4},
      {"has(size(name))", "has needs a field name", 4},
      {"has(age, name)", "has takes exactly one argument", 9},
      {"has()", "has takes exactly one argument", 4},
      {"has age", "expected '(' after has", 4},
      {"size(age) > 1", "size needs a string or a list, found integer", 5},
      {"size(consent)", "size needs a string or a list, found boolean", 5},
      {"days_since(name) > 1", "days_since needs a date or datetime field", 11},
      {"days_since('2026-01-01') > 1", "days_since needs a date or datetime field", 11},
      {"foo(age)", "unknown function 'foo'", 0},
      {"true < false", "'<' does not apply to booleans", 5},
      {"consent >= medical_cleared", "'>=' does not apply to booleans", 8},
      {"age in 3", "'in' needs a list on the right, found integer", 7},
      {"name in name", "'in' needs a list on the right, found string", 8},
      {"age in ['a']", "cannot compare integer with string", 8},
      {"age in tags", "cannot compare integer with string", 4},
      {"tags in tags", "'in' needs a single value on the left, found list", 0},
      {"age in [1, 'a']", "list items must all have one type, found integer and string", 11},
      {"age in [age]", "list items must be literals", 8},
      {"age in [[1]]", "list items must be literals", 8},
      {"age in [1 2]", "expected ',' or ']' in list", 10},
      {"age in [1,]", "expected a list item, found ']'", 10},
      {"age in [1", "expected ',' or ']' in list", 9},
      {"admitted_on > '2026-02-30'", "'2026-02-30' is not a valid date (expected YYYY-MM-DD)", 14},
      {"last_visit > '2026-02-01'", "'2026-02-01' is not a valid RFC 3339 datetime", 13},
      {"1 < 2 < 3", "comparisons do not chain; add parentheses", 6},
      {"age in [1] == true", "comparisons do not chain; add parentheses", 11},
      {"in", "expected a value, found 'in'", 0},
      {")", "expected a value, found ')'", 0},
  };
  for (const auto& row : rows) {
    const auto failure = compile_error(row.text);
    EXPECT_EQ(failure.message, row.message) << row.text;
    EXPECT_EQ(failure.offset, row.offset) << row.text;
  }
}

TEST(Guard, NeverRepeatsStringLiteralsInSyntaxErrors) {
  const auto failure = compile_error("name == 'Ravi' 'Kumar'");
  EXPECT_EQ(failure.message, "expected an operator or end of guard, found a string");
  EXPECT_EQ(failure.message.find("Kumar"), std::string::npos);
  EXPECT_EQ(failure.offset, 15);
}

TEST(Guard, ReportsALexingProblemBeforeALaterSyntaxError) {
  // The unterminated string is the real cause, not the missing ')'.
  const auto failure = compile_error("(name == 'abc");
  EXPECT_EQ(failure.message, "unterminated string");
  EXPECT_EQ(failure.offset, 9);
}

TEST(Guard, LetsAFieldShareAFunctionName) {
  std::vector<Field> fields = {make_field("size", FieldType::integer),
                               make_field("name", FieldType::string)};
  const FieldLookup lookup = [&](std::string_view name) -> const Field* {
    for (const auto& field : fields) {
      if (field.name == name) {
        return &field;
      }
    }
    return nullptr;
  };
  auto guard = Guard::compile("size > 3 && size(name) < size", lookup);
  ASSERT_TRUE(guard) << guard.error().message;
  EXPECT_TRUE(guard->evaluate(GuardContext{{{"size", 5}, {"name", "ab"}}, 0}).value);
  EXPECT_FALSE(guard->evaluate(GuardContext{{{"size", 1}, {"name", "ab"}}, 0}).value);
  EXPECT_EQ(guard->fields(), (std::vector<std::string>{"size", "name"}));
}

TEST(Guard, TreatsAnEmptyLookupAsNoFields) {
  EXPECT_EQ(compile_error("age > 1", FieldLookup{}).message, "unknown field 'age'");
  EXPECT_TRUE(Guard::compile("1 < 2", FieldLookup{}));
}

// --- hostile input ----------------------------------------------------------------------------

TEST(Guard, AcceptsSixtyFourLevelsOfNesting) {
  const std::string parens = std::string(64, '(') + "true" + std::string(64, ')');
  EXPECT_TRUE(holds(parens));
  EXPECT_TRUE(holds(std::string(64, '!') + "true"));
  EXPECT_FALSE(holds(std::string(63, '!') + "true"));
}

TEST(Guard, RejectsNestingDeeperThanSixtyFourLevels) {
  auto failure = compile_error(std::string(65, '(') + "true" + std::string(65, ')'));
  EXPECT_EQ(failure.message, "guard nests deeper than 64 levels");
  EXPECT_EQ(failure.offset, 64);

  failure = compile_error(std::string(65, '!') + "true");
  EXPECT_EQ(failure.message, "guard nests deeper than 64 levels");
  EXPECT_EQ(failure.offset, 64);

  std::string calls;
  for (int i = 0; i < 70; ++i) {
    calls += "size(";
  }
  failure = compile_error(calls);
  EXPECT_EQ(failure.message, "guard nests deeper than 64 levels");
  EXPECT_EQ(failure.offset, 64 * 5 + 4);
}

TEST(Guard, SurvivesHostileNestingWithoutOverflowingTheStack) {
  for (const char open : {'(', '!'}) {
    const auto failure = compile_error(std::string(4096, open));
    EXPECT_EQ(failure.message, "guard nests deeper than 64 levels") << open;
    EXPECT_EQ(failure.offset, 64) << open;
  }
  std::string calls;
  while (calls.size() + 5 <= 4096) {
    calls += "size(";
  }
  EXPECT_EQ(compile_error(calls).message, "guard nests deeper than 64 levels");
  // List literals hold only literals, so nested brackets stop at the second one.
  EXPECT_EQ(compile_error(std::string(4096, '[')).message, "list items must be literals");
  std::string mixed;
  while (mixed.size() + 3 <= 4096) {
    mixed += "!((";
  }
  EXPECT_EQ(compile_error(mixed).message, "guard nests deeper than 64 levels");
}

TEST(Guard, RejectsTextLongerThan4096Bytes) {
  std::string text = "true";
  text.resize(4097, ' ');
  auto failure = compile_error(text);
  EXPECT_EQ(failure.message, "guard is longer than 4096 bytes");
  EXPECT_EQ(failure.offset, 4096);

  text.resize(4096);
  EXPECT_TRUE(Guard::compile(text, kLookup));
  EXPECT_EQ(compile_error(std::string(1 << 20, 'a')).offset, 4096);
}

TEST(Guard, EvaluatesLongFlatChains) {
  std::string ands = "age > 0";
  std::string ors = "age < 0";
  while (ands.size() < 4000) {
    ands += " && age > 0";
    ors += " || age < 0";
  }
  ors += " || age == 15";
  EXPECT_TRUE(holds(ands, kChild));
  EXPECT_TRUE(holds(ors, kChild));
  EXPECT_EQ(compile_ok(ands).fields(), std::vector<std::string>{"age"});
}

// Random token soup: every compile either succeeds (and then evaluates without throwing, on
// data of the wrong kinds) or fails with an offset inside the text.
TEST(Guard, HandlesRandomGarbageWithoutCrashing) {
  const std::vector<std::string> pieces = {"(",          ")",
                                           "[",          "]",
                                           ",",          "!",
                                           "&&",         "||",
                                           "==",         "!=",
                                           "<",          "<=",
                                           ">",          ">=",
                                           "in",         "has",
                                           "size",       "days_since",
                                           "age",        "score",
                                           "name",       "home",
                                           "tags",       "admitted_on",
                                           "last_visit", "medical_cleared",
                                           "true",       "false",
                                           "1",          "-2",
                                           "3.5",        "'umang'",
                                           "\"x\"",      "'2026-01-01'",
                                           "&",          "|",
                                           "=",          "'",
                                           "\\",         "#",
                                           "\xff",       " ",
                                           "agee",       "[]"};
  const boost::json::object odd = {{"age", "x"},
                                   {"score", boost::json::array{}},
                                   {"name", 5},
                                   {"home", nullptr},
                                   {"tags", boost::json::array{1, "umang"}},
                                   {"admitted_on", "no"},
                                   {"last_visit", 3.5},
                                   {"medical_cleared", "yes"}};
  std::mt19937 random(20260301);
  int compiled = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string text;
    const int count = 1 + static_cast<int>(random() % 12);
    for (int j = 0; j < count; ++j) {
      text += pieces[random() % pieces.size()];
      if (random() % 2 == 0) {
        text += ' ';
      }
    }
    auto guard = Guard::compile(text, kLookup);
    if (guard) {
      ++compiled;
      EXPECT_NO_THROW(guard->evaluate(GuardContext{odd, today()})) << text;
      EXPECT_NO_THROW(guard->evaluate(GuardContext{kChild, today()})) << text;
      continue;
    }
    const Error error = guard.error();  // error() returns a copy; keep it alive
    const auto* offset = error.details.if_contains("offset");
    ASSERT_NE(offset, nullptr) << text;
    ASSERT_TRUE(offset->is_int64()) << text;
    EXPECT_GE(offset->as_int64(), 0) << text;
    EXPECT_LE(offset->as_int64(), static_cast<std::int64_t>(text.size())) << text;
    EXPECT_FALSE(error.message.empty()) << text;
  }
  EXPECT_GT(compiled, 0);  // the soup is not all rejected, so evaluation was exercised too
}

// --- the compiled object ----------------------------------------------------------------------

TEST(Guard, ListsFieldsInFirstUseOrderWithoutRepeats) {
  const auto guard = compile_ok(
      "age > 3 && (has(name) || age < 2) && home in ['umang'] && has(name) && "
      "days_since(admitted_on) > 1 && 'x' in tags");
  EXPECT_EQ(guard.fields(),
            (std::vector<std::string>{"age", "name", "home", "admitted_on", "tags"}));
  EXPECT_TRUE(compile_ok("1 < 2").fields().empty());
}

TEST(Guard, KeepsItsText) {
  const std::string text = "  age >= 12 ";
  EXPECT_EQ(compile_ok(text).text(), text);
}

TEST(Guard, CopiesShareTheCompiledGuard) {
  const Guard original = compile_ok("age > 12");
  const Guard copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(copy.text(), "age > 12");
  EXPECT_TRUE(copy.evaluate(GuardContext{kChild, today()}).value);
  EXPECT_TRUE(original.evaluate(GuardContext{kChild, today()}).value);
}

TEST(Guard, DefaultConstructedGuardIsFalse) {
  const Guard guard;
  const auto outcome = guard.evaluate(GuardContext{kChild, today()});
  EXPECT_FALSE(outcome.value);
  EXPECT_TRUE(outcome.unset_field.empty());
}

TEST(Guard, EvaluatesFromManyThreadsAtOnce) {
  const Guard guard = compile_ok("has(age) && age >= 12 && home in ['umeed', 'udaan']");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        const int age = (i + t) % 20;
        const boost::json::object data = {{"age", age}, {"home", i % 2 ? "umeed" : "umang"}};
        const bool expected = age >= 12 && i % 2 == 1;
        if (guard.evaluate(GuardContext{data, 0}).value != expected) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace carepath
