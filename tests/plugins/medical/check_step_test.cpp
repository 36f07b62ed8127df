// medical.check through the linked plugin's C ABI.
#include <string>
#include <vector>

#include <carepath/plugin.hpp>
#include <gtest/gtest.h>

#include "tests/plugins/plugin_harness.hpp"

CP_PLUGIN_DECLARE_STATIC(medical);

namespace carepath::test {
namespace {

const cp_plugin* plugin() {
  return medical_carepath_plugin_entry_v1(&entry_host());
}

constexpr const char* kIntakeChecks =
    R"({"checks": ["general", "nutrition", "sti", "hiv", "pregnancy", "dental"]})";

TEST(CheckStep, ClearsWhenEveryCheckIsDone) {
  const auto step = StepUnderTest::make(plugin(), "medical.check", kIntakeChecks);
  const Answer answer = step.run(
      step_input({{"medical_checks_done", boost::json::array{"dental", "general", "hiv",
                                                             "nutrition", "pregnancy", "sti"}}}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json(), (boost::json::object{{"medical_checks_due", boost::json::array{}},
                                                {"medical_cleared", true},
                                                {"medical_follow_up_needed", false}}));
}

TEST(CheckStep, ListsEveryCheckAsDueInConfigOrderWhenNoneIsRecorded) {
  const auto step = StepUnderTest::make(plugin(), "medical.check", kIntakeChecks);
  const Answer answer = step.run(step_input({}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json().at("medical_checks_due"),
            (boost::json::array{"general", "nutrition", "sti", "hiv", "pregnancy", "dental"}));
  EXPECT_EQ(answer.json().at("medical_cleared"), false);
  EXPECT_EQ(answer.json().at("medical_follow_up_needed"), false);
}

TEST(CheckStep, ClearsOnTheConfiguredSubsetAndStillListsTheRestAsDue) {
  const auto step =
      StepUnderTest::make(plugin(), "medical.check",
                          R"({"checks": ["general", "hiv", "pregnancy", "dental", "vision"],
          "cleared_when_done": ["general", "hiv", "pregnancy"]})");
  const Answer answer = step.run(
      step_input({{"medical_checks_done", boost::json::array{"pregnancy", "general", "hiv"}}}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json().at("medical_checks_due"), (boost::json::array{"dental", "vision"}));
  EXPECT_EQ(answer.json().at("medical_cleared"), true);

  const Answer missing_one =
      step.run(step_input({{"medical_checks_done", boost::json::array{"general", "dental"}}}));
  EXPECT_EQ(missing_one.json().at("medical_cleared"), false);
}

TEST(CheckStep, FlagsAskForFollowUpButNeverWithholdClearance) {
  const auto step = StepUnderTest::make(plugin(), "medical.check", R"({"checks": ["general"]})");
  const Answer answer = step.run(step_input(
      {{"medical_checks_done", boost::json::array{"general"}},
       {"medical_flags", boost::json::array{"anaemia", boost::json::object{{"code", "x"}}}}}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json().at("medical_cleared"), true);
  EXPECT_EQ(answer.json().at("medical_follow_up_needed"), true);

  const Answer no_flags = step.run(step_input({{"medical_flags", boost::json::array{}}}));
  EXPECT_EQ(no_flags.json().at("medical_follow_up_needed"), false);
}

TEST(CheckStep, IgnoresDoneChecksItDoesNotRequire) {
  const auto step =
      StepUnderTest::make(plugin(), "medical.check", R"({"checks": ["vision", "dental"]})");
  const Answer answer =
      step.run(step_input({{"medical_checks_done", boost::json::array{"hiv", "x-ray", "vision"}}}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json().at("medical_checks_due"), (boost::json::array{"dental"}));
}

TEST(CheckStep, ARetryGivesTheSameAnswer) {
  const auto step = StepUnderTest::make(plugin(), "medical.check", kIntakeChecks);
  const std::string input =
      step_input({{"medical_checks_done", boost::json::array{"general", "sti"}}});
  EXPECT_EQ(step.run(input).output, step.run(input).output);
}

TEST(CheckStep, FailsOnFieldsOfTheWrongKindWithoutQuotingThem) {
  const auto step = StepUnderTest::make(plugin(), "medical.check", kIntakeChecks);
  const std::vector<std::pair<boost::json::object, const char*>> cases = {
      {{{"medical_checks_done", "general"}}, "medical_checks_done"},
      {{{"medical_checks_done", boost::json::array{"general", 7}}}, "medical_checks_done"},
      {{{"medical_checks_done", boost::json::object{{"general", true}}}}, "medical_checks_done"},
      {{{"medical_flags", "tb-suspected"}}, "medical_flags"},
      {{{"medical_flags", 3}}, "medical_flags"},
  };
  for (const auto& [data, field] : cases) {
    const Answer answer = step.run(step_input(data));
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << boost::json::serialize(data);
    EXPECT_NE(answer.error.find(field), std::string::npos) << answer.error;
    EXPECT_EQ(answer.error.find("tb-suspected"), std::string::npos) << answer.error;
  }
}

TEST(CheckStep, RefusesBadConfigWithAMessage) {
  struct Bad {
    const char* config;
    const char* mentions;
  };
  const std::vector<Bad> cases = {
      {"", "checks"},
      {"{}", "checks"},
      {R"({"checks": []})", "checks"},
      {R"({"checks": "general"})", "checks"},
      {R"({"checks": ["general", "general"]})", "checks"},
      {R"({"checks": ["general", "xray"]})", "checks"},
      {R"({"checks": ["general", 1]})", "checks"},
      {R"({"checks": ["general"], "cleared_when_done": ["dental"]})", "'dental'"},
      {R"({"checks": ["general"], "cleared_when_done": []})", "cleared_when_done"},
      {R"({"checks": ["general"], "rule": "all"})", "unknown key 'rule'"},
      {"[1]", "object"},
      {"{\"checks\": [", "JSON"},
  };
  for (const Bad& c : cases) {
    const auto created = StepUnderTest::create(plugin(), "medical.check", c.config);
    EXPECT_EQ(created.status, CP_STATUS_FAILED) << c.config;
    EXPECT_NE(created.error.find(c.mentions), std::string::npos)
        << c.config << " -> " << created.error;
  }
}

TEST(CheckStep, AcceptsEveryExamination) {
  EXPECT_EQ(StepUnderTest::create(plugin(), "medical.check",
                                  R"({"checks": ["general", "nutrition", "sti", "hiv", "pregnancy",
                                                 "dental", "vision", "mental_health",
                                                 "vaccination"]})")
                .status,
            CP_STATUS_OK);
}

TEST(CheckStep, AnswersFailedToGarbageInput) {
  const auto step = StepUnderTest::make(plugin(), "medical.check", kIntakeChecks);
  for (const std::string& input : garbage_inputs()) {
    const Answer answer = step.run(input);
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << input.substr(0, 40);
    EXPECT_FALSE(answer.error.empty());
  }
}

}  // namespace
}  // namespace carepath::test
