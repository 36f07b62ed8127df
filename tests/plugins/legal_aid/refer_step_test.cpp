// legal_aid.refer through the linked plugin's C ABI.
#include <chrono>
#include <cstddef>
#include <cstdio>
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

std::chrono::sys_days parse_day(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  EXPECT_EQ(std::sscanf(text.c_str(), "%4d-%2u-%2u", &year, &month, &day), 3) << text;
  return std::chrono::sys_days{std::chrono::year{year} / std::chrono::month{month} /
                               std::chrono::day{day}};
}

// The referral date is today (UTC); a run across midnight may see either day.
void expect_today(const std::string& date, std::chrono::sys_days before) {
  EXPECT_TRUE(date == format_day(before) || date == format_day(utc_today())) << date;
}

TEST(ReferStep, PendsWithConfirmationTaskByDefault) {
  const auto step = StepUnderTest::make(plugin(), "legal_aid.refer",
                                        R"({"provider": "dlsa", "office": "DLSA Kolkata"})");
  const auto before = utc_today();
  const Answer answer = step.run(step_input({}));

  ASSERT_EQ(answer.status, CP_STATUS_PENDING) << answer.error;
  const boost::json::object task = answer.json();
  EXPECT_EQ(task.at("title"), "Confirm legal-aid referral");
  EXPECT_EQ(task.at("provider"), "dlsa");
  EXPECT_EQ(task.at("office"), "DLSA Kolkata");
  // 64-bit FNV-1a of the default key, folded to 32 bits; pinned so that an upgrade can never
  // give a retried call a different number.
  EXPECT_EQ(task.at("referral_no"), "DLSA-4687175A");
  const std::string referral_date(task.at("referral_date").as_string());
  expect_today(referral_date, before);
  EXPECT_EQ(parse_day(std::string(task.at("due_date").as_string())) - parse_day(referral_date),
            std::chrono::days{30});
  EXPECT_TRUE(answer.error.empty());
}

TEST(ReferStep, TaskLeavesOutOfficeWhenNotConfigured) {
  const auto step = StepUnderTest::make(plugin(), "legal_aid.refer", R"({"provider": "slsa"})");
  const Answer answer = step.run(step_input({}));
  ASSERT_EQ(answer.status, CP_STATUS_PENDING) << answer.error;
  EXPECT_FALSE(answer.json().contains("office"));
  EXPECT_EQ(answer.json().at("referral_no"), "SLSA-4687175A");
}

TEST(ReferStep, ImmediateConfirmAnswersOkWithReferralFields) {
  const auto step =
      StepUnderTest::make(plugin(), "legal_aid.refer",
                          R"({"provider": "ngo_panel", "due_days": 7, "confirm": "immediate"})");
  FakeCall call;
  call.idempotency_key = "case-9c1e/transition-3/step-1";
  const auto before = utc_today();
  const Answer answer = step.run(step_input({}), call, fake_host());

  ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
  const boost::json::object fields = answer.json();
  EXPECT_EQ(fields.size(), 3U);
  EXPECT_EQ(fields.at("legal_referral_no"), "NGO-729B067A");
  const std::string referral_date(fields.at("legal_referral_date").as_string());
  expect_today(referral_date, before);
  EXPECT_EQ(parse_day(std::string(fields.at("legal_referral_due").as_string())) -
                parse_day(referral_date),
            std::chrono::days{7});
}

TEST(ReferStep, RetryOfTheSameCallKeepsTheReferralNumber) {
  const auto step = StepUnderTest::make(plugin(), "legal_aid.refer",
                                        R"({"provider": "dlsa", "confirm": "immediate"})");
  FakeCall first;
  first.idempotency_key = "case-0b77/transition-5/step-0";
  FakeCall retry = first;
  FakeCall other;
  other.idempotency_key = "case-0b77/transition-6/step-0";

  const Answer a = step.run(step_input({}), first, fake_host());
  const Answer b = step.run(step_input({}), retry, fake_host());
  const Answer c = step.run(step_input({}), other, fake_host());
  ASSERT_EQ(a.status, CP_STATUS_OK);
  ASSERT_EQ(b.status, CP_STATUS_OK);
  ASSERT_EQ(c.status, CP_STATUS_OK);
  EXPECT_EQ(a.json().at("legal_referral_no"), b.json().at("legal_referral_no"));
  EXPECT_NE(a.json().at("legal_referral_no"), c.json().at("legal_referral_no"));

  // Another instance (after a restart, say) gives the same number for the same call.
  const auto restarted = StepUnderTest::make(plugin(), "legal_aid.refer",
                                             R"({"provider": "dlsa", "confirm": "immediate"})");
  FakeCall after_restart = first;
  EXPECT_EQ(
      restarted.run(step_input({}), after_restart, fake_host()).json().at("legal_referral_no"),
      a.json().at("legal_referral_no"));
}

TEST(ReferStep, ReferralNumberHasPrefixAndEightHexDigits) {
  for (const char* key : {"a", "case-1/t-1/s-0", "ключ", "x/y/z/0123456789"}) {
    const auto step = StepUnderTest::make(plugin(), "legal_aid.refer",
                                          R"({"provider": "slsa", "confirm": "immediate"})");
    FakeCall call;
    call.idempotency_key = key;
    const Answer answer = step.run(step_input({}), call, fake_host());
    ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
    const std::string number(answer.json().at("legal_referral_no").as_string());
    ASSERT_EQ(number.size(), 13U) << number;
    EXPECT_EQ(number.substr(0, 5), "SLSA-");
    EXPECT_EQ(number.find_first_not_of("0123456789ABCDEF", 5), std::string::npos) << number;
  }
}

TEST(ReferStep, FailsWhenTheHostOffersNoIdempotencyKey) {
  const auto step = StepUnderTest::make(plugin(), "legal_aid.refer", R"({"provider": "dlsa"})");
  FakeCall call;
  const Answer answer = step.run(step_input({}), call, fake_host(/*with_key=*/false));
  EXPECT_EQ(answer.status, CP_STATUS_FAILED);
  EXPECT_NE(answer.error.find("idempotency key"), std::string::npos) << answer.error;
  EXPECT_TRUE(answer.output.empty());

  // An older host whose table ends before idempotency_key: the same answer, no crash.
  cp_host_api old_host = fake_host();
  old_host.struct_size = offsetof(cp_host_api, idempotency_key);
  EXPECT_EQ(step.run(step_input({}), call, old_host).status, CP_STATUS_FAILED);
}

TEST(ReferStep, LogsNoReferralNumber) {
  const auto step = StepUnderTest::make(plugin(), "legal_aid.refer", R"({"provider": "dlsa"})");
  FakeCall call;
  const Answer answer = step.run(step_input({}), call, fake_host());
  ASSERT_EQ(answer.status, CP_STATUS_PENDING);
  const std::string number(answer.json().at("referral_no").as_string());
  for (const std::string& line : call.log_lines) {
    EXPECT_EQ(line.find(number), std::string::npos) << line;
  }
}

struct BadConfig {
  const char* config;
  const char* mentions;  // part of the message
};

TEST(ReferStep, RefusesBadConfigWithAMessage) {
  const std::vector<BadConfig> cases = {
      {"", "provider"},
      {"{}", "provider"},
      {R"({"provider": "police"})", "provider"},
      {R"({"provider": 1})", "provider"},
      {R"({"provider": "dlsa", "due_days": 0})", "due_days"},
      {R"({"provider": "dlsa", "due_days": 366})", "due_days"},
      {R"({"provider": "dlsa", "due_days": "30"})", "due_days"},
      {R"({"provider": "dlsa", "due_days": 1.5})", "due_days"},
      {R"({"provider": "dlsa", "office": ""})", "office"},
      {R"({"provider": "dlsa", "confirm": "later"})", "confirm"},
      {R"({"provider": "dlsa", "provder": "dlsa"})", "provder"},
      {"not json", "JSON"},
      {"[]", "object"},
  };
  for (const BadConfig& c : cases) {
    const auto created = StepUnderTest::create(plugin(), "legal_aid.refer", c.config);
    EXPECT_EQ(created.status, CP_STATUS_FAILED) << c.config;
    EXPECT_FALSE(created.step.has_value()) << c.config;
    EXPECT_NE(created.error.find(c.mentions), std::string::npos)
        << c.config << " -> " << created.error;
  }
}

TEST(ReferStep, AcceptsEveryProviderAndDueDaysAtTheLimits) {
  for (const char* config :
       {R"({"provider": "dlsa"})", R"({"provider": "slsa", "due_days": 1})",
        R"({"provider": "ngo_panel", "due_days": 365, "confirm": "await_provider"})"}) {
    EXPECT_EQ(StepUnderTest::create(plugin(), "legal_aid.refer", config).status, CP_STATUS_OK)
        << config;
  }
}

TEST(ReferStep, AnswersFailedToGarbageInput) {
  const auto step = StepUnderTest::make(plugin(), "legal_aid.refer", R"({"provider": "dlsa"})");
  for (const std::string& input : garbage_inputs()) {
    const Answer answer = step.run(input);
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << input.substr(0, 40);
    EXPECT_FALSE(answer.error.empty());
  }
}

}  // namespace
}  // namespace carepath::test
