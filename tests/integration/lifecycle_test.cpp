// Takes an aftercare case from intake to closed over real HTTP, with every error answer on the
// way, then restarts the engine on the same database and finds the case and history unchanged.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "app/engine.hpp"
#include "core/store.hpp"
#include "security/tokens.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/keys.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.host = "127.0.0.1";
    config_.port = test::listen_port();
    config_.db = (dir_ / "carepath.db").string();
    config_.master_key = test::master_key_file();
    config_.workflows = test::source_path("workflows").string();
    config_.plugins = {(std::filesystem::path(CP_BINARY_DIR) / "plugins").string()};
    start();
    caseworker_ = token("asha.caseworker", {"caseworker"});
    counsellor_ = token("meera.counsellor", {"counsellor"});
    supervisor_ = token("ravi.supervisor", {"supervisor"});
  }

  void start() {
    auto engine = app::Engine::open(config_);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
    auto port = engine_->start();
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
  }

  void restart() {
    engine_->stop();
    engine_.reset();
    start();
  }

  std::string token(const std::string& user, std::vector<std::string> roles) {
    auto issued = security::issue_token(user, std::move(roles), 0);
    EXPECT_TRUE(issued);
    EXPECT_TRUE(engine_->store().create_token(issued->record));
    return issued->token;
  }

  test::HttpResponse call(std::string_view method, std::string_view target,
                          const std::string& token, std::string_view body = {},
                          Headers headers = {}) {
    if (!token.empty()) {
      headers.emplace_back("Authorization", "Bearer " + token);
    }
    if (!body.empty()) {
      headers.emplace_back("Content-Type", "application/json");
    }
    return test::http_request(port_, method, target, body, headers);
  }

  test::HttpResponse fire(const std::string& id, const std::string& token,
                          const boost::json::object& body, Headers headers = {}) {
    return call("POST", "/v1/cases/" + id + "/events", token, boost::json::serialize(body),
                std::move(headers));
  }

  static void expect_problem(const test::HttpResponse& r, int status, std::string_view type) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/problem+json") << r.body;
    const auto j = r.json().as_object();
    EXPECT_EQ(j.at("status"), status);
    EXPECT_EQ(j.at("type").as_string(), std::string("/problems/") + std::string(type)) << r.body;
    EXPECT_TRUE(j.at("title").is_string());
    EXPECT_TRUE(j.at("detail").is_string());
  }

  test::TempDir dir_;
  app::Config config_;
  std::unique_ptr<app::Engine> engine_;
  std::uint16_t port_ = 0;
  std::string caseworker_;
  std::string counsellor_;
  std::string supervisor_;
};

TEST_F(Lifecycle, TakesAnAftercareCaseFromIntakeToClosedAndSurvivesARestart) {
  // Invented, distinctive values; none may appear in any error body.
  const std::string kName = "Invented Child Zeta";
  auto opened = call("POST", "/v1/cases", caseworker_,
                     R"({"workflow": "aftercare", "data": {"name": "Invented Child Zeta",
                         "home": "umang"}})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const auto created = opened.json().as_object();
  const std::string id(created.at("id").as_string());
  EXPECT_EQ(opened.headers.at("location"), "/v1/cases/" + id);
  EXPECT_EQ(opened.headers.at("etag"), "\"1\"");
  EXPECT_EQ(created.at("state"), "intake");
  EXPECT_EQ(created.at("version"), 1);
  std::vector<std::string> bodies;  // every error body, checked for the sensitive value at the end

  // 401: no token, unknown token.
  auto no_token = call("GET", "/v1/cases/" + id, "");
  expect_problem(no_token, 401, "unauthenticated");
  expect_problem(call("GET", "/v1/cases/" + id, "cp_000000000000_nope"), 401, "unauthenticated");
  // 404: unknown case.
  expect_problem(fire("0000", caseworker_, {{"event", "produced_before_cwc"}}), 404, "not-found");
  // 409: an event with no transition from intake; the answer lists what is possible.
  auto wrong = fire(id, caseworker_, {{"event", "case_closed"}});
  expect_problem(wrong, 409, "no-transition");
  EXPECT_EQ(boost::json::serialize(wrong.json().at("allowed_events")),
            R"(["produced_before_cwc","journey_started","journey_ended","died"])");
  bodies.push_back(wrong.body);
  // 403: a counsellor may not produce the child before the CWC.
  auto role = fire(id, counsellor_, {{"event", "produced_before_cwc"}});
  expect_problem(role, 403, "forbidden");
  // 422: invalid field.
  auto invalid =
      fire(id, caseworker_, {{"event", "produced_before_cwc"}, {"data", {{"age", "fourteen"}}}});
  expect_problem(invalid, 422, "invalid-fields");
  EXPECT_EQ(invalid.json().at("invalid_fields").at(0).at("field"), "age");
  bodies.push_back(invalid.body);
  // 422: missing required fields.
  auto missing = fire(id, caseworker_, {{"event", "produced_before_cwc"}, {"data", {{"age", 14}}}});
  expect_problem(missing, 422, "missing-fields");
  EXPECT_EQ(boost::json::serialize(missing.json().at("missing_fields")), R"(["cwc_order_no"])");
  bodies.push_back(missing.body);
  // 409: the guard "age < 18" is false.
  auto guard = fire(id, caseworker_,
                    {{"event", "produced_before_cwc"},
                     {"data", {{"age", 19}, {"cwc_order_no", "CWC/KOL/2026/0042"}}}});
  expect_problem(guard, 409, "guard-failed");
  EXPECT_EQ(guard.json().at("guards").at(0).at("when"), "age < 18");
  bodies.push_back(guard.body);
  // 412: a stale If-Match.
  auto stale = fire(id, caseworker_,
                    {{"event", "produced_before_cwc"},
                     {"data", {{"age", 14}, {"cwc_order_no", "CWC/KOL/2026/0042"}}}},
                    {{"If-Match", "\"5\""}});
  expect_problem(stale, 412, "version-mismatch");
  EXPECT_EQ(stale.json().at("current_version"), 1);
  // 400: malformed JSON.
  expect_problem(call("POST", "/v1/cases/" + id + "/events", caseworker_, "{\"event\": "), 400,
                 "malformed-request");
  // 413: a body over the limit (1 MiB by default).
  const std::string huge = R"({"event": "produced_before_cwc", "comment": ")" +
                           std::string(std::size_t{1100} * 1024, 'x') + "\"}";
  auto too_large = call("POST", "/v1/cases/" + id + "/events", caseworker_, huge);
  EXPECT_EQ(too_large.status, 413);
  // None of the failures changed the case.
  auto unchanged = call("GET", "/v1/cases/" + id, caseworker_);
  ASSERT_EQ(unchanged.status, 200);
  EXPECT_EQ(unchanged.json().at("version"), 1);

  // The walk, with an Idempotency-Key on the first step.
  const boost::json::object produce{{"event", "produced_before_cwc"},
                                    {"data", {{"age", 14}, {"cwc_order_no", "CWC/KOL/2026/0042"}}},
                                    {"comment", "produced before the CWC within 24 hours"}};
  auto produced = fire(id, caseworker_, produce, {{"Idempotency-Key", "intake-1"}});
  ASSERT_EQ(produced.status, 200) << produced.body;
  EXPECT_EQ(produced.json().at("state"), "assessment");
  EXPECT_EQ(produced.headers.at("etag"), "\"2\"");
  auto replay = fire(id, caseworker_, produce, {{"Idempotency-Key", "intake-1"}});
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json(), produced.json());
  auto reused = fire(id, caseworker_, {{"event", "assessed"}}, {{"Idempotency-Key", "intake-1"}});
  expect_problem(reused, 422, "idempotency-key-reused");

  // Entering assessment ran medical.check (a plugin, synchronously): nothing is done yet.
  EXPECT_EQ(boost::json::serialize(produced.json().at("data").at("medical_checks_due")),
            R"(["general","nutrition","sti","mental_health"])");
  EXPECT_EQ(produced.json().at("data").at("medical_cleared"), false);

  // ... and scheduled legal_aid.refer, which runs after the commit on a worker and answers
  // "pending": a task the DLSA completes with its token, which fires legal_aid_confirmed.
  std::string task_token;
  for (int i = 0; i < 500 && task_token.empty(); ++i) {
    auto tasks = call("GET", "/v1/cases/" + id + "/tasks", caseworker_);
    ASSERT_EQ(tasks.status, 200) << tasks.body;
    const auto listed = tasks.json();
    const auto& items = listed.at("items").as_array();
    if (!items.empty()) {
      EXPECT_EQ(items[0].at("step"), "legal_aid.refer");
      EXPECT_EQ(items[0].at("status"), "open");
      task_token = std::string(items[0].at("token").as_string());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ASSERT_FALSE(task_token.empty()) << "legal_aid.refer did not run";
  auto bad_task = test::http_request(port_, "POST", "/v1/tasks/" + task_token + "/complete",
                                     R"({"data": {"legal_referral_no": 7}})");
  expect_problem(bad_task, 422, "invalid-fields");
  auto confirmed = test::http_request(port_, "POST", "/v1/tasks/" + task_token + "/complete",
                                      R"({"data": {"legal_referral_no": "DLSA-KOL-0042"}})");
  ASSERT_EQ(confirmed.status, 200) << confirmed.body;
  EXPECT_EQ(confirmed.json().at("state"), "assessment");
  expect_problem(test::http_request(port_, "POST", "/v1/tasks/" + task_token + "/complete", "{}"),
                 409, "task-closed");

  // Medically cleared (by PATCH, recorded as "updated"): the first row of "assessed" holds, and
  // its step vocational.assess_interest runs because she is 14.
  ASSERT_EQ(call("PATCH", "/v1/cases/" + id, counsellor_,
                 R"({"data": {"medical_cleared": true}, "comment": "cleared by the MO"})")
                .status,
            200);
  auto assessed = fire(id, counsellor_, {{"event", "assessed"}});
  ASSERT_EQ(assessed.status, 200) << assessed.body;
  EXPECT_EQ(assessed.json().at("state"), "care_plan");
  EXPECT_EQ(assessed.json().at("data").at("vocational_assessed"), true);

  auto options = call("GET", "/v1/cases/" + id + "/transitions", supervisor_);
  ASSERT_EQ(options.status, 200) << options.body;
  const auto items = options.json().at("items").as_array();
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(items[0].at("event"), "care_plan_approved");
  EXPECT_EQ(boost::json::serialize(items[0].at("missing_fields")), R"(["icp_date"])");

  const std::pair<std::string, boost::json::object> walk[] = {
      {supervisor_, {{"event", "care_plan_approved"}, {"data", {{"icp_date", "2026-11-20"}}}}},
      {caseworker_, {{"event", "ready_for_reintegration"}}},
      {caseworker_,
       {{"event", "restored"},
        {"data", {{"guardian_consent", true}, {"restoration_address", "Invented Lane 7"}}}}},
      {supervisor_, {{"event", "case_closed"}}},
  };
  for (const auto& [who, body] : walk) {
    auto r = fire(id, who, body);
    ASSERT_EQ(r.status, 200) << body.at("event").as_string() << ": " << r.body;
  }
  auto closed = call("GET", "/v1/cases/" + id, supervisor_);
  ASSERT_EQ(closed.status, 200);
  EXPECT_EQ(closed.json().at("data").at("assigned_to"), "role:caseworker");  // core.assign
  EXPECT_EQ(closed.json().at("data").at("legal_referral_no"), "DLSA-KOL-0042");
  EXPECT_EQ(closed.json().at("state"), "closed");

  auto history = call("GET", "/v1/cases/" + id + "/events", supervisor_);
  ASSERT_EQ(history.status, 200) << history.body;
  const auto entries = history.json().at("items").as_array();
  const std::vector<std::string> expected = {
      "opened",         "produced_before_cwc", "step_pending",
      "task_completed", "legal_aid_confirmed", "updated",
      "assessed",       "care_plan_approved",  "ready_for_reintegration",
      "restored",       "case_closed"};
  ASSERT_EQ(entries.size(), expected.size()) << history.body;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = entries[i].as_object();
    EXPECT_EQ(e.at("event"), expected[i].c_str());
    EXPECT_EQ(e.at("seq"), static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(e.at("version"), static_cast<std::int64_t>(i + 1));
    for (const char* member : {"at", "actor", "from", "to", "changed", "comment"}) {
      EXPECT_TRUE(e.contains(member)) << member;
    }
  }
  EXPECT_TRUE(entries[0].at("from").is_null());
  EXPECT_EQ(entries[1].at("comment"), "produced before the CWC within 24 hours");

  // Closed is final: nothing more can happen to it.
  auto after_close = fire(id, supervisor_, {{"event", "case_closed"}});
  expect_problem(after_close, 409, "no-transition");
  EXPECT_TRUE(after_close.json().at("allowed_events").as_array().empty());

  for (const auto& body : bodies) {
    EXPECT_EQ(body.find(kName), std::string::npos) << body;
    EXPECT_EQ(body.find("CWC/KOL/2026/0042"), std::string::npos) << body;
  }

  // Restart on the same file: the case and its history are exactly as they were.
  const auto before_case = closed.json();
  const auto before_history = history.json();
  restart();
  auto reread = call("GET", "/v1/cases/" + id, supervisor_);
  ASSERT_EQ(reread.status, 200) << reread.body;
  EXPECT_EQ(reread.json(), before_case);
  EXPECT_EQ(call("GET", "/v1/cases/" + id + "/events", supervisor_).json(), before_history);
}

// Each of the engine's threads carries its name (docs/operations.md, "Threads"), and stopping
// the engine ends them all.
TEST_F(Lifecycle, TheEnginesThreadsAreNamedAndEndWithIt) {
  const std::map<std::string, int> running{{"cp-io", config_.io_threads},
                                           {"cp-request", config_.threads},
                                           {"cp-checkpoint", 1},
                                           {"cp-writer", 1},
                                           {"cp-timers", 1},
                                           {"cp-worker", config_.step_workers}};
  auto names = test::thread_names(running);
  for (const auto& [name, count] : running) {
    EXPECT_EQ(names[name], count) << name;
  }
  engine_->stop();
  engine_.reset();
  std::map<std::string, int> stopped = running;
  for (auto& entry : stopped) {
    entry.second = 0;
  }
  names = test::thread_names(stopped);
  for (const auto& [name, count] : stopped) {
    EXPECT_EQ(names[name], 0) << name;
  }
}

TEST_F(Lifecycle, ListsTheLoadedPluginsAndTheirSteps) {
  auto plugins = call("GET", "/v1/plugins", caseworker_);
  ASSERT_EQ(plugins.status, 200) << plugins.body;
  std::vector<std::string> names;
  const auto listed = plugins.json();
  for (const auto& p : listed.at("items").as_array()) {
    names.emplace_back(p.at("name").as_string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"core", "legal_aid", "medical", "vocational"}));
  EXPECT_NE(plugins.body.find("\"legal_aid.refer\""), std::string::npos);
  EXPECT_NE(plugins.body.find("\"config_schema\""), std::string::npos);
  EXPECT_EQ(call("GET", "/v1/plugins", "").status, 401);
}

TEST_F(Lifecycle, AFullVocationalCourseVetoesThePlacement) {
  auto opened = call("POST", "/v1/cases", caseworker_, R"({"workflow": "aftercare"})");
  const std::string id(opened.json().at("id").as_string());
  // Walk to in_care quickly.
  ASSERT_EQ(
      fire(id, caseworker_,
           {{"event", "produced_before_cwc"}, {"data", {{"age", 16}, {"cwc_order_no", "CWC/T/1"}}}})
          .status,
      200);
  ASSERT_EQ(
      fire(id, counsellor_, {{"event", "assessed"}, {"data", {{"medical_cleared", true}}}}).status,
      200);
  ASSERT_EQ(fire(id, supervisor_,
                 {{"event", "care_plan_approved"}, {"data", {{"icp_date", "2026-11-21"}}}})
                .status,
            200);
  // A track no partner in the workflow offers: the step refuses, the case stays as it was.
  auto vetoed =
      fire(id, caseworker_,
           {{"event", "vocational_placement"}, {"data", {{"vocational_track", "bakery"}}}});
  expect_problem(vetoed, 409, "step-vetoed");
  EXPECT_EQ(vetoed.json().at("step"), "vocational.place");
  auto placed =
      fire(id, caseworker_,
           {{"event", "vocational_placement"}, {"data", {{"vocational_track", "tailoring"}}}});
  ASSERT_EQ(placed.status, 200) << placed.body;
  EXPECT_EQ(placed.json().at("data").at("vocational_partner"), "Kolkata Sewing Cooperative");
  EXPECT_EQ(placed.json().at("state"), "in_care");
}

TEST_F(Lifecycle, CounsellingNotesAreLeftOutForOtherRoles) {
  auto opened = call("POST", "/v1/cases", caseworker_, R"({"workflow": "aftercare"})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id(opened.json().at("id").as_string());
  auto noted = call("PATCH", "/v1/cases/" + id, counsellor_,
                    R"({"data": {"counselling_notes": "invented note"}})");
  ASSERT_EQ(noted.status, 200) << noted.body;
  EXPECT_EQ(noted.json().at("data").at("counselling_notes"), "invented note");
  auto seen_by_caseworker = call("GET", "/v1/cases/" + id, caseworker_);
  ASSERT_EQ(seen_by_caseworker.status, 200);
  EXPECT_FALSE(seen_by_caseworker.json().at("data").as_object().contains("counselling_notes"));
  EXPECT_EQ(seen_by_caseworker.body.find("invented note"), std::string::npos);
  EXPECT_EQ(boost::json::serialize(seen_by_caseworker.json().at("redacted_fields")),
            R"(["counselling_notes"])");
}

TEST_F(Lifecycle, ListsCasesByStateWithACursor) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(call("POST", "/v1/cases", caseworker_, R"({"workflow": "aftercare"})").status, 201);
  }
  auto first = call("GET", "/v1/cases?workflow=aftercare&state=intake&limit=2", caseworker_);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json().at("items").as_array().size(), 2U);
  const auto cursor = first.json().at("next_cursor");
  ASSERT_TRUE(cursor.is_string());
  auto second = call(
      "GET",
      "/v1/cases?workflow=aftercare&state=intake&limit=2&cursor=" + std::string(cursor.as_string()),
      caseworker_);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json().at("items").as_array().size(), 1U);
  EXPECT_TRUE(second.json().at("next_cursor").is_null());
}

}  // namespace
}  // namespace carepath

namespace carepath {
namespace {

// A case stays on the version it was opened with; a changed file under a used version is refused.
TEST(WorkflowVersions, UsedVersionIsImmutableAndNewVersionsLoadBeside) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "workflows");
  const auto file = dir / "workflows" / "aftercare.yaml";
  std::filesystem::copy_file(test::source_path("workflows/aftercare.yaml"), file);
  app::Config config;
  config.port = 0;
  config.db = (dir / "carepath.db").string();
  config.master_key = test::master_key_file();
  config.workflows = (dir / "workflows").string();
  config.plugins = {(std::filesystem::path(CP_BINARY_DIR) / "plugins").string()};
  const Actor caseworker{"asha", {"caseworker"}};

  std::string old_case;
  {
    auto engine = app::Engine::open(config);
    ASSERT_TRUE(engine) << engine.error().message;
    auto opened = (*engine)->runtime().open_case(caseworker, "aftercare", {});
    ASSERT_TRUE(opened) << opened.error().message;
    old_case = opened->id;
  }

  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  in.close();
  const auto title = text.find("\ntitle:");
  ASSERT_NE(title, std::string::npos);
  std::string changed = text;
  changed.insert(title + 1, "# an edit that changes the text\n");
  std::ofstream(file) << changed;
  auto refused = app::Engine::open(config);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("aftercare.yaml"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("new version"), std::string::npos)
      << refused.error().message;

  // The same change as version 4 loads beside version 3, and the file of version 3 may go.
  const auto version = changed.find("\nversion: 3\n");
  ASSERT_NE(version, std::string::npos);
  changed.replace(version, 12, "\nversion: 4\n");
  std::ofstream(file) << changed;
  auto engine = app::Engine::open(config);
  ASSERT_TRUE(engine) << engine.error().message;
  auto fresh = (*engine)->runtime().open_case(caseworker, "aftercare", {});
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->workflow_version, 4);
  auto old = (*engine)->runtime().get_case(caseworker, old_case);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->workflow_version, 3);
  EXPECT_TRUE((*engine)->runtime().workflow_of(*old));
}

}  // namespace
}  // namespace carepath
