// Watching a running engine (docs/operations.md "Watching it"): GET /metrics names routes by
// template and never carries an id, a user or a value; GET /readyz says what is not ready;
// request ids round-trip and follow every log line, which is JSON when asked for.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/integration/encrypted_engine.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

// Invented and distinctive: the child's name, which must never reach a metric or a log line.
constexpr std::string_view kSecretName = "Qzyxwv Tarnobel";

const std::string kAllRoles = "caseworker,counsellor,medical_officer,legal_officer,supervisor";

std::string open_case_body() {
  return R"({"workflow": "aftercare", "data": {"name": ")" + std::string(kSecretName) +
         R"(", "date_of_birth": "2012-03-04", "home": "umeed"}})";
}

class WatchingTest : public test::EncryptedEngineTest {};

TEST_F(WatchingTest, MetricsNameRouteTemplatesAndHoldNoIdsUsersOrValues) {
  start();
  const std::string bearer =
      token("asha", {"caseworker", "counsellor", "medical_officer", "legal_officer", "supervisor"});
  auto opened = call("POST", "/v1/cases", bearer, open_case_body());
  ASSERT_EQ(opened.status, 201) << opened.body;
  const auto opened_json = opened.json();
  const std::string id(opened_json.at("id").as_string());
  ASSERT_EQ(
      call("POST", "/v1/cases/" + id + "/events", bearer, R"({"event": "journey_started"})").status,
      200);
  ASSERT_EQ(call("GET", "/v1/cases/" + id, bearer).status, 200);
  ASSERT_EQ(call("GET", "/v1/cases/" + id + "/nowhere", bearer).status, 404);

  const auto scrape = test::http_request(port_, "GET", "/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.body;
  EXPECT_EQ(scrape.header("content-type").rfind("text/plain; version=0.0.4", 0), 0U)
      << scrape.header("content-type");
  const std::string& text = scrape.body;
  // Counters are the process's: other tests in the same process (the openapi.prism run) add to
  // them, so only the series are checked. The gauges are this engine's database.
  for (const char* expected : {
           "carepath_http_requests_total{route=\"/v1/cases\",method=\"POST\",status=\"201\"} ",
           "carepath_http_requests_total{route=\"/v1/cases/{id}/events\",method=\"POST\","
           "status=\"200\"} ",
           "carepath_http_requests_total{route=\"/v1/cases/{id}\",method=\"GET\",status=\"200\"} ",
           "carepath_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} ",
           "carepath_http_request_duration_seconds_bucket{route=\"/v1/cases/{id}/events\","
           "method=\"POST\",le=\"+Inf\"} ",
           "carepath_transitions_total{workflow=\"aftercare\",event=\"journey_started\"} ",
           "carepath_open_cases{workflow=\"aftercare\",state=\"intake\"} 1\n",
           "# TYPE carepath_step_results_total counter\n",
           "carepath_outbox_depth ",
           "carepath_incidents_open 0\n",
           "carepath_timers_pending ",
           "carepath_clocks_breached 0\n",
           "carepath_db_commit_duration_seconds_bucket{le=\"+Inf\"} ",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << " not in\n" << text;
  }
  // Every route label is a template (or "unmatched"); nothing names the case, the user or a value.
  const std::regex route_label("route=\"([^\"]*)\"");
  std::set<std::string> routes;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), route_label);
       it != std::sregex_iterator(); ++it) {
    routes.insert((*it)[1].str());
  }
  EXPECT_FALSE(routes.empty());
  for (const auto& route : routes) {
    EXPECT_TRUE(route == "unmatched" || route.starts_with("/")) << route;
  }
  EXPECT_EQ(text.find(id), std::string::npos) << "case id in the scrape:\n" << text;
  EXPECT_EQ(text.find(kSecretName), std::string::npos) << text;
  EXPECT_EQ(text.find("asha"), std::string::npos) << "user in the scrape:\n" << text;
  EXPECT_EQ(text.find("umeed"), std::string::npos) << "field value in the scrape:\n" << text;
  // The scrape itself was counted (by the time of the next one) and needs no token.
  const auto again = test::http_request(port_, "GET", "/metrics");
  EXPECT_NE(again.body.find("route=\"/metrics\",method=\"GET\",status=\"200\""), std::string::npos);
}

// Prometheus's own checker (Debian's prometheus package) reads the scrape as Prometheus would and
// lints it (names, units, help texts). Skipped where promtool is not installed.
TEST_F(WatchingTest, PromtoolAcceptsTheScrape) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  start();
  const std::string bearer = token("asha", {"caseworker", "supervisor"});
  ASSERT_EQ(call("POST", "/v1/cases", bearer, open_case_body()).status, 201);
  ASSERT_EQ(call("GET", "/v1/nowhere", bearer).status, 404);
  const auto scrape = test::http_request(port_, "GET", "/metrics");
  ASSERT_EQ(scrape.status, 200);
  test::TempDir dir;
  const auto file = dir / "scrape.txt";
  std::ofstream(file) << scrape.body;
  const auto report = dir / "promtool.txt";
  const std::string command =
      "promtool check metrics < '" + file.string() + "' > '" + report.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << test::read_file(report) << "\n" << scrape.body;
}

TEST_F(WatchingTest, ReadyzIsReadyWithTheDatabaseWorkflowsAndPluginsLoaded) {
  start();
  const auto ready = test::http_request(port_, "GET", "/readyz");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json(), boost::json::parse(R"({"status": "ready", "checks": {"database": "ok",
                                                "workflows": "ok", "plugins": "ok"}})"));
  EXPECT_EQ(test::http_request(port_, "POST", "/readyz").status, 405);
}

TEST_F(WatchingTest, ReadyzIs503NamingAPluginDirectoryThatFailed) {
  config_.plugins.push_back((dir_ / "no-such-plugins").string());
  start();
  const auto not_ready = test::http_request(port_, "GET", "/readyz");
  ASSERT_EQ(not_ready.status, 503) << not_ready.body;
  const auto json = not_ready.json();
  EXPECT_EQ(json.at("status"), "not ready");
  EXPECT_EQ(json.at("checks").at("plugins"), "failed");
  EXPECT_EQ(json.at("checks").at("database"), "ok");
  EXPECT_EQ(json.at("checks").at("workflows"), "ok");
  // Liveness is another question: the process is fine.
  EXPECT_EQ(test::http_request(port_, "GET", "/healthz").status, 200);
}

TEST(Watching, RequestIdsRoundTripAndFollowEveryJsonLogLine) {
  test::TempDir dir;
  const std::string db = (dir / "carepath.db").string();
  const auto created = test::run_carepath(
      {"token", "create", "--user", "asha", "--roles", kAllRoles, "--db", db}, dir);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = created.out.substr(0, created.out.find('\n'));
  test::ServerProcess server({"--db", db, "--workflows", test::source_path("workflows").string(),
                              "--plugins", test::plugin_build_dir(), "--log-format", "json"});
  const auto call = [&](std::string_view method, const std::string& target,
                        const std::string& request_id, const std::string& body = {}) {
    return test::http_request(server.port(), method, target, body,
                              {{"Authorization", "Bearer " + token}, {"X-Request-Id", request_id}});
  };

  const auto opened = call("POST", "/v1/cases", "ops-open.1_A", open_case_body());
  ASSERT_EQ(opened.status, 201) << opened.body;
  EXPECT_EQ(opened.header("x-request-id"), "ops-open.1_A");
  const auto opened_json = opened.json();
  const std::string id(opened_json.at("id").as_string());

  // Not 1-128 of [A-Za-z0-9._-]: replaced by a made-up one.
  const std::vector<std::string> invalid_ids = {"has space", "semi;colon", "quote\"",
                                                std::string(129, 'r')};
  for (const std::string& invalid : invalid_ids) {
    const auto replaced = call("GET", "/v1/cases/" + id, invalid);
    EXPECT_EQ(replaced.status, 200);
    EXPECT_TRUE(std::regex_match(replaced.header("x-request-id"), std::regex("[0-9a-f]{32}")))
        << replaced.header("x-request-id");
  }
  // Problems and unknown paths carry it too.
  const auto missing = call("GET", "/v1/nothing", "ops-404");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("x-request-id"), "ops-404");
  const auto refused =
      test::http_request(server.port(), "GET", "/v1/cases", {}, {{"X-Request-Id", "ops-401"}});
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.header("x-request-id"), "ops-401");
  const auto made_up = test::http_request(server.port(), "GET", "/healthz");
  EXPECT_EQ(made_up.header("x-request-id").size(), 32U);

  EXPECT_EQ(server.stop(), 0);
  std::istringstream log(server.log());
  std::string line;
  int lines = 0;
  bool opened_logged = false;
  bool access_logged = false;
  bool not_found_logged = false;
  while (std::getline(log, line)) {
    if (line.empty()) {
      continue;
    }
    ++lines;
    EXPECT_EQ(line.find(kSecretName), std::string::npos) << line;
    EXPECT_EQ(line.find(token), std::string::npos) << line;
    boost::json::value parsed;
    try {
      parsed = boost::json::parse(line);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON (" << e.what() << "): " << line;
      continue;
    }
    ASSERT_TRUE(parsed.is_object()) << line;
    const auto& object = parsed.as_object();
    EXPECT_TRUE(object.contains("time") && object.contains("level") && object.contains("msg"))
        << line;
    const auto* request_id = object.if_contains("request_id");
    if (request_id == nullptr) {
      continue;
    }
    if (*request_id == "ops-open.1_A" && object.at("msg") == "case opened") {
      opened_logged = true;
      EXPECT_EQ(object.at("actor"), "asha") << line;
    }
    if (*request_id == "ops-open.1_A" && object.at("msg") == "request") {
      access_logged = true;
      EXPECT_EQ(object.at("method"), "POST") << line;
      EXPECT_EQ(object.at("route"), "/v1/cases") << line;
      EXPECT_EQ(object.at("status"), "201") << line;
      EXPECT_EQ(object.at("actor"), "asha") << line;
      EXPECT_TRUE(object.contains("ms")) << line;
    }
    if (*request_id == "ops-404" && object.at("msg") == "request") {
      not_found_logged = true;
      EXPECT_EQ(object.at("route"), "unmatched") << line;
      EXPECT_EQ(object.at("status"), "404") << line;
    }
  }
  EXPECT_GT(lines, 3);
  EXPECT_TRUE(opened_logged) << server.log();
  EXPECT_TRUE(access_logged) << server.log();
  EXPECT_TRUE(not_found_logged) << server.log();
}

}  // namespace
}  // namespace carepath
