// vocational.assess_interest through the linked plugin's C ABI.
#include <string>
#include <vector>

#include <carepath/plugin.hpp>
#include <gtest/gtest.h>

#include "tests/plugins/plugin_harness.hpp"

CP_PLUGIN_DECLARE_STATIC(vocational);

namespace carepath::test {
namespace {

const cp_plugin* plugin() {
  return vocational_carepath_plugin_entry_v1(&entry_host());
}

StepUnderTest default_step() {
  return StepUnderTest::make(plugin(), "vocational.assess_interest", "{}");
}

struct Row {
  boost::json::object data;
  const char* track;
};

TEST(AssessInterestStep, ChoosesTheTrackByTheDocumentedRule) {
  // clang-format off
  const std::vector<Row> rows = {
      {{{"age", 15}, {"interests", {"sewing"}}},                                   "tailoring"},
      {{{"age", 16}, {"interests", {"  Beauty-Parlour "}}},                        "beautician"},
      {{{"age", 16}, {"interests", {"MEHENDI"}}},                                  "beautician"},
      {{{"age", 17}, {"education_level", "upper_primary"}, {"interests", {"computers"}}},
                                                                                   "computer_basics"},
      {{{"age", 17}, {"education_level", "graduate"}, {"interests", {"data entry"}}},
                                                                                   "computer_basics"},
      // computer_basics needs class 6: the next interest wins, or `other`.
      {{{"age", 17}, {"education_level", "primary"}, {"interests", {"computer", "cooking"}}},
                                                                                   "hospitality"},
      {{{"age", 17}, {"interests", {"typing"}}},                                   "other"},
      {{{"age", 17}, {"education_level", "none"}, {"interests", {"shop"}}},        "other"},
      {{{"age", 18}, {"education_level", "secondary"}, {"interests", {"sales"}}},  "retail"},
      {{{"age", 14}, {"interests", {"Baking"}}},                                   "bakery"},
      // The first interest that fits wins.
      {{{"age", 15}, {"interests", {"bakery", "sewing"}}},                         "bakery"},
      {{{"age", 15}, {"interests", {"dance", "sewing"}}},                          "tailoring"},
      {{{"age", 15}, {"interests", {"dance", "football"}}},                        "other"},
      {{{"age", 15}, {"interests", boost::json::array{}}},                         "other"},
      {{{"age", 15}},                                                              "other"},
      {{{"age", 15}, {"interests", {"সেলাই"}}},                                    "other"},
  };
  // clang-format on
  const auto step = default_step();
  for (const Row& row : rows) {
    const Answer answer = step.run(step_input(row.data));
    ASSERT_EQ(answer.status, CP_STATUS_OK) << boost::json::serialize(row.data) << answer.error;
    EXPECT_EQ(answer.json(),
              (boost::json::object{{"vocational_track", row.track}, {"vocational_assessed", true}}))
        << boost::json::serialize(row.data);
  }
}

TEST(AssessInterestStep, VetoesBelowTheMinimumAge) {
  const Answer young = default_step().run(step_input({{"age", 13}, {"interests", {"sewing"}}}));
  EXPECT_EQ(young.status, CP_STATUS_VETO);
  EXPECT_NE(young.error.find("minimum age"), std::string::npos) << young.error;
  EXPECT_NE(young.error.find("14"), std::string::npos) << young.error;
  EXPECT_EQ(young.error.find("13"), std::string::npos) << "a field value in: " << young.error;
  EXPECT_TRUE(young.output.empty());

  const auto older =
      StepUnderTest::make(plugin(), "vocational.assess_interest", R"({"min_age": 16})");
  EXPECT_EQ(older.run(step_input({{"age", 15}})).status, CP_STATUS_VETO);
  EXPECT_EQ(older.run(step_input({{"age", 16}})).status, CP_STATUS_OK);
  EXPECT_EQ(default_step().run(step_input({{"age", 14}})).status, CP_STATUS_OK);
}

TEST(AssessInterestStep, VetoesWhenAgeIsUnset) {
  const Answer answer = default_step().run(step_input({{"interests", {"sewing"}}}));
  EXPECT_EQ(answer.status, CP_STATUS_VETO);
  EXPECT_NE(answer.error.find("'age'"), std::string::npos) << answer.error;
}

TEST(AssessInterestStep, FailsOnFieldsOfTheWrongKindWithoutQuotingThem) {
  const std::vector<std::pair<boost::json::object, const char*>> cases = {
      {{{"age", "fifteen"}}, "age"},
      {{{"age", 15.5}}, "age"},
      {{{"age", 15}, {"education_level", "class_seven"}}, "education_level"},
      {{{"age", 15}, {"education_level", 7}}, "education_level"},
      {{{"age", 15}, {"interests", "sewing"}}, "interests"},
      {{{"age", 15}, {"interests", {"sewing", 2}}}, "interests"},
  };
  const auto step = default_step();
  for (const auto& [data, field] : cases) {
    const Answer answer = step.run(step_input(data));
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << boost::json::serialize(data);
    EXPECT_NE(answer.error.find(field), std::string::npos) << answer.error;
    for (const char* value : {"fifteen", "15.5", "class_seven", "sewing"}) {
      EXPECT_EQ(answer.error.find(value), std::string::npos) << answer.error;
    }
  }
}

TEST(AssessInterestStep, RefusesBadConfigWithAMessage) {
  for (const char* config : {R"({"min_age": -1})", R"({"min_age": 26})", R"({"min_age": "14"})",
                             R"({"min_age": 14.5})", R"({"minimum_age": 14})", "[]", "nope"}) {
    const auto created = StepUnderTest::create(plugin(), "vocational.assess_interest", config);
    EXPECT_EQ(created.status, CP_STATUS_FAILED) << config;
    EXPECT_FALSE(created.error.empty()) << config;
  }
  const auto created =
      StepUnderTest::create(plugin(), "vocational.assess_interest", R"({"min_age": 99})");
  EXPECT_NE(created.error.find("min_age"), std::string::npos) << created.error;
}

TEST(AssessInterestStep, AcceptsAnEmptyConfig) {
  for (const char* config : {"", "{}", "null", R"({"min_age": 0})", R"({"min_age": 25})"}) {
    EXPECT_EQ(StepUnderTest::create(plugin(), "vocational.assess_interest", config).status,
              CP_STATUS_OK)
        << config;
  }
}

TEST(AssessInterestStep, AnswersFailedToGarbageInput) {
  const auto step = default_step();
  for (const std::string& input : garbage_inputs()) {
    const Answer answer = step.run(input);
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << input.substr(0, 40);
    EXPECT_FALSE(answer.error.empty());
  }
}

}  // namespace
}  // namespace carepath::test
