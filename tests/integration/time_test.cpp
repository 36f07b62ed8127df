// Statutory clocks and timers end to end: the `carepath` binary serving the shipped aftercare
// workflow on a test clock, spoken to over HTTP, restarted, and run twice on one database.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

// 2026-11-22 10:00 in Kolkata.
constexpr const char* kStart = "2026-11-22T04:30:00Z";

class ClocksOverHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [user, roles] : std::vector<std::pair<std::string, std::string>>{
             {"asha", "caseworker"}, {"ravi", "supervisor"}, {"ops", "admin"}}) {
      const auto created = test::run_carepath(
          {"token", "create", "--user", user, "--roles", roles, "--db", db()}, dir_);
      ASSERT_EQ(created.exit_code, 0) << created.err;
      tokens_[user] = created.out.substr(0, created.out.find('\n'));
    }
    start();
  }

  std::string db() const { return (dir_ / "carepath.db").string(); }

  std::vector<std::string> serve_args() const {
    return {"--db",         db(),
            "--workflows",  test::source_path("workflows").string(),
            "--plugins",    test::plugin_build_dir(),
            "--test-clock", kStart};
  }

  void start() {
    server_ = std::make_unique<test::ServerProcess>(serve_args(), test::listen_port());
  }

  test::HttpResponse call(std::uint16_t port, const std::string& user, const std::string& method,
                          const std::string& target, const std::string& body = {},
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Authorization", "Bearer " + tokens_.at(user));
    return test::http_request(port, method, target, body, headers);
  }
  test::HttpResponse call(const std::string& user, const std::string& method,
                          const std::string& target, const std::string& body = {},
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    return call(server_->port(), user, method, target, body, std::move(headers));
  }

  std::string open_case() {
    const auto opened =
        call("asha", "POST", "/v1/cases", R"({"workflow": "aftercare", "data": {"age": 14}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    return std::string(opened.json().at("id").as_string());
  }

  void fire(const std::string& id, const std::string& event, const std::string& data = "{}",
            const std::string& user = "asha") {
    const auto fired = call(user, "POST", "/v1/cases/" + id + "/events",
                            R"({"event": ")" + event + R"(", "data": )" + data + "}");
    EXPECT_EQ(fired.status, 200) << event << ": " << fired.body;
  }

  void advance(const std::string& span, std::uint16_t port = 0) {
    const auto moved = call(port != 0 ? port : server_->port(), "ops", "POST", "/v1/admin/clock",
                            R"({"advance": ")" + span + R"("})");
    ASSERT_EQ(moved.status, 200) << moved.body;
  }

  boost::json::object clock(const std::string& id, const std::string& name) {
    const auto clocks = call("ravi", "GET", "/v1/cases/" + id + "/clocks");
    EXPECT_EQ(clocks.status, 200) << clocks.body;
    const auto body = clocks.json();
    for (const auto& c : body.at("items").as_array()) {
      if (c.at("name") == name.c_str()) {
        return c.as_object();
      }
    }
    ADD_FAILURE() << "no clock " << name << " in " << clocks.body;
    return {};
  }

  std::vector<boost::json::object> history(std::uint16_t port, const std::string& id) {
    const auto page = call(port, "ravi", "GET", "/v1/cases/" + id + "/events?limit=500");
    EXPECT_EQ(page.status, 200) << page.body;
    std::vector<boost::json::object> out;
    const auto body = page.json();
    for (const auto& e : body.at("items").as_array()) {
      out.push_back(e.as_object());
    }
    return out;
  }

  // Polls (the scheduler runs on its own thread) until `event` appears `count` times.
  bool wait_for_event(std::uint16_t port, const std::string& id, const std::string& event,
                      std::size_t count) {
    for (int i = 0; i < 200; ++i) {
      const auto entries = history(port, id);
      const auto n = static_cast<std::size_t>(std::count_if(
          entries.begin(), entries.end(),
          [&](const boost::json::object& e) { return e.at("event") == event.c_str(); }));
      if (n >= count) {
        return n == count;
      }
      ::usleep(50'000);
    }
    return false;
  }

  test::TempDir dir_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<test::ServerProcess> server_;
};

TEST_F(ClocksOverHttp, ProducedAfter26HoursWithThreeHoursOfJourneyIsNotBreached) {
  const auto id = open_case();
  EXPECT_EQ(clock(id, "cwc_production").at("state"), "running");
  advance("20h");
  fire(id, "journey_started");
  EXPECT_EQ(clock(id, "cwc_production").at("state"), "paused");
  advance("3h");
  fire(id, "journey_ended");
  advance("3h");
  fire(id, "produced_before_cwc", R"({"cwc_order_no": "CWC/KOL/7/2026"})");
  const auto production = clock(id, "cwc_production");
  EXPECT_EQ(production.at("state"), "met") << boost::json::serialize(production);
  EXPECT_EQ(production.at("excluded_ms"), 3 * 3'600'000);
  EXPECT_EQ(production.at("due"), "2026-11-23T07:30:00.000Z");
  // Production starts the 15-day, 4-month and one-month clocks.
  EXPECT_EQ(clock(id, "social_investigation").at("state"), "running");
  EXPECT_EQ(clock(id, "final_order").at("due"), "2027-03-23T06:30:00.000Z");
  const auto breached = call("ravi", "GET", "/v1/clocks?state=breached");
  ASSERT_EQ(breached.status, 200) << breached.body;
  EXPECT_TRUE(breached.json().at("items").as_array().empty()) << breached.body;
}

TEST_F(ClocksOverHttp, ProducedAfter25HoursWithNoJourneyIsBreachedAndEscalated) {
  const auto id = open_case();
  advance("25h");
  // The breach fires its event through the pipeline: the supervisor holds the case now.
  ASSERT_TRUE(wait_for_event(server_->port(), id, "cwc_production_breached", 1)) << server_->log();
  const auto entries = history(server_->port(), id);
  const auto breach = std::find_if(entries.begin(), entries.end(), [](const auto& e) {
    return e.at("event") == "cwc_production_breached";
  });
  ASSERT_NE(breach, entries.end());
  EXPECT_EQ(breach->at("actor"), "system");
  EXPECT_EQ(breach->at("trigger").at("late_ms"), 3'600'000);
  EXPECT_EQ(breach->at("trigger").at("notify"), (boost::json::array{"supervisor"}));
  const auto got = call("ravi", "GET", "/v1/cases/" + id);
  EXPECT_EQ(got.json().at("data").at("assigned_to"), "role:supervisor") << got.body;

  fire(id, "produced_before_cwc", R"({"cwc_order_no": "CWC/KOL/8/2026"})");
  const auto production = clock(id, "cwc_production");
  EXPECT_EQ(production.at("state"), "breached");
  EXPECT_EQ(production.at("breached_at"), "2026-11-23T04:30:00.000Z");

  const auto breached = call("ravi", "GET", "/v1/clocks?state=breached");
  ASSERT_EQ(breached.status, 200) << breached.body;
  const auto breached_body = breached.json();
  const auto& items = breached_body.at("items").as_array();
  ASSERT_EQ(items.size(), 1U) << breached.body;
  EXPECT_EQ(items[0].at("case_id"), id.c_str());
  EXPECT_EQ(items[0].at("name"), "cwc_production");

  // The schedule sheet: scheduled against actual, as JSON and as CSV.
  const auto sheet = call("ravi", "GET", "/v1/cases/" + id + "/schedule");
  ASSERT_EQ(sheet.status, 200) << sheet.body;
  const auto sheet_body = sheet.json();
  const auto& rows = sheet_body.at("items").as_array();
  const auto row = std::find_if(rows.begin(), rows.end(),
                                [](const auto& r) { return r.at("name") == "cwc_production"; });
  ASSERT_NE(row, rows.end()) << sheet.body;
  EXPECT_EQ(row->at("due"), "2026-11-23T04:30:00.000Z");
  EXPECT_EQ(row->at("actual"), "2026-11-23T05:30:00.000Z");
  EXPECT_EQ(row->at("late"), "1h");
  const auto csv =
      call("ravi", "GET", "/v1/cases/" + id + "/schedule", {}, {{"Accept", "text/csv"}});
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.rfind("kind,name,title,due,actual,status,late,note\r\n", 0), 0U) << csv.body;
  EXPECT_NE(csv.body.find("clock,cwc_production,"), std::string::npos) << csv.body;
  EXPECT_NE(csv.body.find(",2026-11-23T04:30:00.000Z,2026-11-23T05:30:00.000Z,breached,1h,"),
            std::string::npos)
      << csv.body;
}

TEST_F(ClocksOverHttp, OverdueCasesAndWarningsAreTheMorningWorkList) {
  const auto late = open_case();
  advance("19h");
  const auto fresh = open_case();
  const auto warnings = call("ravi", "GET", "/v1/clocks?state=warning");
  ASSERT_EQ(warnings.status, 200) << warnings.body;
  ASSERT_EQ(warnings.json().at("items").as_array().size(), 1U) << warnings.body;
  EXPECT_EQ(warnings.json().at("items").at(0).at("case_id"), late.c_str());
  advance("6h");
  const auto overdue = call("ravi", "GET", "/v1/cases?overdue=true");
  ASSERT_EQ(overdue.status, 200) << overdue.body;
  const auto overdue_body = overdue.json();
  const auto& items = overdue_body.at("items").as_array();
  ASSERT_EQ(items.size(), 1U) << overdue.body;
  EXPECT_EQ(items[0].at("id"), late.c_str());
  const auto all = call("ravi", "GET", "/v1/cases?overdue=false");
  EXPECT_EQ(all.json().at("items").as_array().size(), 2U);
  (void)fresh;
}

TEST_F(ClocksOverHttp, BadRequestsGetProblemsThatSayHowToFixThem) {
  const auto id = open_case();
  const auto no_state = call("ravi", "GET", "/v1/clocks");
  EXPECT_EQ(no_state.status, 400);
  EXPECT_EQ(no_state.header("content-type"), "application/problem+json");
  const auto bad_state = call("ravi", "GET", "/v1/clocks?state=late");
  EXPECT_EQ(bad_state.status, 400);
  EXPECT_NE(bad_state.body.find("breached or warning"), std::string::npos) << bad_state.body;
  EXPECT_EQ(call("ravi", "GET", "/v1/cases?overdue=maybe").status, 400);

  // Extending needs a reason and a duration, and the supervisor's role.
  const auto no_reason =
      call("ravi", "POST", "/v1/cases/" + id + "/clocks/cwc_production/extend", R"({"by": "12h"})");
  EXPECT_EQ(no_reason.status, 422) << no_reason.body;
  EXPECT_EQ(no_reason.json().at("missing_fields"), (boost::json::array{"reason"}));
  const auto caseworker = call("asha", "POST", "/v1/cases/" + id + "/clocks/cwc_production/extend",
                               R"({"by": "12h", "reason": "no sitting on Sunday"})");
  EXPECT_EQ(caseworker.status, 403) << caseworker.body;
  const auto unknown = call("ravi", "POST", "/v1/cases/" + id + "/clocks/cwc/extend",
                            R"({"by": "12h", "reason": "no sitting on Sunday"})");
  EXPECT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_TRUE(unknown.json().as_object().contains("known_clocks")) << unknown.body;
  const auto extended = call("ravi", "POST", "/v1/cases/" + id + "/clocks/cwc_production/extend",
                             R"({"by": "12h", "reason": "no sitting on Sunday"})");
  EXPECT_EQ(extended.status, 200) << extended.body;
  EXPECT_EQ(clock(id, "cwc_production").at("due"), "2026-11-23T16:30:00.000Z");
  // The same through the events endpoint, with the event the issue names.
  fire(id, "clock_extended", R"({"clock": "cwc_production", "reason": "holiday", "by": "1d"})",
       "ravi");
  EXPECT_EQ(clock(id, "cwc_production").at("due"), "2026-11-24T16:30:00.000Z");
  const auto entries = history(server_->port(), id);
  EXPECT_EQ(entries.back().at("event"), "clock_extended");
  EXPECT_EQ(entries.back().at("clock").at("reason"), "holiday");

  // Only an admin moves the test clock, and only forward.
  EXPECT_EQ(call("ravi", "POST", "/v1/admin/clock", R"({"advance": "1h"})").status, 403);
  EXPECT_EQ(call("ops", "POST", "/v1/admin/clock", R"({"set": "2020-01-01T00:00:00Z"})").status,
            422);
  EXPECT_EQ(call("ops", "POST", "/v1/admin/clock", R"({"advance": "soon"})").status, 422);
}

TEST_F(ClocksOverHttp, ARestartFiresWhatFellDueWhileDownExactlyOnce) {
  const auto id = open_case();
  server_->stop();
  // Down for two days of the test clock: the new process starts two days later.
  server_.reset();
  std::vector<std::string> args = serve_args();
  args.back() = "2026-11-24T04:30:00Z";
  server_ = std::make_unique<test::ServerProcess>(args);
  ASSERT_TRUE(wait_for_event(server_->port(), id, "cwc_production_breached", 1)) << server_->log();
  const auto entries = history(server_->port(), id);
  const auto breach = std::find_if(entries.begin(), entries.end(), [](const auto& e) {
    return e.at("event") == "cwc_production_breached";
  });
  ASSERT_NE(breach, entries.end());
  EXPECT_EQ(breach->at("trigger").at("late_ms"), 24 * 3'600'000) << boost::json::serialize(*breach);
  // Nothing fires twice, however long it keeps running.
  advance("1h");
  EXPECT_TRUE(wait_for_event(server_->port(), id, "cwc_production_breached", 1));
}

TEST_F(ClocksOverHttp, TwoEnginesOnOneDatabaseFireEachTimerOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    ids.push_back(open_case());
  }
  test::ServerProcess second(serve_args());
  // Both engines' clocks pass the 24-hour deadline at about the same moment.
  advance("25h");
  advance("25h", second.port());
  for (const auto& id : ids) {
    EXPECT_TRUE(wait_for_event(server_->port(), id, "cwc_production_breached", 1)) << id;
  }
  // Give a late duplicate every chance to appear before counting again.
  advance("1h");
  advance("1h", second.port());
  for (const auto& id : ids) {
    EXPECT_TRUE(wait_for_event(second.port(), id, "cwc_production_breached", 1)) << id;
  }
}

TEST_F(ClocksOverHttp, ABreachLandsInTheSupervisorsInboxUntilAcknowledged) {
  const auto id = open_case();
  advance("25h");
  // The scheduler runs on its own thread: poll until the breach is in ravi's inbox.
  boost::json::array items;
  for (int i = 0; i < 200 && items.empty(); ++i) {
    const auto inbox = call("ravi", "GET", "/v1/notifications");
    ASSERT_EQ(inbox.status, 200) << inbox.body;
    items = inbox.json().at("items").as_array();
    if (items.empty()) {
      ::usleep(50'000);
    }
  }
  ASSERT_EQ(items.size(), 1U) << server_->log();
  const auto& notification = items[0].as_object();
  EXPECT_EQ(notification.at("case_id"), id.c_str());
  EXPECT_EQ(notification.at("workflow"), "aftercare");
  EXPECT_EQ(notification.at("role"), "supervisor");
  EXPECT_EQ(notification.at("kind"), "clock_breach");
  EXPECT_EQ(notification.at("subject"), "cwc_production");
  EXPECT_EQ(notification.at("due_at"), "2026-11-23T04:30:00.000Z");
  EXPECT_EQ(notification.at("created_at"), "2026-11-23T05:30:00.000Z");
  EXPECT_TRUE(notification.at("acknowledged_at").is_null());
  EXPECT_TRUE(notification.at("acknowledged_by").is_null());
  // Names and instants only: nothing from the case's data.
  EXPECT_EQ(notification.size(), 10U) << boost::json::serialize(notification);
  const std::string nid(notification.at("id").as_string());

  // The caseworker was not named: an empty inbox, and ravi's notification is not hers to touch.
  const auto asha = call("asha", "GET", "/v1/notifications");
  ASSERT_EQ(asha.status, 200) << asha.body;
  EXPECT_TRUE(asha.json().at("items").as_array().empty()) << asha.body;
  EXPECT_EQ(call("asha", "POST", "/v1/notifications/" + nid + "/acknowledge").status, 404);

  const auto acknowledged = call("ravi", "POST", "/v1/notifications/" + nid + "/acknowledge");
  ASSERT_EQ(acknowledged.status, 200) << acknowledged.body;
  EXPECT_EQ(acknowledged.json().at("id"), nid.c_str());
  EXPECT_EQ(acknowledged.json().at("acknowledged_by"), "ravi");
  EXPECT_EQ(acknowledged.json().at("acknowledged_at"), "2026-11-23T05:30:00.000Z");
  const auto open_items = call("ravi", "GET", "/v1/notifications?unacknowledged=true");
  ASSERT_EQ(open_items.status, 200) << open_items.body;
  EXPECT_TRUE(open_items.json().at("items").as_array().empty()) << open_items.body;
  EXPECT_TRUE(open_items.json().at("next_cursor").is_null()) << open_items.body;
  const auto everything = call("ravi", "GET", "/v1/notifications?unacknowledged=false&limit=10");
  ASSERT_EQ(everything.status, 200) << everything.body;
  EXPECT_EQ(everything.json().at("items").as_array().size(), 1U) << everything.body;

  const auto unknown = call("ravi", "POST", "/v1/notifications/0123456789abcdef/acknowledge");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(unknown.header("content-type"), "application/problem+json");
  for (const std::string bad :
       {"?unacknowledged=maybe", "?limit=0", "?cursor=garbage", "?state=x"}) {
    const auto refused = call("ravi", "GET", "/v1/notifications" + bad);
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.body;
    EXPECT_EQ(refused.header("content-type"), "application/problem+json") << bad;
  }
  EXPECT_EQ(call("ravi", "GET", "/v1/notifications/" + nid + "/acknowledge").status, 405);
}

}  // namespace
}  // namespace carepath
