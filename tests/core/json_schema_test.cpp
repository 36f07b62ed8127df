#include "core/json_schema.hpp"

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace carepath {
namespace {

// Whether `text` contains `part`, printing both when it does not.
::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

boost::json::value json(const char* text) {
  return boost::json::parse(text);
}

// The problems of validating `instance` against `schema` as "path: message" lines; the schema
// must pass check_schema() first, as the header requires.
std::vector<std::string> problems(const char* schema, const char* instance) {
  const boost::json::value s = json(schema);
  auto checked = check_schema(s);
  EXPECT_TRUE(checked) << schema << ": " << (checked ? "" : checked.error().message);
  std::vector<std::string> out;
  for (const auto& p : validate_schema(s, json(instance))) {
    out.push_back(p.path + ": " + p.message);
  }
  return out;
}

std::string refusal(const char* schema) {
  auto checked = check_schema(json(schema));
  if (checked) {
    return "(accepted)";
  }
  EXPECT_EQ(checked.error().code, Errc::invalid_argument);
  return checked.error().message;
}

using Lines = std::vector<std::string>;

TEST(JsonSchema, AcceptsEmptyAndBooleanSchemas) {
  EXPECT_EQ(problems("{}", R"({"anything": [1, 2]})"), Lines{});
  EXPECT_EQ(problems("true", "null"), Lines{});
  EXPECT_EQ(problems("false", "1"), Lines{": no value is allowed here"});
}

TEST(JsonSchema, ChecksType) {
  EXPECT_EQ(problems(R"({"type": "string"})", R"("x")"), Lines{});
  EXPECT_EQ(problems(R"({"type": "string"})", "1"), Lines{": expected a string"});
  EXPECT_EQ(problems(R"({"type": "object"})", "[]"), Lines{": expected an object"});
  EXPECT_EQ(problems(R"({"type": "array"})", "{}"), Lines{": expected an array"});
  EXPECT_EQ(problems(R"({"type": "null"})", "0"), Lines{": expected null"});
  EXPECT_EQ(problems(R"({"type": "boolean"})", "true"), Lines{});
  EXPECT_EQ(problems(R"({"type": "number"})", "1.5"), Lines{});
  EXPECT_EQ(problems(R"({"type": "number"})", "-3"), Lines{});
  EXPECT_EQ(problems(R"({"type": "integer"})", "3"), Lines{});
  EXPECT_EQ(problems(R"({"type": "integer"})", "18446744073709551615"), Lines{});
  EXPECT_EQ(problems(R"({"type": "integer"})", "3.0"), Lines{});  // draft-07: 3.0 is an integer
  EXPECT_EQ(problems(R"({"type": "integer"})", "3.5"), Lines{": expected an integer"});
  EXPECT_EQ(problems(R"({"type": ["string", "null"]})", "null"), Lines{});
  EXPECT_EQ(problems(R"({"type": ["string", "integer", "null"]})", "true"),
            Lines{": expected a string, an integer or null"});
}

TEST(JsonSchema, WrongTypeIsReportedAloneWithoutTheTypeSpecificKeywords) {
  EXPECT_EQ(problems(R"({"type": "string", "minLength": 3, "enum": ["abc"]})", "1"),
            Lines{": expected a string"});
}

TEST(JsonSchema, ChecksEnumAndConstWithJsonEquality) {
  EXPECT_EQ(problems(R"({"enum": ["dlsa", "ngo", 3]})", R"("ngo")"), Lines{});
  EXPECT_EQ(problems(R"({"enum": ["dlsa", "ngo", 3]})", "3.0"), Lines{});  // numbers by value
  EXPECT_EQ(problems(R"({"enum": ["dlsa", "ngo"]})", R"("court")"),
            Lines{R"(: must be one of: "dlsa", "ngo")"});
  EXPECT_EQ(problems(R"({"enum": [{"a": 1, "b": [1, 2]}]})", R"({"b": [1, 2], "a": 1})"), Lines{});
  EXPECT_EQ(problems(R"({"const": 2})", "2"), Lines{});
  EXPECT_EQ(problems(R"({"const": 2})", "3"), Lines{": must be 2"});
  EXPECT_EQ(problems(R"({"const": null})", "false"), Lines{": must be null"});
}

TEST(JsonSchema, ProblemMessagesNeverEchoTheInstanceValue) {
  // Configuration can be copied from case data; a problem names the rule, not the value.
  const char* secret = R"("Asha from Sonagachi")";
  for (const char* schema :
       {R"({"type": "integer"})", R"({"enum": ["a"]})", R"({"const": "a"})", R"({"maxLength": 2})",
        R"({"pattern": "^[0-9]+$"})", R"({"not": {"type": "string"}})",
        R"({"anyOf": [{"type": "null"}]})", R"({"oneOf": [{"type": "null"}]})"}) {
    const auto lines = problems(schema, secret);
    ASSERT_EQ(lines.size(), 1U) << schema;
    EXPECT_EQ(lines[0].find("Asha"), std::string::npos) << schema;
  }
}

TEST(JsonSchema, ChecksNumberLimits) {
  const char* schema = R"({"minimum": 1, "maximum": 10})";
  EXPECT_EQ(problems(schema, "1"), Lines{});
  EXPECT_EQ(problems(schema, "10"), Lines{});
  EXPECT_EQ(problems(schema, "0"), Lines{": must be at least 1"});
  EXPECT_EQ(problems(schema, "10.5"), Lines{": must be at most 10"});
  const char* exclusive = R"({"exclusiveMinimum": 0, "exclusiveMaximum": 1.5})";
  EXPECT_EQ(problems(exclusive, "0.5"), Lines{});
  EXPECT_EQ(problems(exclusive, "0"), Lines{": must be greater than 0"});
  EXPECT_EQ(problems(exclusive, "1.5"), Lines{": must be less than 1.5"});
  // Number keywords ignore other types, as draft-07 says.
  EXPECT_EQ(problems(schema, R"("zero")"), Lines{});
}

TEST(JsonSchema, ChecksStringLengthInCharactersNotBytes) {
  const char* schema = R"({"minLength": 2, "maxLength": 3})";
  EXPECT_EQ(problems(schema, R"("ab")"), Lines{});
  EXPECT_EQ(problems(schema, R"("a")"), Lines{": must be at least 2 characters long"});
  EXPECT_EQ(problems(schema, R"("abcd")"), Lines{": must be at most 3 characters long"});
  // Three Devanagari characters, nine bytes of UTF-8.
  EXPECT_EQ(problems(schema, "\"\xE0\xA4\x95\xE0\xA4\xBE\xE0\xA4\xAE\""), Lines{});
}

TEST(JsonSchema, ChecksPatternAsAnUnanchoredEcmaScriptSearch) {
  EXPECT_EQ(problems(R"({"pattern": "^[A-Z]{2}-\\d{4}$"})", R"("DL-2024")"), Lines{});
  EXPECT_EQ(problems(R"({"pattern": "^[A-Z]{2}-\\d{4}$"})", R"("DL-24")"),
            Lines{R"(: must match pattern '^[A-Z]{2}-\d{4}$')"});
  EXPECT_EQ(problems(R"({"pattern": "\\d"})", R"("room 4")"), Lines{});  // not anchored
}

TEST(JsonSchema, ReportsAVeryLongStringInsteadOfMatchingItsPattern) {
  const std::string long_text = "\"" + std::string(5000, 'a') + "\"";
  const auto lines = problems(R"({"pattern": "^(a|b)*$"})", long_text.c_str());
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_TRUE(contains(lines[0], "too long to check against pattern"));
  // Just under the limit it is matched normally.
  const std::string fits = "\"" + std::string(4000, 'a') + "\"";
  EXPECT_EQ(problems(R"({"pattern": "^(a|b)*$"})", fits.c_str()), Lines{});
}

TEST(JsonSchema, ChecksArrays) {
  const char* schema =
      R"({"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": true,
          "items": {"type": "string"}})";
  EXPECT_EQ(problems(schema, R"(["a", "b"])"), Lines{});
  EXPECT_EQ(problems(schema, "[]"), Lines{": must have at least 1 items"});
  EXPECT_EQ(problems(schema, R"(["a", "b", "c", "d"])"), Lines{": must have at most 3 items"});
  EXPECT_EQ(problems(schema, R"(["a", "b", "a"])"), Lines{"/2: duplicates item 0"});
  EXPECT_EQ(
      problems(schema, R"(["a", 2, "c", null])"),
      (Lines{": must have at most 3 items", "/1: expected a string", "/3: expected a string"}));
  EXPECT_EQ(problems(R"({"uniqueItems": true})", "[1, 1.0]"), Lines{"/1: duplicates item 0"});
  EXPECT_EQ(problems(R"({"uniqueItems": false})", "[1, 1]"), Lines{});
}

TEST(JsonSchema, ChecksTupleItemsPositionally) {
  const char* schema = R"({"items": [{"type": "string"}, {"type": "integer"}]})";
  EXPECT_EQ(problems(schema, R"(["a", 1, "anything"])"), Lines{});
  EXPECT_EQ(problems(schema, R"([1, "a"])"),
            (Lines{"/0: expected a string", "/1: expected an integer"}));
}

TEST(JsonSchema, ChecksRequiredAndProperties) {
  const char* schema =
      R"({"type": "object", "required": ["provider", "district"],
          "properties": {"provider": {"type": "string"}, "district": {"type": "string"}}})";
  EXPECT_EQ(problems(schema, R"({"provider": "dlsa", "district": "x"})"), Lines{});
  EXPECT_EQ(problems(schema, R"({"district": 4})"),
            (Lines{": missing required key 'provider'", "/district: expected a string"}));
  // Without additionalProperties, other members are allowed.
  EXPECT_EQ(problems(schema, R"({"provider": "a", "district": "b", "extra": 1})"), Lines{});
}

TEST(JsonSchema, NamesUnknownKeysWhenAdditionalPropertiesIsFalse) {
  const char* schema =
      R"({"type": "object", "additionalProperties": false,
          "properties": {"provider": {"type": "string"}}})";
  EXPECT_EQ(problems(schema, R"({"provider": "dlsa"})"), Lines{});
  EXPECT_EQ(problems(schema, R"({"provder": "dlsa", "x": 1})"),
            (Lines{"/provder: unknown key 'provder'", "/x: unknown key 'x'"}));
}

TEST(JsonSchema, ValidatesAdditionalPropertiesAgainstASchema) {
  const char* schema = R"({"properties": {"a": {}}, "additionalProperties": {"type": "integer"}})";
  EXPECT_EQ(problems(schema, R"({"a": "s", "b": 1})"), Lines{});
  EXPECT_EQ(problems(schema, R"({"a": "s", "b": "t"})"), Lines{"/b: expected an integer"});
}

TEST(JsonSchema, ReportsNestedPathsAsJsonPointersInDocumentOrder) {
  const char* schema = R"({
    "type": "object", "additionalProperties": false,
    "properties": {
      "checks": {"type": "array", "items": {
        "type": "object", "required": ["kind"], "additionalProperties": false,
        "properties": {"kind": {"enum": ["medical", "legal"]}, "days": {"type": "integer"}}}},
      "a/b": {"type": "string"},
      "m~n": {"type": "string"}}})";
  EXPECT_EQ(problems(schema, R"({
      "checks": [{"kind": "dental"}, {"days": 1.5, "oops": true}],
      "a/b": 1, "m~n": 2})"),
            (Lines{R"(/checks/0/kind: must be one of: "medical", "legal")",
                   "/checks/1: missing required key 'kind'", "/checks/1/days: expected an integer",
                   "/checks/1/oops: unknown key 'oops'", "/a~1b: expected a string",
                   "/m~0n: expected a string"}));
}

TEST(JsonSchema, ChecksAnyOfOneOfAllOfAndNot) {
  const char* any = R"({"anyOf": [{"type": "string"}, {"type": "integer"}]})";
  EXPECT_EQ(problems(any, "1"), Lines{});
  EXPECT_EQ(problems(any, "true"), Lines{": must match at least one of the 'anyOf' schemas"});

  const char* one = R"({"oneOf": [{"type": "integer"}, {"minimum": 5}]})";
  EXPECT_EQ(problems(one, "1"), Lines{});
  EXPECT_EQ(problems(one, "7"),
            Lines{": must match exactly one of the 'oneOf' schemas, matches 2"});
  EXPECT_EQ(problems(one, R"("s")"), Lines{});  // the minimum branch ignores strings

  const char* all = R"({"allOf": [{"type": "integer"}, {"minimum": 5}]})";
  EXPECT_EQ(problems(all, "7"), Lines{});
  EXPECT_EQ(problems(all, "3"), Lines{": must be at least 5"});

  EXPECT_EQ(problems(R"({"not": {"type": "null"}})", "1"), Lines{});
  EXPECT_EQ(problems(R"({"not": {"type": "null"}})", "null"),
            Lines{": must not match the 'not' schema"});
}

TEST(JsonSchema, AcceptsAnnotations) {
  EXPECT_EQ(refusal(R"({"$schema": "http://json-schema.org/draft-07/schema#", "$id": "x",
                        "$comment": "c", "title": "t", "description": "d", "default": {},
                        "examples": [{}], "type": "object"})"),
            "(accepted)");
}

TEST(JsonSchema, RefusesUnknownKeywordsWithTheirPointer) {
  EXPECT_EQ(refusal(R"({"format": "email"})"),
            "schema keyword 'format' at /format is not supported; the engine would not enforce it");
  EXPECT_TRUE(
      contains(refusal(R"({"properties": {"email": {"type": "string", "format": "email"}}})"),
               "'format' at /properties/email/format"));
  EXPECT_TRUE(contains(refusal(R"({"items": {"anyOf": [{}, {"dependencies": {}}]}})"),
                       "'dependencies' at /items/anyOf/1/dependencies"));
  EXPECT_TRUE(contains(refusal(R"({"properties": {"a/b": {"patternProperties": {}}}})"),
                       "at /properties/a~1b/patternProperties"));
  EXPECT_TRUE(contains(refusal(R"({"additionalItems": false})"), "'additionalItems'"));
  EXPECT_TRUE(contains(refusal(R"({"if": {}, "then": {}})"), "'if'"));
}

TEST(JsonSchema, FollowsLocalReferencesToDefinitions) {
  const char* schema = R"({
    "definitions": {"name": {"type": "string", "pattern": "^[a-z]+$"},
                    "a/b": {"type": "integer"}},
    "type": "object",
    "properties": {"who": {"$ref": "#/definitions/name", "description": "an annotation"},
                   "n": {"$ref": "#/definitions/a~1b"},
                   "child": {"$ref": "#"}}})";
  EXPECT_EQ(problems(schema, R"({"who": "asha", "n": 1, "child": {"who": "b"}})"), Lines{});
  EXPECT_EQ(problems(schema, R"({"who": "Asha", "child": {"n": "x", "child": 2}})"),
            (Lines{"/who: must match pattern '^[a-z]+$'", "/child/n: expected an integer",
                   "/child/child: expected an object"}));
}

TEST(JsonSchema, RefusesReferencesItCannotFollowOrThatLoop) {
  EXPECT_TRUE(contains(refusal(R"({"$ref": "other.json#/definitions/a"})"), "'$ref' at /$ref"));
  EXPECT_TRUE(contains(refusal(R"({"$ref": "#/definitions/missing"})"), "'$ref' at /$ref"));
  EXPECT_TRUE(contains(refusal(R"({"$ref": "#/properties/a", "properties": {"a": {}}})"),
                       "'$ref' at /$ref"));
  EXPECT_TRUE(contains(refusal(R"({"$ref": 1})"), "'$ref' at /$ref"));
  EXPECT_TRUE(contains(refusal(R"({"definitions": {"a": {"$ref": "#/definitions/b"},
                                                   "b": {"$ref": "#/definitions/a"}}})"),
                       "'$ref' at /definitions/a/$ref"));
  EXPECT_TRUE(contains(refusal(R"({"$ref": "#"})"), "'$ref' at /$ref"));
  // Draft-07 ignores the siblings of $ref; a constraint there would not be enforced.
  EXPECT_TRUE(contains(refusal(R"({"definitions": {"a": {}},
                                   "properties": {"x": {"$ref": "#/definitions/a",
                                                        "type": "string"}}})"),
                       "'type' at /properties/x/type is next to '$ref'"));
  EXPECT_TRUE(contains(refusal(R"({"definitions": {"a": {"format": "email"}}})"),
                       "'format' at /definitions/a/format"));
}

TEST(JsonSchema, ChecksPropertyNamesAndPropertyCounts) {
  const char* schema = R"({"propertyNames": {"pattern": "^[a-z]+$"}, "minProperties": 1,
                           "maxProperties": 2})";
  EXPECT_EQ(problems(schema, R"({"ab": 1})"), Lines{});
  EXPECT_EQ(problems(schema, R"({})"), Lines{": must have at least 1 keys"});
  EXPECT_EQ(problems(schema, R"({"a": 1, "B": 2, "c": 3})"),
            (Lines{": must have at most 2 keys", "/B: key name must match pattern '^[a-z]+$'"}));
  EXPECT_TRUE(contains(refusal(R"({"minProperties": -1})"), "'minProperties'"));
  EXPECT_TRUE(contains(refusal(R"({"propertyNames": 3})"), "/propertyNames"));
}

TEST(JsonSchema, RefusesMalformedKeywordValues) {
  EXPECT_TRUE(contains(refusal(R"({"type": "text"})"), "'type' at /type must be a type name"));
  EXPECT_TRUE(contains(refusal(R"({"type": []})"), "'type' at /type"));
  EXPECT_TRUE(contains(refusal(R"({"type": ["string", "string"]})"), "'type' at /type"));
  EXPECT_TRUE(contains(refusal(R"({"enum": []})"), "'enum' at /enum must be a non-empty array"));
  EXPECT_TRUE(contains(refusal(R"({"enum": "a"})"), "'enum'"));
  EXPECT_TRUE(contains(refusal(R"({"properties": []})"), "'properties' at /properties"));
  EXPECT_TRUE(contains(refusal(R"({"properties": {"a": 3}})"),
                       "schema at /properties/a must be an object or a boolean"));
  EXPECT_TRUE(contains(refusal(R"({"required": ["a", 1]})"), "'required'"));
  EXPECT_TRUE(contains(refusal(R"({"required": ["a", "a"]})"), "unique strings"));
  EXPECT_TRUE(contains(refusal(R"({"additionalProperties": "no"})"),
                       "schema at /additionalProperties must be an object or a boolean"));
  EXPECT_TRUE(contains(refusal(R"({"minItems": -1})"),
                       "'minItems' at /minItems must be a non-negative integer"));
  EXPECT_TRUE(contains(refusal(R"({"maxLength": 1.5})"), "'maxLength'"));
  EXPECT_EQ(refusal(R"({"maxLength": 2.0})"), "(accepted)");
  EXPECT_TRUE(contains(refusal(R"({"uniqueItems": 1})"), "'uniqueItems'"));
  EXPECT_TRUE(contains(refusal(R"({"minimum": "1"})"), "'minimum' at /minimum must be a number"));
  EXPECT_TRUE(contains(refusal(R"({"exclusiveMaximum": true})"), "'exclusiveMaximum'"));
  EXPECT_TRUE(contains(refusal(R"({"pattern": "(unclosed"})"),
                       "'pattern' at /pattern must be a valid ECMAScript regular expression"));
  EXPECT_TRUE(contains(refusal(R"({"anyOf": []})"), "'anyOf' at /anyOf must be a non-empty array"));
  EXPECT_TRUE(contains(refusal(R"({"oneOf": {}})"), "'oneOf'"));
  EXPECT_TRUE(contains(refusal(R"({"allOf": [1]})"), "schema at /allOf/0"));
  EXPECT_TRUE(contains(refusal(R"({"not": []})"), "schema at /not"));
  EXPECT_TRUE(contains(refusal(R"({"title": 1})"), "'title'"));
  EXPECT_TRUE(contains(refusal(R"({"examples": {}})"), "'examples'"));
  EXPECT_TRUE(contains(refusal("3"), "schema at / must be an object or a boolean"));
  EXPECT_TRUE(contains(refusal("null"), "schema at /"));
}

// Builds {"properties": {"a": {"properties": {"a": ... {} }}}} with `levels` nested schemas.
boost::json::value nested_properties(int levels) {
  boost::json::value schema = boost::json::object{};
  for (int i = 0; i < levels; ++i) {
    boost::json::object outer;
    outer["properties"] = boost::json::object{{"a", std::move(schema)}};
    schema = std::move(outer);
  }
  return schema;
}

TEST(JsonSchema, AcceptsSchemasNestedUpToTheDepthCap) {
  EXPECT_TRUE(check_schema(nested_properties(60)));
}

TEST(JsonSchema, RefusesSchemasNestedBeyondTheDepthCapWithoutCrashing) {
  auto deep = check_schema(nested_properties(100));
  ASSERT_FALSE(deep);
  EXPECT_TRUE(
      contains(deep.error().message, "schema nests deeper than 64 levels at /properties/a"));

  // Far deeper than any stack would survive if the checker recursed without a cap.
  boost::json::value hostile = boost::json::object{};
  for (int i = 0; i < 5000; ++i) {
    boost::json::object outer;
    outer["not"] = std::move(hostile);
    hostile = std::move(outer);
  }
  auto refused = check_schema(hostile);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.error().message, "schema nests deeper than 64 levels"));
  // validate_schema() must not be fed unchecked schemas, but survives one.
  const auto survived = validate_schema(hostile, json("1"));
  ASSERT_EQ(survived.size(), 1U);
  EXPECT_EQ(survived[0].message, "schema nests too deeply to validate");
}

TEST(JsonSchema, RefusesPatternsThatWouldExpandIntoHugeAutomata) {
  EXPECT_TRUE(contains(refusal(R"({"pattern": "a{100000000}"})"),
                       "'pattern' at /pattern must be a simpler regular expression"));
  EXPECT_TRUE(contains(refusal(R"({"pattern": "((a{100}){100}){100}"})"), "simpler"));
  EXPECT_TRUE(contains(refusal(R"({"pattern": "(x{1000,}){1000}"})"), "simpler"));
  // Ordinary patterns with counted repetitions are fine.
  EXPECT_EQ(refusal(R"({"pattern": "^[A-Z]{2}[0-9]{2}[A-Z]{0,3}[0-9]{4,7}$"})"), "(accepted)");
  EXPECT_EQ(refusal(R"({"pattern": "^\\+?[0-9]{10,15}$"})"), "(accepted)");
  EXPECT_EQ(refusal(R"({"pattern": "[{]{3}"})"), "(accepted)");
  const std::string long_pattern = R"({"pattern": ")" + std::string(2000, 'a') + R"("})";
  EXPECT_TRUE(contains(refusal(long_pattern.c_str()), "simpler"));
}

TEST(JsonSchema, ValidatesDeepInstancesAgainstShallowSchemas) {
  // Instance depth does not drive recursion: only schema depth does.
  boost::json::value instance = 1;
  for (int i = 0; i < 5000; ++i) {
    instance = boost::json::array{std::move(instance)};
  }
  EXPECT_TRUE(validate_schema(json(R"({"type": "array", "minItems": 1})"), instance).empty());
  // Equality gives up past its depth cap instead of recursing without bound.
  EXPECT_FALSE(validate_schema(json(R"({"enum": [1]})"), instance).empty());
  boost::json::value twice = boost::json::array{instance, instance};
  EXPECT_TRUE(validate_schema(json(R"({"uniqueItems": true})"), twice).empty());
}

}  // namespace
}  // namespace carepath
