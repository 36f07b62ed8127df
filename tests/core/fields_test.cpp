#include "core/fields.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace carepath {
namespace {

Workflow make_workflow() {
  Workflow w;
  w.name = "test";
  w.version = 1;
  w.roles = {"caseworker", "counsellor"};
  w.fields = {
      Field{"name", FieldType::string, std::nullopt, 40.0, {}, Sensitivity::identifying},
      Field{"age", FieldType::integer, 0.0, 25.0},
      Field{"score", FieldType::number, 0.0, 100.0},
      Field{"home", FieldType::enumeration, std::nullopt, std::nullopt, {"umang", "udaan"}},
      Field{"cleared", FieldType::boolean},
      Field{"dob", FieldType::date},
      Field{"seen_at", FieldType::datetime},
      Field{"tags", FieldType::list, std::nullopt, 2.0},
      Field{"notes",
            FieldType::text,
            std::nullopt,
            std::nullopt,
            {},
            Sensitivity::privileged,
            {"counsellor"},
            {"counsellor"}},
  };
  w.states = {State{"open", true, false}};
  w.finalize();
  return w;
}

boost::json::object obj(const char* text) {
  return boost::json::parse(text).as_object();
}

TEST(Fields, AcceptsValidValuesAndNulls) {
  const auto w = make_workflow();
  EXPECT_TRUE(validate_payload(w, obj(R"({"name": "Asha Test", "age": 14, "score": 55.5,
      "home": "udaan", "cleared": true, "dob": "2011-02-03", "seen_at": "2026-01-01T10:00:00Z",
      "tags": ["a", "b"], "notes": "n", "score": null})"))
                  .empty());
  EXPECT_TRUE(validate_payload(w, obj(R"({"age": 3.0})")).empty());
}

TEST(Fields, ReportsEachInvalidFieldWithAReasonButNoValue) {
  const auto w = make_workflow();
  const auto problems = validate_payload(w, obj(R"({"age": "fourteen", "home": "elsewhere",
      "cleared": "yes", "dob": "2011-02-30", "tags": [1], "score": 101, "nickname": "x",
      "seen_at": "yesterday"})"));
  ASSERT_EQ(problems.size(), 8U);
  EXPECT_EQ(problems[0].field, "age");
  EXPECT_EQ(problems[0].reason, "must be an integer");
  EXPECT_EQ(problems[1].reason, "must be one of: umang, udaan");
  EXPECT_EQ(problems[2].reason, "must be true or false");
  EXPECT_EQ(problems[3].reason, "must be a date (YYYY-MM-DD)");
  EXPECT_EQ(problems[4].reason, "must be a list of strings");
  EXPECT_EQ(problems[5].reason, "value must be at most 100");
  EXPECT_EQ(problems[6].field, "nickname");
  EXPECT_EQ(problems[6].reason, "unknown field");
  for (const auto& p : problems) {
    EXPECT_EQ(p.reason.find("elsewhere"), std::string::npos);
    EXPECT_EQ(p.reason.find("yesterday"), std::string::npos);
  }
}

TEST(Fields, ChecksLengthsInCharactersAndListSizes) {
  const auto w = make_workflow();
  EXPECT_TRUE(validate_payload(w, obj(R"({"name": "\u0906\u0936\u093e"})")).empty());
  const auto long_name = validate_payload(
      w, obj(R"({"name": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "tags": ["a", "b", "c"]})"));
  ASSERT_EQ(long_name.size(), 2U);
  EXPECT_EQ(long_name[0].reason, "length must be at most 40");
  EXPECT_EQ(long_name[1].reason, "number of items must be at most 2");
  EXPECT_EQ(validate_payload(w, obj(R"({"age": -1})"))[0].reason, "value must be at least 0");
  EXPECT_EQ(validate_payload(w, obj(R"({"age": 2.5})"))[0].reason, "must be an integer");
}

TEST(Fields, VisibilityAndEditabilityFollowRoles) {
  const auto w = make_workflow();
  const Actor caseworker{"asha", {"caseworker"}};
  const Actor counsellor{"meera", {"counsellor"}};
  const Field& notes = *w.find_field("notes");
  EXPECT_FALSE(field_visible(notes, caseworker));
  EXPECT_TRUE(field_visible(notes, counsellor));
  EXPECT_TRUE(field_visible(*w.find_field("age"), caseworker));
  EXPECT_EQ(uneditable_fields(w, caseworker, obj(R"({"age": 1, "notes": "x"})")),
            std::vector<std::string>{"notes"});
  EXPECT_TRUE(uneditable_fields(w, counsellor, obj(R"({"age": 1, "notes": "x"})")).empty());
}

TEST(Fields, MergeReportsOnlyRealChangesAndNullUnsets) {
  auto data = obj(R"({"age": 10, "home": "umang"})");
  const auto changed = merge_payload(data, obj(R"({"age": 10, "home": null, "cleared": true,
      "dob": null})"));
  EXPECT_EQ(changed, (std::vector<std::string>{"home", "cleared"}));
  EXPECT_EQ(data, obj(R"({"age": 10, "cleared": true})"));
}

}  // namespace
}  // namespace carepath
