// vocational.place through the linked plugin's C ABI.
#include <atomic>
#include <string>
#include <thread>
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

// Invented partners.
constexpr const char* kPartners = R"({"partners": [
  {"name": "Sewing Circle Howrah", "course": "tailoring", "capacity": 2},
  {"name": "Byte Sisters Kolkata", "course": "computer_basics", "capacity": 1},
  {"name": "Needlework Trust Sealdah", "course": "tailoring", "capacity": 1}
]})";

Answer place(const StepUnderTest& step, const std::string& key, const char* track) {
  FakeCall call;
  call.idempotency_key = key;
  return step.run(step_input({{"vocational_track", track}}), call, fake_host());
}

TEST(PlaceStep, FillsPartnersInConfigOrderThenVetoes) {
  const auto step = StepUnderTest::make(plugin(), "vocational.place", kPartners);
  const std::vector<std::string> expected = {"Sewing Circle Howrah", "Sewing Circle Howrah",
                                             "Needlework Trust Sealdah"};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Answer answer = place(step, "call-" + std::to_string(i), "tailoring");
    ASSERT_EQ(answer.status, CP_STATUS_OK) << answer.error;
    EXPECT_EQ(answer.json(), (boost::json::object{{"vocational_partner", expected[i]},
                                                  {"vocational_course", "tailoring"},
                                                  {"vocational_placed", true}}));
  }
  const Answer full = place(step, "call-3", "tailoring");
  EXPECT_EQ(full.status, CP_STATUS_VETO);
  EXPECT_NE(full.error.find("full"), std::string::npos) << full.error;
  EXPECT_NE(full.error.find("3 places"), std::string::npos) << full.error;
  EXPECT_NE(full.error.find("'vocational_track'"), std::string::npos) << full.error;
  EXPECT_EQ(full.error.find("tailoring"), std::string::npos) << "a field value in: " << full.error;
  EXPECT_TRUE(full.output.empty());

  // Other courses keep their own places.
  EXPECT_EQ(place(step, "call-4", "computer_basics").status, CP_STATUS_OK);
  EXPECT_EQ(place(step, "call-5", "computer_basics").status, CP_STATUS_VETO);
}

TEST(PlaceStep, ARetryOfTheSameCallKeepsItsPlaceAndIsNotCountedTwice) {
  const auto step = StepUnderTest::make(
      plugin(), "vocational.place",
      R"({"partners": [{"name": "Sugar Bakers Dadar", "course": "bakery", "capacity": 1}]})");
  const Answer first = place(step, "case-1/t-4/s-0", "bakery");
  const Answer retry = place(step, "case-1/t-4/s-0", "bakery");
  ASSERT_EQ(first.status, CP_STATUS_OK) << first.error;
  ASSERT_EQ(retry.status, CP_STATUS_OK) << retry.error;
  EXPECT_EQ(first.output, retry.output);

  EXPECT_EQ(place(step, "case-2/t-9/s-0", "bakery").status, CP_STATUS_VETO);
  // Still the same answer for the first call once the course is full.
  EXPECT_EQ(place(step, "case-1/t-4/s-0", "bakery").output, first.output);
}

TEST(PlaceStep, CountsPerInstance) {
  // Counts live in memory: a new instance (engine restart, workflow reload) starts from zero.
  const char* config =
      R"({"partners": [{"name": "Sugar Bakers Dadar", "course": "bakery", "capacity": 1}]})";
  const auto first = StepUnderTest::make(plugin(), "vocational.place", config);
  const auto second = StepUnderTest::make(plugin(), "vocational.place", config);
  EXPECT_EQ(place(first, "a", "bakery").status, CP_STATUS_OK);
  EXPECT_EQ(place(first, "b", "bakery").status, CP_STATUS_VETO);
  EXPECT_EQ(place(second, "b", "bakery").status, CP_STATUS_OK);
}

TEST(PlaceStep, VetoesWhenNoPartnerRunsTheCourse) {
  const auto step = StepUnderTest::make(plugin(), "vocational.place", kPartners);
  const Answer answer = place(step, "k", "hospitality");
  EXPECT_EQ(answer.status, CP_STATUS_VETO);
  EXPECT_NE(answer.error.find("no training partner"), std::string::npos) << answer.error;
  EXPECT_EQ(answer.error.find("hospitality"), std::string::npos) << answer.error;
}

TEST(PlaceStep, VetoesWhenTheTrackIsUnset) {
  const auto step = StepUnderTest::make(plugin(), "vocational.place", kPartners);
  const Answer answer = step.run(step_input({}));
  EXPECT_EQ(answer.status, CP_STATUS_VETO);
  EXPECT_NE(answer.error.find("'vocational_track' is not set"), std::string::npos) << answer.error;
}

TEST(PlaceStep, FailsOnATrackOfTheWrongKind) {
  const auto step = StepUnderTest::make(plugin(), "vocational.place", kPartners);
  for (const boost::json::value& track :
       {boost::json::value("astronaut"), boost::json::value(3), boost::json::value(true)}) {
    const Answer answer = step.run(step_input({{"vocational_track", track}}));
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << boost::json::serialize(track);
    EXPECT_NE(answer.error.find("vocational_track"), std::string::npos) << answer.error;
    EXPECT_EQ(answer.error.find("astronaut"), std::string::npos) << answer.error;
  }
}

TEST(PlaceStep, FailsWhenTheHostOffersNoIdempotencyKey) {
  const auto step = StepUnderTest::make(plugin(), "vocational.place", kPartners);
  FakeCall call;
  const Answer answer =
      step.run(step_input({{"vocational_track", "tailoring"}}), call, fake_host(false));
  EXPECT_EQ(answer.status, CP_STATUS_FAILED);
  EXPECT_NE(answer.error.find("idempotency key"), std::string::npos) << answer.error;
  // The failed call took no place.
  EXPECT_EQ(place(step, "a", "tailoring").json().at("vocational_partner"), "Sewing Circle Howrah");
  EXPECT_EQ(place(step, "b", "tailoring").json().at("vocational_partner"), "Sewing Circle Howrah");
}

TEST(PlaceStep, NeverOverfillsUnderConcurrentCalls) {
  const auto step = StepUnderTest::make(
      plugin(), "vocational.place",
      R"({"partners": [{"name": "Stitch Collective", "course": "tailoring", "capacity": 40},
                       {"name": "Thread Works", "course": "tailoring", "capacity": 60}]})");
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 50;
  std::atomic<int> placed{0};
  std::atomic<int> vetoed{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        // Every call is made twice (a retry racing its first attempt): the retry must not count.
        const std::string key = "t" + std::to_string(t) + "-c" + std::to_string(i);
        const Answer first = place(step, key, "tailoring");
        const Answer retry = place(step, key, "tailoring");
        EXPECT_EQ(first.status, retry.status);
        EXPECT_EQ(first.output, retry.output);
        (first.status == CP_STATUS_OK ? placed : vetoed)++;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(placed.load(), 100);
  EXPECT_EQ(vetoed.load(), kThreads * kCallsPerThread - 100);
}

TEST(PlaceStep, RefusesBadConfigWithAMessage) {
  struct Bad {
    const char* config;
    const char* mentions;
  };
  const std::vector<Bad> cases = {
      {"{}", "partners"},
      {R"({"partners": []})", "partners"},
      {R"({"partners": {"name": "A", "course": "bakery", "capacity": 1}})", "partners"},
      {R"({"partners": [{"name": "A", "course": "bakery", "capacity": 0}]})",
       "partners[0].capacity"},
      {R"({"partners": [{"name": "A", "course": "bakery", "capacity": 1001}]})", "capacity"},
      {R"({"partners": [{"name": "A", "course": "bakery", "capacity": "10"}]})", "capacity"},
      {R"({"partners": [{"name": "A", "course": "bakery"}]})", "capacity"},
      {R"({"partners": [{"name": "A", "course": "yoga", "capacity": 1}]})", "partners[0].course"},
      {R"({"partners": [{"name": "", "course": "bakery", "capacity": 1}]})", "partners[0].name"},
      {R"({"partners": [{"course": "bakery", "capacity": 1}]})", "name"},
      {R"({"partners": [{"name": "A", "course": "bakery", "capacity": 1, "city": "Pune"}]})",
       "unknown key 'city'"},
      {R"({"partners": [{"name": "A", "course": "bakery", "capacity": 1},
                        {"name": "A", "course": "bakery", "capacity": 2}]})",
       "listed twice"},
      {R"({"partners": [7]})", "partners[0]"},
      {R"({"partner": []})", "unknown key 'partner'"},
      {"x", "JSON"},
  };
  for (const Bad& c : cases) {
    const auto created = StepUnderTest::create(plugin(), "vocational.place", c.config);
    EXPECT_EQ(created.status, CP_STATUS_FAILED) << c.config;
    EXPECT_NE(created.error.find(c.mentions), std::string::npos)
        << c.config << " -> " << created.error;
  }
  // The same partner may run two courses.
  EXPECT_EQ(StepUnderTest::create(plugin(), "vocational.place",
                                  R"({"partners": [{"name": "A", "course": "bakery", "capacity": 1},
                                                   {"name": "A", "course": "retail", "capacity": 1}]})")
                .status,
            CP_STATUS_OK);
}

TEST(PlaceStep, AnswersFailedToGarbageInput) {
  const auto step = StepUnderTest::make(plugin(), "vocational.place", kPartners);
  for (const std::string& input : garbage_inputs()) {
    const Answer answer = step.run(input);
    EXPECT_EQ(answer.status, CP_STATUS_FAILED) << input.substr(0, 40);
    EXPECT_FALSE(answer.error.empty());
  }
}

}  // namespace
}  // namespace carepath::test
