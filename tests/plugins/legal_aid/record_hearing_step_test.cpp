// legal_aid.record_hearing through the linked plugin's C ABI.
#include <chrono>
#include <string>
#include <vector>

#include <carepath/plugin.hpp>
#include <gtest/gtest.h>

#include "tests/plugins/plugin_harness.hpp"

CP_PLUGIN_DECLARE_STATIC(legal_aid);

namespace carepath::test {
namespace {

const cp_plugin* plugin() {
  return legal_aid_carepath_plugin_entry_v1(&entry_host());
}

StepUnderTest make_step(const char* court) {
  return StepUnderTest::make(plugin(), "legal_aid.record_hearing",
                             std::string(R"({"court": ")") + court + "\"}");
}

std::string in_days(int days) {
  return format_day(utc_today() + std::chrono::days{days});
}

TEST(RecordHearingStep, CountsTheFirstHearingWhenNoneWasRecorded) {
  const Answer answer = make_step("cwc").run(step_input({}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json(),
            (boost::json::object{{"last_hearing_court", "cwc"}, {"hearing_count", 1}}));
}

TEST(RecordHearingStep, AddsOneToTheCountAndNotesTheCourt) {
  const Answer answer =
      make_step("sessions_court")
          .run(step_input({{"hearing_count", 4}, {"next_hearing_date", in_days(21)}}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json().at("last_hearing_court"), "sessions_court");
  EXPECT_EQ(answer.json().at("hearing_count"), 5);
}

TEST(RecordHearingStep, ARetryOfTheSameCallGivesTheSameCount) {
  // The count comes from the case, not from the step, so a retry cannot count twice.
  const auto step = make_step("jjb");
  const std::string input = step_input({{"hearing_count", 2}});
  const Answer first = step.run(input);
  const Answer retry = step.run(input);
  ASSERT_EQ(first.status, CP_STATUS_OK);
  EXPECT_EQ(first.output, retry.output);
}

TEST(RecordHearingStep, AcceptsNextHearingToday) {
  const Answer answer =
      make_step("high_court").run(step_input({{"next_hearing_date", in_days(0)}}));
  EXPECT_EQ(answer.status, CP_STATUS_OK) << answer.error;
}

TEST(RecordHearingStep, AcceptsAnUnsetNextHearingDate) {
  // A matter's last hearing (judgment, disposal, the CWC's final order) fixes no next date.
  const Answer answer = make_step("cwc").run(step_input({{"hearing_count", 9}}));
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json().at("hearing_count"), 10);
}

TEST(RecordHearingStep, VetoesANextHearingDateInThePast) {
  for (const std::string& date : {std::string("2020-01-15"), in_days(-2)}) {
    const Answer answer =
        make_step("cwc").run(step_input({{"hearing_count", 1}, {"next_hearing_date", date}}));
    EXPECT_EQ(answer.status, CP_STATUS_VETO) << date;
    EXPECT_NE(answer.error.find("next_hearing_date"), std::string::npos) << answer.error;
    EXPECT_EQ(answer.error.find(date), std::string::npos) << "a field value in: " << answer.error;
    EXPECT_TRUE(answer.output.empty());
  }
}

TEST(RecordHearingStep, AcceptsACountWrittenAsAWholeFraction) {
  const Answer answer = make_step("cwc").run(R"({"data": {"hearing_count": 3.0}})");
  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  EXPECT_EQ(answer.json().at("hearing_count"), 4);
}

TEST(RecordHearingStep, FailsOnFieldsOfTheWrongKindNamingTheFieldOnly) {
  struct Bad {
    boost::json::object data;
    const char* field;
    const char* value_text;  // must not appear in the message
  };
  const std::vector<Bad> cases = {
      {{{"hearing_count", "three"}}, "hearing_count", "three"},
      {{{"hearing_count", -1}}, "hearing_count", "-1"},
      {{{"hearing_count", 2.5}}, "hearing_count", "2.5"},
      {{{"hearing_count", true}}, "hearing_count", "true"},
      {{{"hearing_count", boost::json::array{1}}}, "hearing_count", "[1]"},
      {{{"hearing_count", 9223372036854775807LL}}, "hearing_count", "9223372036854775807"},
      {{{"hearing_count", 18446744073709551615ULL}}, "hearing_count", "18446744073709551615"},
      {{{"next_hearing_date", "15/01/2027"}}, "next_hearing_date", "15/01/2027"},
      {{{"next_hearing_date", "2027-02-30"}}, "next_hearing_date", "2027-02-30"},
      {{{"next_hearing_date", "2027-1-5"}}, "next_hearing_date", "2027-1-5"},
      {{{"next_hearing_date", 20270115}}, "next_hearing_date", "20270115"},
  };
  const auto step = make_step("cwc");
  for (const Bad& c : cases) {
    const Answer answer = step.run(step_input(c.data));
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << boost::json::serialize(c.data);
    EXPECT_NE(answer.error.find(c.field), std::string::npos) << answer.error;
    EXPECT_EQ(answer.error.find(c.value_text), std::string::npos) << answer.error;
  }
}

TEST(RecordHearingStep, RefusesBadConfigWithAMessage) {
  for (const char* config : {"", "{}", R"({"court": "supreme_court"})", R"({"court": 3})",
                             R"({"court": "cwc", "judge": "x"})", "[\"cwc\"]", "{"}) {
    const auto created = StepUnderTest::create(plugin(), "legal_aid.record_hearing", config);
    EXPECT_EQ(created.status, CP_STATUS_FAILED) << config;
    EXPECT_FALSE(created.error.empty()) << config;
  }
  const auto unknown = StepUnderTest::create(plugin(), "legal_aid.record_hearing",
                                             R"({"court": "cwc", "judge": 1})");
  EXPECT_NE(unknown.error.find("unknown key 'judge'"), std::string::npos) << unknown.error;
  const auto wrong =
      StepUnderTest::create(plugin(), "legal_aid.record_hearing", R"({"court": "x"})");
  EXPECT_NE(wrong.error.find("cwc, jjb, sessions_court, high_court"), std::string::npos)
      << wrong.error;
}

TEST(RecordHearingStep, AnswersFailedToGarbageInput) {
  const auto step = make_step("jjb");
  for (const std::string& input : garbage_inputs()) {
    const Answer answer = step.run(input);
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << input.substr(0, 40);
    EXPECT_FALSE(answer.error.empty());
  }
}

}  // namespace
}  // namespace carepath::test
