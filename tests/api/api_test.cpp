// The REST API end to end: a real Server on 127.0.0.1:0 over a real Runtime and SqliteStore.
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/problem.hpp"
#include "api/server.hpp"
#include "core/log.hpp"
#include "runtime/registry.hpp"
#include "runtime/runtime.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "workflow/loader.hpp"

namespace carepath::api {
namespace {

using test::http_request;
using test::HttpResponse;
using test::raw_request;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Invented names and values only.
constexpr const char* kWorkflow = R"(carepath: 1
workflow: shelter
version: 1
title: Shelter aftercare
roles: [caseworker, counsellor, supervisor]
fields:
  name: { type: string, sensitivity: identifying, visible_to: [caseworker, counsellor, supervisor] }
  age: { type: integer, min: 0, max: 25 }
  order_no: { type: string }
  risk: { type: enum, values: [low, high] }
  notes: { type: text, sensitivity: privileged, visible_to: [counsellor], editable_by: [counsellor] }
states:
  intake:
    initial: true
    on:
      produce:
        to: assessment
        roles: [caseworker]
        requires: [order_no, age]
        when: "age < 18"
  assessment:
    on:
      close: { to: closed, roles: [supervisor] }
      note: { to: assessment, roles: [counsellor, caseworker] }
  closed:
    final: true
)";

constexpr const char* kChildName = "Nila Invented";
constexpr const char* kOrderNo = "ORD-INVENTED-77";
constexpr const char* kSecretNote = "invented private note";

// Every log line, rendered as text, so tests can check what was (and was not) logged.
std::mutex& log_mutex() {
  static std::mutex m;
  return m;
}
std::vector<std::string>& log_lines() {
  static std::vector<std::string> lines;
  return lines;
}

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // No server threads run yet, so installing the sink here is safe.
    set_log_sink(
        [](LogLevel, std::string_view message, std::initializer_list<LogAttribute> attributes) {
          std::string line(message);
          for (const auto& [key, value] : attributes) {
            line += " " + std::string(key) + "=" + std::string(value);
          }
          const std::lock_guard lock(log_mutex());
          log_lines().push_back(std::move(line));
        });
  }
  static void TearDownTestSuite() { set_log_sink(nullptr); }

  void SetUp() override {
    auto loaded = workflow::load_workflow_text(kWorkflow, "shelter.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty()
                                     ? std::string("?")
                                     : workflow::to_string(loaded.diagnostics[0]));
    registry_.add(loaded.workflow);
    auto store = store::SqliteStore::open((dir_ / "cases.db").string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    runtime_ = std::make_unique<runtime::Runtime>(*store_, clock_, registry_);

    caseworker_ = issue("asha", {"caseworker"});
    counsellor_ = issue("meera", {"counsellor"});
    supervisor_ = issue("ravi", {"supervisor"});
    stranger_ = issue("zed", {"auditor"});

    ServerOptions options;
    options.port = test::listen_port();
    server_ = std::make_unique<Server>(options, *runtime_, *store_);
    auto port = server_->start();
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
    const std::lock_guard lock(log_mutex());
    log_lines().clear();
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
    }
  }

  std::string issue(const std::string& user, std::vector<std::string> roles) {
    auto issued = security::issue_token(user, std::move(roles), clock_.now());
    EXPECT_TRUE(issued) << issued.error().message;
    auto created = store_->create_token(issued->record);
    EXPECT_TRUE(created) << created.error().message;
    token_ids_[issued->token] = issued->record.id;
    return issued->token;
  }

  HttpResponse call(std::string_view method, std::string_view target, const std::string& token,
                    std::string_view body = {}, Headers headers = {}) const {
    if (!token.empty()) {
      headers.emplace_back("Authorization", "Bearer " + token);
    }
    return http_request(port_, method, target, body, headers);
  }

  // Opens a case as the caseworker and returns its id.
  std::string open_case(std::string_view data = R"({"name": "Nila Invented"})") {
    const auto r = call("POST", "/v1/cases", caseworker_,
                        R"({"workflow": "shelter", "data": )" + std::string(data) + "}");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(r.json().at("id").as_string());
  }

  HttpResponse fire(const std::string& id, std::string_view body, const std::string& token,
                    Headers headers = {}) {
    return call("POST", "/v1/cases/" + id + "/events", token, body, std::move(headers));
  }

  std::size_t history_size(const std::string& id) {
    const auto r = call("GET", "/v1/cases/" + id + "/events?limit=500", caseworker_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("items").as_array().size();
  }

  // A problem answer: status, media type, the four standard members and the type.
  static boost::json::object expect_problem(const HttpResponse& r, int status,
                                            std::string_view type) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << r.body;
    boost::json::object body;
    try {
      body = r.json().as_object();
    } catch (const std::exception&) {
      ADD_FAILURE() << "not a JSON object: " << r.body;
      return body;
    }
    EXPECT_EQ(body["type"], boost::json::value("/problems/" + std::string(type))) << r.body;
    EXPECT_EQ(body["status"], boost::json::value(status)) << r.body;
    EXPECT_TRUE(body["title"].is_string() && !body["title"].as_string().empty()) << r.body;
    EXPECT_TRUE(body["detail"].is_string() && !body["detail"].as_string().empty()) << r.body;
    return body;
  }

  // The server still answers after whatever the test did to it.
  void expect_alive() const {
    const auto r = http_request(port_, "GET", "/healthz");
    EXPECT_EQ(r.status, 200) << r.body;
  }

  test::TempDir dir_;
  ManualClock clock_{1'790'000'000'000};
  runtime::WorkflowRegistry registry_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<Server> server_;
  std::uint16_t port_ = 0;
  std::map<std::string, std::string> token_ids_;
  std::string caseworker_;
  std::string counsellor_;
  std::string supervisor_;
  std::string stranger_;
};

// ---------------------------------------------------------------------------------------------
// Health, authentication, routing

TEST_F(ApiTest, HealthzAnswersWithoutAToken) {
  const auto r = http_request(port_, "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.json(), boost::json::parse(R"({"status":"ok"})"));

  const auto post = http_request(port_, "POST", "/healthz", "{}");
  expect_problem(post, 405, "method-not-allowed");
  EXPECT_EQ(post.header("allow"), "GET");
}

TEST_F(ApiTest, MissingMalformedUnknownAndRevokedTokensGet401) {
  const auto missing = call("GET", "/v1/workflows", "");
  expect_problem(missing, 401, "unauthenticated");
  EXPECT_EQ(missing.header("www-authenticate"), "Bearer");

  for (const std::string& header : {std::string("Basic YXNoYTpwdw=="), std::string("Bearer"),
                                    std::string("Bearer "), std::string("Bearer a b")}) {
    const auto r = http_request(port_, "GET", "/v1/workflows", {}, {{"Authorization", header}});
    expect_problem(r, 401, "unauthenticated");
    EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  }

  const auto unknown = call("GET", "/v1/workflows", "cp_000000000000_" + std::string(64, '0'));
  expect_problem(unknown, 401, "unauthenticated");

  const std::string doomed = issue("gone", {"caseworker"});
  EXPECT_EQ(call("GET", "/v1/workflows", doomed).status, 200);
  ASSERT_TRUE(store_->revoke_token(token_ids_[doomed], clock_.now()));
  const auto revoked = call("GET", "/v1/workflows", doomed);
  expect_problem(revoked, 401, "unauthenticated");
  EXPECT_EQ(revoked.header("www-authenticate"), "Bearer");
  expect_alive();
}

TEST_F(ApiTest, SchemeOfTheAuthorizationHeaderIsCaseInsensitive) {
  const auto r =
      http_request(port_, "GET", "/v1/workflows", {}, {{"Authorization", "bearer " + caseworker_}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ApiTest, EveryV1PathAsksForATokenFirst) {
  expect_problem(call("GET", "/v1/nothing-here", ""), 401, "unauthenticated");
  expect_problem(call("DELETE", "/v1/cases", ""), 401, "unauthenticated");
}

TEST_F(ApiTest, UnknownPathsAre404AndWrongMethods405WithAllow) {
  expect_problem(call("GET", "/v1/nothing-here", caseworker_), 404, "unknown-path");
  expect_problem(call("GET", "/elsewhere", ""), 404, "unknown-path");
  expect_problem(call("GET", "/v1/cases/abc/unknown", caseworker_), 404, "unknown-path");
  expect_problem(call("GET", "/v1/cases/", caseworker_), 404, "unknown-path");
  expect_problem(call("GET", "/v1/cases//events", caseworker_), 404, "unknown-path");

  const auto del = call("DELETE", "/v1/cases/abc", caseworker_);
  expect_problem(del, 405, "method-not-allowed");
  EXPECT_EQ(del.header("allow"), "GET, PATCH");
  const auto put = call("PUT", "/v1/cases", caseworker_, "{}");
  expect_problem(put, 405, "method-not-allowed");
  EXPECT_EQ(put.header("allow"), "GET, POST");
  const auto post = call("POST", "/v1/workflows", caseworker_, "{}");
  EXPECT_EQ(post.header("allow"), "GET");
  const auto patch = call("PATCH", "/v1/cases/abc/transitions", caseworker_, "{}");
  expect_problem(patch, 405, "method-not-allowed");
  expect_alive();
}

// A server without an engine behind it has no reload hook: the route exists but answers 404 for
// an admin, 403 for anyone else.
TEST_F(ApiTest, WorkflowReloadWithoutAHookIs404) {
  const std::string admin = issue("ops.admin", {"admin"});
  expect_problem(call("POST", "/v1/admin/workflows/reload", admin), 404, "not-found");
  expect_problem(call("POST", "/v1/admin/workflows/reload", caseworker_), 403, "forbidden");
  const auto get = call("GET", "/v1/admin/workflows/reload", admin);
  expect_problem(get, 405, "method-not-allowed");
  EXPECT_EQ(get.header("allow"), "POST");
  expect_alive();
}

// ---------------------------------------------------------------------------------------------
// Workflows

TEST_F(ApiTest, ListsWorkflowsWithTheirVersions) {
  auto loaded = workflow::load_workflow_text(
      std::string(kWorkflow).replace(std::string(kWorkflow).find("version: 1"), 10, "version: 2"),
      "shelter.yaml");
  ASSERT_TRUE(loaded.ok());
  registry_.add(loaded.workflow);

  const auto r = call("GET", "/v1/workflows", caseworker_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), boost::json::parse(R"({"items": [{"name": "shelter",
      "title": "Shelter aftercare", "latest_version": 2, "versions": [1, 2]}]})"));
}

TEST_F(ApiTest, DescribesOneWorkflowVersion) {
  const auto r = call("GET", "/v1/workflows/shelter", caseworker_);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto w = r.json().as_object();
  EXPECT_EQ(w.at("name"), "shelter");
  EXPECT_EQ(w.at("version"), 1);
  EXPECT_EQ(w.at("versions"), boost::json::parse("[1]"));
  EXPECT_EQ(w.at("title"), "Shelter aftercare");
  EXPECT_EQ(w.at("roles"), boost::json::parse(R"(["caseworker", "counsellor", "supervisor"])"));

  const auto& fields = w.at("fields").as_array();
  ASSERT_EQ(fields.size(), 5U);
  EXPECT_EQ(fields[1], boost::json::parse(R"({"name": "age", "type": "integer", "min": 0,
      "max": 25, "sensitivity": "none",
      "visible_to": ["caseworker", "counsellor", "supervisor"],
      "editable_by": ["caseworker", "counsellor", "supervisor"]})"));
  EXPECT_EQ(fields[3].at("values"), boost::json::parse(R"(["low", "high"])"));
  EXPECT_EQ(fields[4].at("visible_to"), boost::json::parse(R"(["counsellor"])"));
  EXPECT_EQ(fields[4].at("sensitivity"), "privileged");
  EXPECT_FALSE(fields[0].as_object().contains("min"));
  EXPECT_FALSE(fields[0].as_object().contains("values"));

  const auto& states = w.at("states").as_array();
  ASSERT_EQ(states.size(), 3U);
  EXPECT_EQ(states[0], boost::json::parse(R"({"name": "intake", "initial": true, "final": false,
      "transitions": [{"event": "produce", "to": "assessment", "roles": ["caseworker"],
                       "requires": ["order_no", "age"], "requires_consent": [],
                       "when": "age < 18"}]})"));
  const auto& from_assessment = states[1].at("transitions").as_array();
  ASSERT_EQ(from_assessment.size(), 2U);
  EXPECT_TRUE(from_assessment[0].at("when").is_null());
  EXPECT_EQ(states[2].at("final"), true);

  const auto pinned = call("GET", "/v1/workflows/shelter?version=1", caseworker_);
  EXPECT_EQ(pinned.status, 200);
  EXPECT_EQ(pinned.json(), r.json());
}

// The outcome words (docs/workflow-format.md, Outcomes): `outcome` on a final state that sets
// one and `counts_as` on a row that sets one; absent everywhere else, as in version 1 above.
TEST_F(ApiTest, DescribesOutcomesAndCountsAs) {
  std::string text(kWorkflow);
  const auto replace = [&text](const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  replace("version: 1", "version: 2");
  replace("close: { to: closed, roles: [supervisor] }",
          "close: { to: closed, roles: [supervisor], counts_as: restored }\n"
          "      left: { to: ran_off, roles: [supervisor] }");
  replace("  closed:\n    final: true\n",
          "  closed:\n    final: true\n    outcome: restored\n"
          "  ran_off:\n    final: true\n");
  auto loaded = workflow::load_workflow_text(text, "shelter.yaml");
  ASSERT_TRUE(loaded.ok()) << text;
  registry_.add(loaded.workflow);

  const auto r = call("GET", "/v1/workflows/shelter?version=2", caseworker_);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto w = r.json().as_object();
  const auto& states = w.at("states").as_array();
  ASSERT_EQ(states.size(), 4U);
  EXPECT_EQ(states[2], boost::json::parse(R"({"name": "closed", "initial": false,
      "final": true, "outcome": "restored", "transitions": []})"));
  EXPECT_FALSE(states[3].as_object().contains("outcome")) << states[3];  // final, no outcome
  EXPECT_FALSE(states[0].as_object().contains("outcome"));
  const auto& rows = states[1].at("transitions").as_array();
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[0], boost::json::parse(R"({"event": "close", "to": "closed",
      "roles": ["supervisor"], "requires": [], "requires_consent": [], "when": null,
      "counts_as": "restored"})"));
  EXPECT_FALSE(rows[1].as_object().contains("counts_as")) << rows[1];
  EXPECT_FALSE(rows[2].as_object().contains("counts_as")) << rows[2];
}

TEST_F(ApiTest, UnknownWorkflowsAndVersionsAre404AndBadVersions400) {
  expect_problem(call("GET", "/v1/workflows/nowhere", caseworker_), 404, "not-found");
  expect_problem(call("GET", "/v1/workflows/shelter?version=7", caseworker_), 404, "not-found");
  const auto bad = call("GET", "/v1/workflows/shelter?version=one", caseworker_);
  auto body = expect_problem(bad, 400, "invalid-params");
  EXPECT_EQ(body["invalid_params"].at(0).at("name"), "version");
  expect_alive();
}

// Diagrams: the format itself is tested in tests/workflow/graph_test.cpp.
TEST_F(ApiTest, DrawsAWorkflowAsMermaidOrDot) {
  const auto mermaid = call("GET", "/v1/workflows/shelter/graph", caseworker_);
  EXPECT_EQ(mermaid.status, 200) << mermaid.body;
  EXPECT_EQ(mermaid.header("content-type"), "text/vnd.mermaid; charset=utf-8");
  EXPECT_NE(mermaid.body.find("stateDiagram-v2\n"), std::string::npos) << mermaid.body;
  EXPECT_NE(mermaid.body.find("  intake --> assessment : produce [caseworker] when age #lt; 18\n"),
            std::string::npos)
      << mermaid.body;
  EXPECT_EQ(mermaid.body.find("classDef"), std::string::npos) << mermaid.body;
  EXPECT_EQ(call("GET", "/v1/workflows/shelter/graph?format=mermaid&version=1", caseworker_).body,
            mermaid.body);

  const auto dot = call("GET", "/v1/workflows/shelter/graph?format=dot", caseworker_);
  EXPECT_EQ(dot.status, 200) << dot.body;
  EXPECT_EQ(dot.header("content-type"), "text/vnd.graphviz; charset=utf-8");
  EXPECT_EQ(dot.body.rfind("digraph \"shelter\" {\n", 0), 0U) << dot.body;
  EXPECT_NE(dot.body.find("  \"closed\" [label=\"closed\", peripheries=2];\n"), std::string::npos)
      << dot.body;
}

TEST_F(ApiTest, GraphRefusesUnknownFormatsWorkflowsAndCases) {
  auto body = expect_problem(call("GET", "/v1/workflows/shelter/graph?format=png", caseworker_),
                             400, "invalid-params");
  EXPECT_EQ(body["invalid_params"].at(0).at("name"), "format");
  body = expect_problem(call("GET", "/v1/workflows/shelter/graph?colour=red", caseworker_), 400,
                        "invalid-params");
  EXPECT_EQ(body["invalid_params"].at(0).at("name"), "colour");
  expect_problem(call("GET", "/v1/workflows/nowhere/graph", caseworker_), 404, "not-found");
  expect_problem(call("GET", "/v1/workflows/shelter/graph?version=7", caseworker_), 404,
                 "not-found");
  expect_problem(call("GET", "/v1/cases/0123456789abcdef/graph", caseworker_), 404, "not-found");
  const std::string id = open_case();
  body = expect_problem(call("GET", "/v1/cases/" + id + "/graph?format=svg", caseworker_), 400,
                        "invalid-params");
  EXPECT_EQ(body["invalid_params"].at(0).at("name"), "format");
  const auto post = call("POST", "/v1/workflows/shelter/graph", caseworker_, "{}");
  expect_problem(post, 405, "method-not-allowed");
  EXPECT_EQ(post.header("allow"), "GET");
  expect_problem(call("GET", "/v1/workflows/shelter/graph", ""), 401, "unauthenticated");
  expect_alive();
}

TEST_F(ApiTest, CaseGraphHighlightsWhereTheCaseIsAndItsPath) {
  const std::string id = open_case();
  const auto opened = call("GET", "/v1/cases/" + id + "/graph", caseworker_);
  EXPECT_EQ(opened.status, 200) << opened.body;
  EXPECT_NE(opened.body.find("  class intake current\n"), std::string::npos) << opened.body;

  ASSERT_EQ(fire(id, R"({"event": "produce", "data": {"order_no": "ORD-INVENTED-77", "age": 14}})",
                 caseworker_)
                .status,
            200);
  ASSERT_EQ(fire(id, R"({"event": "note"})", counsellor_).status, 200);
  const auto mermaid = call("GET", "/v1/cases/" + id + "/graph", caseworker_);
  EXPECT_EQ(mermaid.status, 200) << mermaid.body;
  EXPECT_EQ(mermaid.header("content-type"), "text/vnd.mermaid; charset=utf-8");
  EXPECT_NE(mermaid.body.find("  intake --> assessment : (1) produce [caseworker]"),
            std::string::npos)
      << mermaid.body;
  EXPECT_NE(mermaid.body.find("  assessment --> assessment : (2) note [counsellor, caseworker]\n"),
            std::string::npos)
      << mermaid.body;
  EXPECT_NE(mermaid.body.find("  assessment --> closed : close [supervisor]\n"), std::string::npos)
      << mermaid.body;
  EXPECT_NE(mermaid.body.find("  class intake visited\n  class assessment current\n"),
            std::string::npos)
      << mermaid.body;

  const auto dot = call("GET", "/v1/cases/" + id + "/graph?format=dot", supervisor_);
  EXPECT_EQ(dot.status, 200) << dot.body;
  EXPECT_EQ(dot.header("content-type"), "text/vnd.graphviz; charset=utf-8");
  EXPECT_NE(dot.body.find("  \"assessment\" [label=\"assessment\", style=\"rounded,filled,bold\""),
            std::string::npos)
      << dot.body;
  EXPECT_NE(dot.body.find("[label=\"(1) produce [caseworker] when age < 18\", color="),
            std::string::npos)
      << dot.body;

  // Whoever may not see the case may not see its graph either, and learns the same.
  const auto hidden = call("GET", "/v1/cases/" + id, stranger_);
  const auto hidden_graph = call("GET", "/v1/cases/" + id + "/graph", stranger_);
  EXPECT_NE(hidden.status, 200);
  EXPECT_EQ(hidden_graph.status, hidden.status) << hidden_graph.body;
  EXPECT_EQ(hidden_graph.header("content-type"), "application/problem+json");
}

// ---------------------------------------------------------------------------------------------
// Cases

TEST_F(ApiTest, OpensACaseWithLocationAndETag) {
  const auto r = call("POST", "/v1/cases", caseworker_,
                      R"({"workflow": "shelter", "data": {"name": "Nila Invented", "age": 12}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  const auto c = r.json().as_object();
  const std::string id(c.at("id").as_string());
  EXPECT_EQ(r.header("location"), "/v1/cases/" + id);
  EXPECT_EQ(r.header("etag"), "\"1\"");
  EXPECT_EQ(r.header("cache-control"), "no-store");
  EXPECT_EQ(c.at("workflow"), "shelter");
  EXPECT_EQ(c.at("workflow_version"), 1);
  EXPECT_EQ(c.at("state"), "intake");
  EXPECT_EQ(c.at("version"), 1);
  EXPECT_EQ(c.at("data"), boost::json::parse(R"({"name": "Nila Invented", "age": 12})"));
  EXPECT_EQ(c.at("created_at"), "2026-09-21T14:13:20.000Z");
  EXPECT_EQ(c.at("updated_at"), c.at("created_at"));
  EXPECT_EQ(c.at("redacted_fields"), boost::json::array());
  EXPECT_TRUE(c.at("code").as_string().starts_with("CP-"));

  const auto got = call("GET", "/v1/cases/" + id, caseworker_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.header("etag"), "\"1\"");
  EXPECT_EQ(got.json(), r.json());
}

TEST_F(ApiTest, OpeningWithoutDataIsAllowed) {
  const auto r = call("POST", "/v1/cases", caseworker_, R"({"workflow": "shelter"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json().at("data"), boost::json::object());
}

TEST_F(ApiTest, UnknownCaseIs404) {
  expect_problem(call("GET", "/v1/cases/0123456789abcdef", caseworker_), 404, "not-found");
  expect_problem(call("GET", "/v1/cases/0123456789abcdef/events", caseworker_), 404, "not-found");
  expect_problem(call("GET", "/v1/cases/0123456789abcdef/transitions", caseworker_), 404,
                 "not-found");
  expect_problem(call("PATCH", "/v1/cases/0123456789abcdef", caseworker_, R"({"data": {}})"), 404,
                 "not-found");
  expect_problem(fire("0123456789abcdef", R"({"event": "produce"})", caseworker_), 404,
                 "not-found");
  expect_alive();
}

TEST_F(ApiTest, MalformedBodiesAre400SayingWhatIsExpected) {
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"{\"workflow\": ", "not valid JSON"},
      {"", "empty"},
      {"[1, 2]", "must be a JSON object"},
      {"\"shelter\"", "must be a JSON object"},
      {R"({"workflow": "shelter", "data": [1]})", "'data' must be an object"},
      {R"({"workflow": 7})", "'workflow' must be a string"},
      {R"({"data": {}})", "'workflow' is required"},
      {R"({"workflow": "shelter", "extra": 1})", "unknown member 'extra'"},
  };
  for (const auto& [body, says] : bodies) {
    const auto r = call("POST", "/v1/cases", caseworker_, body);
    const auto problem = expect_problem(r, 400, "malformed-request");
    const std::string detail(problem.at("detail").as_string());
    EXPECT_NE(detail.find(says), std::string::npos) << detail;
    EXPECT_NE(detail.find("expected a JSON object"), std::string::npos) << detail;
  }
  const auto patch = call("PATCH", "/v1/cases/abc", caseworker_, R"({"comment": "x"})");
  expect_problem(patch, 400, "malformed-request");
  expect_alive();
}

TEST_F(ApiTest, OnlyJsonBodiesAreAccepted) {
  const auto r = call("POST", "/v1/cases", caseworker_, R"({"workflow": "shelter"})",
                      {{"Content-Type", "text/plain"}});
  expect_problem(r, 415, "unsupported-media-type");
  const auto charset = call("POST", "/v1/cases", caseworker_, R"({"workflow": "shelter"})",
                            {{"Content-Type", "Application/JSON; charset=utf-8"}});
  EXPECT_EQ(charset.status, 201) << charset.body;
  // curl -d sends application/x-www-form-urlencoded; the body is still read as JSON.
  const auto curl = call("POST", "/v1/cases", caseworker_, R"({"workflow": "shelter"})",
                         {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(curl.status, 201) << curl.body;
  const auto form = call("POST", "/v1/cases", caseworker_, R"({"workflow": "shelter"})",
                         {{"Content-Type", "multipart/form-data; boundary=x"}});
  expect_problem(form, 415, "unsupported-media-type");

  // No Content-Type at all is taken as JSON.
  const std::string body = R"({"workflow": "shelter"})";
  const std::string raw = raw_request(
      port_,
      "POST /v1/cases HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer " +
          caseworker_ + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 201")) << raw;
  expect_alive();
}

TEST_F(ApiTest, RolesAndFieldChecksOfOpening) {
  expect_problem(call("POST", "/v1/cases", stranger_, R"({"workflow": "shelter"})"), 403,
                 "forbidden");
  expect_problem(call("POST", "/v1/cases", caseworker_, R"({"workflow": "elsewhere"})"), 404,
                 "unknown-workflow");
  auto invalid = expect_problem(
      call("POST", "/v1/cases", caseworker_, R"({"workflow": "shelter", "data": {"age": "ten"}})"),
      422, "invalid-fields");
  EXPECT_EQ(invalid["invalid_fields"].at(0).at("field"), "age");
  auto forbidden = expect_problem(
      call("POST", "/v1/cases", caseworker_, R"({"workflow": "shelter", "data": {"notes": "n"}})"),
      403, "forbidden-fields");
  EXPECT_EQ(forbidden["forbidden_fields"], boost::json::parse(R"(["notes"])"));
  // A caller with no role in the case's workflow may not know the case exists: 404, as for an
  // unknown id.
  const auto other = call("GET", "/v1/cases/" + open_case(), stranger_);
  expect_problem(other, 404, "not-found");
  expect_alive();
}

TEST_F(ApiTest, PatchEditsFieldsAndChecksIfMatch) {
  const std::string id = open_case();
  const auto r = call("PATCH", "/v1/cases/" + id, caseworker_,
                      R"({"data": {"age": 11}, "comment": "from the school record"})",
                      {{"If-Match", "\"1\""}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("etag"), "\"2\"");
  EXPECT_EQ(r.json().at("data").at("age"), 11);
  EXPECT_EQ(r.json().at("state"), "intake");

  const auto stale = call("PATCH", "/v1/cases/" + id, caseworker_, R"({"data": {"age": 12}})",
                          {{"If-Match", "\"1\""}});
  auto problem = expect_problem(stale, 412, "version-mismatch");
  EXPECT_EQ(problem["current_version"], 2);
  expect_problem(
      call("PATCH", "/v1/cases/" + id, caseworker_, R"({"data": {}})", {{"If-Match", "v2"}}), 400,
      "malformed-request");
  expect_problem(call("PATCH", "/v1/cases/" + id, caseworker_, R"({"data": {"age": -4}})"), 422,
                 "invalid-fields");
  expect_alive();
}

// ---------------------------------------------------------------------------------------------
// Events

TEST_F(ApiTest, FiresAnEvent) {
  const std::string id = open_case();
  const auto r = fire(id,
                      R"({"event": "produce", "data": {"order_no": "ORD-INVENTED-77", "age": 14},
                          "comment": "produced before the committee"})",
                      caseworker_);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto c = r.json().as_object();
  EXPECT_EQ(c.at("state"), "assessment");
  EXPECT_EQ(c.at("version"), 2);
  EXPECT_EQ(r.header("etag"), "\"2\"");
  EXPECT_EQ(r.header("idempotent-replayed"), "");
  EXPECT_EQ(c.at("data").at("order_no"), kOrderNo);
}

TEST_F(ApiTest, AcceptsIfMatchAsQuotedBareOrWeak) {
  const std::string id = open_case();
  for (const std::string& tag : {std::string("\"1\""), std::string("2"), std::string("W/\"3\"")}) {
    const auto r = call("PATCH", "/v1/cases/" + id, caseworker_,
                        R"({"data": {}, "comment": "checked"})", {{"If-Match", tag}});
    EXPECT_EQ(r.status, 200) << tag << ": " << r.body;
  }
  for (const std::string& tag :
       {std::string(R"("x")"), std::string(R"("1", "2")"), std::string("-1"), std::string("W/")}) {
    expect_problem(fire(id, R"({"event": "note"})", caseworker_, {{"If-Match", tag}}), 400,
                   "malformed-request");
  }
  expect_alive();
}

TEST_F(ApiTest, EveryRefusalOfAnEventHasItsProblem) {
  const std::string id = open_case();

  auto no_row =
      expect_problem(fire(id, R"({"event": "close"})", caseworker_), 409, "no-transition");
  EXPECT_EQ(no_row["allowed_events"], boost::json::parse(R"(["produce"])"));
  EXPECT_EQ(no_row["title"], "no transition for this event");

  expect_problem(fire(id, R"({"event": "produce"})", counsellor_), 403, "forbidden");

  auto forbidden =
      expect_problem(fire(id, R"({"event": "produce", "data": {"notes": "n"}})", caseworker_), 403,
                     "forbidden-fields");
  EXPECT_EQ(forbidden["forbidden_fields"], boost::json::parse(R"(["notes"])"));

  auto invalid = expect_problem(
      fire(id, R"({"event": "produce", "data": {"age": "old", "risk": "medium"}})", caseworker_),
      422, "invalid-fields");
  EXPECT_EQ(invalid["invalid_fields"].as_array().size(), 2U);

  auto missing = expect_problem(
      fire(id, R"({"event": "produce", "data": {"age": 9}})", caseworker_), 422, "missing-fields");
  EXPECT_EQ(missing["missing_fields"], boost::json::parse(R"(["order_no"])"));

  auto guard = expect_problem(
      fire(id, R"({"event": "produce", "data": {"age": 19, "order_no": "X-1"}})", caseworker_), 409,
      "guard-failed");
  EXPECT_EQ(guard["guards"].at(0).at("when"), "age < 18");

  auto stale =
      expect_problem(fire(id, R"({"event": "produce", "data": {"age": 9, "order_no": "X-1"}})",
                          caseworker_, {{"If-Match", "\"5\""}}),
                     412, "version-mismatch");
  EXPECT_EQ(stale["current_version"], 1);

  // None of the refusals changed the case.
  EXPECT_EQ(history_size(id), 1U);
  expect_alive();
}

TEST_F(ApiTest, TokenIsCheckedBeforeTheBodyAndTheBodyBeforeTheCase) {
  expect_problem(fire("no-such-case", "not json", ""), 401, "unauthenticated");
  expect_problem(fire("no-such-case", "not json", caseworker_), 400, "malformed-request");
  expect_problem(fire("no-such-case", R"({"event": 1})", caseworker_), 400, "malformed-request");
  expect_problem(fire("no-such-case", R"({"event": "produce", "data": "x"})", caseworker_), 400,
                 "malformed-request");
  expect_problem(fire("no-such-case", R"({"event": "produce", "comment": 3})", caseworker_), 400,
                 "malformed-request");
  expect_problem(fire("no-such-case", R"({"event": "produce"})", caseworker_), 404, "not-found");
  expect_alive();
}

TEST_F(ApiTest, ReplaysAnIdempotentRequest) {
  const std::string id = open_case();
  const Headers key = {{"Idempotency-Key", "produce-once-1"}};
  const std::string body =
      R"({"event": "produce", "data": {"order_no": "X-1", "age": 9}, "comment": "first"})";
  const auto first = fire(id, body, caseworker_, key);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(history_size(id), 2U);

  const auto again = fire(id, body, caseworker_, key);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(again.json(), first.json());
  EXPECT_EQ(again.header("etag"), first.header("etag"));
  EXPECT_EQ(history_size(id), 2U);

  // Member order does not make a different request.
  const auto reordered =
      fire(id, R"({"comment": "first", "data": {"age": 9, "order_no": "X-1"}, "event": "produce"})",
           caseworker_, key);
  EXPECT_EQ(reordered.status, 200) << reordered.body;
  EXPECT_EQ(reordered.header("idempotent-replayed"), "true");

  const auto other = fire(id, R"({"event": "note"})", caseworker_, key);
  expect_problem(other, 422, "idempotency-key-reused");
  EXPECT_EQ(history_size(id), 2U);
  expect_alive();
}

TEST_F(ApiTest, RejectsBadIdempotencyKeys) {
  const std::string id = open_case();
  for (const std::string& key : {std::string(201, 'k'), std::string("tab\there")}) {
    expect_problem(fire(id, R"({"event": "note"})", caseworker_, {{"Idempotency-Key", key}}), 400,
                   "malformed-request");
  }
  const auto longest =
      fire(id, R"({"event": "close"})", caseworker_, {{"Idempotency-Key", std::string(200, 'k')}});
  EXPECT_EQ(longest.status, 409) << longest.body;  // the key was fine; the event was not
  expect_alive();
}

// ---------------------------------------------------------------------------------------------
// Visibility

TEST_F(ApiTest, FieldsAreRedactedPerRole) {
  const std::string id = open_case(R"({"name": "Nila Invented", "age": 10})");
  const auto noted = call("PATCH", "/v1/cases/" + id, counsellor_,
                          R"({"data": {"notes": "invented private note"}})");
  ASSERT_EQ(noted.status, 200) << noted.body;
  EXPECT_EQ(noted.json().at("data").at("notes"), kSecretNote);
  EXPECT_EQ(noted.json().at("redacted_fields"), boost::json::array());

  const auto seen = call("GET", "/v1/cases/" + id, caseworker_);
  ASSERT_EQ(seen.status, 200) << seen.body;
  EXPECT_FALSE(seen.json().at("data").as_object().contains("notes"));
  EXPECT_EQ(seen.json().at("data").at("name"), kChildName);
  EXPECT_EQ(seen.json().at("redacted_fields"), boost::json::parse(R"(["notes"])"));
  EXPECT_EQ(seen.body.find(kSecretNote), std::string::npos);

  const auto listed = call("GET", "/v1/cases", supervisor_);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.find(kSecretNote), std::string::npos);

  const auto history = call("GET", "/v1/cases/" + id + "/events", caseworker_);
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(history.body.find(kSecretNote), std::string::npos);
  EXPECT_EQ(history.body.find(kChildName), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Lists

TEST_F(ApiTest, PagesThroughCases) {
  std::set<std::string> opened;
  for (int i = 0; i < 5; ++i) {
    opened.insert(open_case());
  }
  std::set<std::string> seen;
  std::string target = "/v1/cases?workflow=shelter&limit=2";
  int pages = 0;
  while (true) {
    const auto r = call("GET", target, caseworker_);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto page = r.json().as_object();
    EXPECT_LE(page.at("items").as_array().size(), 2U);
    for (const auto& item : page.at("items").as_array()) {
      EXPECT_TRUE(seen.insert(std::string(item.at("id").as_string())).second);
    }
    ++pages;
    ASSERT_LE(pages, 5);
    if (page.at("next_cursor").is_null()) {
      break;
    }
    target = "/v1/cases?workflow=shelter&limit=2&cursor=" +
             std::string(page.at("next_cursor").as_string());
  }
  EXPECT_EQ(seen, opened);
  EXPECT_EQ(pages, 3);

  // A blank filter means "any", as a blank form field does.
  const auto blank = call("GET", "/v1/cases?workflow=&state=&cursor=&limit=10", caseworker_);
  ASSERT_EQ(blank.status, 200) << blank.body;
  EXPECT_EQ(blank.json().at("items").as_array().size(), 5U);

  const auto by_state = call("GET", "/v1/cases?state=assessment", caseworker_);
  ASSERT_EQ(by_state.status, 200);
  EXPECT_EQ(by_state.json().at("items"), boost::json::array());
  EXPECT_TRUE(by_state.json().at("next_cursor").is_null());
}

TEST_F(ApiTest, BadListParametersAre400WithInvalidParams) {
  for (const std::string& query :
       {std::string("limit=0"), std::string("limit=501"), std::string("limit=abc"),
        std::string("limit="), std::string("limit=-1"), std::string("limit=1.5")}) {
    auto problem =
        expect_problem(call("GET", "/v1/cases?" + query, caseworker_), 400, "invalid-params");
    EXPECT_EQ(problem["invalid_params"].at(0).at("name"), "limit") << query;
  }
  auto unknown = expect_problem(call("GET", "/v1/cases?colour=red&limit=2&limit=3", caseworker_),
                                400, "invalid-params");
  EXPECT_EQ(unknown["invalid_params"].as_array().size(), 2U);
  expect_problem(call("GET", "/v1/cases/abc/events?limit=0", caseworker_), 400, "invalid-params");
  EXPECT_EQ(call("GET", "/v1/cases?limit=500", caseworker_).status, 200);
  expect_alive();
}

TEST_F(ApiTest, PagesThroughHistoryWithoutPayloads) {
  const std::string id = open_case();
  ASSERT_EQ(fire(id, R"({"event": "produce", "data": {"order_no": "ORD-INVENTED-77", "age": 9}})",
                 caseworker_)
                .status,
            200);
  ASSERT_EQ(fire(id, R"({"event": "note", "comment": "visit planned"})", caseworker_).status, 200);

  std::vector<boost::json::object> entries;
  std::string target = "/v1/cases/" + id + "/events?limit=1";
  for (int page = 0; page < 5; ++page) {
    const auto r = call("GET", target, caseworker_);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.find(kOrderNo), std::string::npos);
    const auto body = r.json().as_object();
    for (const auto& item : body.at("items").as_array()) {
      entries.push_back(item.as_object());
    }
    if (body.at("next_cursor").is_null()) {
      break;
    }
    target = "/v1/cases/" + id +
             "/events?limit=1&cursor=" + std::string(body.at("next_cursor").as_string());
  }
  ASSERT_EQ(entries.size(), 3U);
  for (const auto& e : entries) {
    EXPECT_EQ(e.size(), 9U) << boost::json::serialize(e);
    for (const char* member :
         {"seq", "at", "actor", "event", "from", "to", "version", "changed", "comment"}) {
      EXPECT_TRUE(e.contains(member)) << member;
    }
  }
  EXPECT_EQ(entries[0].at("event"), "opened");
  EXPECT_TRUE(entries[0].at("from").is_null());
  EXPECT_TRUE(entries[0].at("comment").is_null());
  EXPECT_EQ(entries[0].at("changed"), boost::json::parse(R"(["name"])"));
  EXPECT_EQ(entries[1].at("event"), "produce");
  EXPECT_EQ(entries[1].at("from"), "intake");
  EXPECT_EQ(entries[1].at("to"), "assessment");
  EXPECT_EQ(entries[1].at("actor"), "asha");
  EXPECT_EQ(entries[1].at("version"), 2);
  EXPECT_EQ(entries[1].at("at"), "2026-09-21T14:13:20.000Z");
  EXPECT_EQ(entries[2].at("comment"), "visit planned");
  EXPECT_EQ(entries[2].at("seq"), 3);
}

TEST_F(ApiTest, ListsTheTransitionsOpenToTheCaller) {
  const std::string id = open_case();
  const auto r = call("GET", "/v1/cases/" + id + "/transitions", caseworker_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), boost::json::parse(R"({"case_id": ")" + id + R"(", "state": "intake",
      "items": [{"event": "produce", "to": "assessment", "roles": ["caseworker"],
                 "missing_fields": ["order_no", "age"], "missing_consents": [],
                 "guard": {"when": "age < 18", "passed": false, "unset_field": null},
                 "ready": false}]})"));

  ASSERT_EQ(
      call("PATCH", "/v1/cases/" + id, caseworker_, R"({"data": {"order_no": "X-1", "age": 9}})")
          .status,
      200);
  const auto ready = call("GET", "/v1/cases/" + id + "/transitions", caseworker_);
  const auto ready_json = ready.json();
  const auto& item = ready_json.at("items").at(0);
  EXPECT_EQ(item.at("ready"), true);
  EXPECT_EQ(item.at("guard").at("passed"), true);
  EXPECT_EQ(item.at("missing_fields"), boost::json::array());

  const auto none = call("GET", "/v1/cases/" + id + "/transitions", supervisor_);
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.json().at("items"), boost::json::array());
}

// ---------------------------------------------------------------------------------------------
// The wire

TEST_F(ApiTest, RequestIdsRoundTripOrAreMadeUp) {
  const auto mine = http_request(port_, "GET", "/healthz", {}, {{"X-Request-Id", "req-abc-123"}});
  EXPECT_EQ(mine.header("x-request-id"), "req-abc-123");
  const auto made = http_request(port_, "GET", "/healthz");
  EXPECT_EQ(made.header("x-request-id").size(), 32U);
  const auto insane =
      http_request(port_, "GET", "/healthz", {}, {{"X-Request-Id", std::string(129, 'r')}});
  EXPECT_EQ(insane.header("x-request-id").size(), 32U);
  const auto problem = call("GET", "/v1/nothing", "", {}, {{"X-Request-Id", "req-err-1"}});
  EXPECT_EQ(problem.header("x-request-id"), "req-err-1");
}

TEST_F(ApiTest, LogsOneLinePerRequestWithoutValues) {
  const std::string id = open_case();
  ASSERT_EQ(fire(id, R"({"event": "produce", "data": {"order_no": "ORD-INVENTED-77", "age": 99}})",
                 caseworker_)
                .status,
            422);
  call("GET", "/v1/cases?state=intake&limit=3", caseworker_, {}, {{"X-Request-Id", "req-log-1"}});
  server_->stop();  // every line is written once the threads are joined

  const std::lock_guard lock(log_mutex());
  bool found = false;
  for (const auto& line : log_lines()) {
    EXPECT_EQ(line.find(kChildName), std::string::npos) << line;
    EXPECT_EQ(line.find(kOrderNo), std::string::npos) << line;
    EXPECT_EQ(line.find(caseworker_), std::string::npos) << line;  // nor the secret token
    if (line.find("request_id=req-log-1") != std::string::npos) {
      found = true;
      EXPECT_NE(line.find("request method=GET route=/v1/cases status=200 ms="), std::string::npos)
          << line;
      EXPECT_EQ(line.find("intake"), std::string::npos) << line;  // no query values
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ApiTest, ACaseOnAnUnloadedVersionIs503WithAHintAndNoInternals) {
  // A case on a workflow version this server has not loaded (another process migrated it, or
  // the file is gone): the answer says what to do and carries nothing else (a 5xx never does).
  CaseRecord ghost;
  ghost.id = "ghost00000000000";
  ghost.code = "CP-GHST-0001";
  ghost.workflow = "vanished";
  ghost.workflow_version = 1;
  ghost.state = "intake";
  ghost.version = 1;
  HistoryEntry opened;
  opened.actor = "asha";
  opened.event = "opened";
  opened.to = "intake";
  opened.version = 1;
  ASSERT_TRUE(store_->create_case(ghost, opened, {}));
  const auto r = call("GET", "/v1/cases/ghost00000000000", caseworker_);
  auto problem = expect_problem(r, 503, "workflow-version-not-loaded");
  EXPECT_EQ(problem.size(), 4U) << r.body;
  EXPECT_NE(r.body.find("POST /v1/admin/workflows/reload"), std::string::npos) << r.body;
  expect_alive();
}

class SmallLimitsTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    ServerOptions options;
    options.port = 0;
    options.body_limit = 256;
    options.header_limit = 1024;
    options.threads = 1;
    small_ = std::make_unique<Server>(options, *runtime_, *store_);
    auto port = small_->start();
    ASSERT_TRUE(port) << port.error().message;
    small_port_ = *port;
  }
  void TearDown() override {
    small_.reset();
    ApiTest::TearDown();
  }

  std::unique_ptr<Server> small_;
  std::uint16_t small_port_ = 0;
};

TEST_F(SmallLimitsTest, BodiesOverTheLimitAre413AndTheConnectionCloses) {
  const std::string body =
      R"({"workflow": "shelter", "data": {"name": ")" + std::string(1000, 'n') + R"("}})";
  const auto r = http_request(small_port_, "POST", "/v1/cases", body,
                              {{"Authorization", "Bearer " + caseworker_}});
  expect_problem(r, 413, "too-large");
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_EQ(http_request(small_port_, "GET", "/healthz").status, 200);

  // Chunked bodies are counted too.
  std::string chunked = "POST /v1/cases HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) {
    chunked += "40\r\n" + std::string(64, 'x') + "\r\n";
  }
  chunked += "0\r\n\r\n";
  const std::string raw = raw_request(small_port_, chunked);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 413")) << raw;
  EXPECT_EQ(http_request(small_port_, "GET", "/healthz").status, 200);
}

TEST_F(SmallLimitsTest, HeadersOverTheLimitAre431) {
  const auto r =
      http_request(small_port_, "GET", "/healthz", {}, {{"X-Padding", std::string(2000, 'p')}});
  expect_problem(r, 431, "request-header-too-large");
  EXPECT_EQ(http_request(small_port_, "GET", "/healthz").status, 200);
}

TEST_F(ApiTest, MalformedHttpIs400AndTheServerCarriesOn) {
  const std::string raw = raw_request(port_, "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 400")) << raw;
  EXPECT_NE(raw.find("application/problem+json"), std::string::npos) << raw;
  const std::string bad_length =
      raw_request(port_, "POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  EXPECT_TRUE(bad_length.starts_with("HTTP/1.1 400")) << bad_length;
  expect_alive();
}

TEST_F(ApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string one = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string raw = raw_request(port_, one + one + one);
  std::size_t answers = 0;
  for (auto at = raw.find("HTTP/1.1 200"); at != std::string::npos;
       at = raw.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 3U) << raw;
}

TEST_F(ApiTest, ServesConcurrentClients) {
  const std::string id = open_case();
  std::vector<std::thread> threads;
  threads.reserve(6);
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        try {
          if (call("GET", "/v1/cases/" + id, caseworker_).status == 200) {
            ++ok;
          }
        } catch (const std::exception&) {
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 60);
}

// Servers with their own I/O and request thread counts, beside the fixture's (port 0: direct).
class ThreadCountsTest : public ApiTest {
 protected:
  void TearDown() override {
    servers_.clear();
    ApiTest::TearDown();
  }

  std::uint16_t start_server(int io_threads, int threads, ReloadWorkflows reload = {}) {
    ServerOptions options;
    options.port = 0;
    options.io_threads = io_threads;
    options.threads = threads;
    options.reload_workflows = std::move(reload);
    servers_.push_back(std::make_unique<Server>(options, *runtime_, *store_));
    const auto port = servers_.back()->start();
    if (!port) {
      ADD_FAILURE() << port.error().message;
      return 0;
    }
    return *port;
  }

  // Six clients at once, each opening cases and reading them back with ids of its own: every
  // answer must be the one to its own request.
  void expect_clients_served(std::uint16_t port) {
    std::vector<std::thread> clients;
    clients.reserve(6);
    std::atomic<int> ok{0};
    std::mutex failures_mutex;
    std::vector<std::string> failures;
    const auto fail = [&](std::string what) {
      const std::lock_guard lock(failures_mutex);
      failures.push_back(std::move(what));
    };
    for (int t = 0; t < 6; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < 8; ++i) {
          const std::string tag = std::to_string(t) + "-" + std::to_string(i);
          const std::string order = "ORD-INVENTED-" + tag;
          try {
            const auto opened = http_request(
                port, "POST", "/v1/cases",
                R"({"workflow": "shelter", "data": {"order_no": ")" + order + R"("}})",
                {{"Authorization", "Bearer " + caseworker_}, {"X-Request-Id", "open-" + tag}});
            if (opened.status != 201 || opened.header("x-request-id") != "open-" + tag) {
              fail("open " + tag + ": " + std::to_string(opened.status) + " " + opened.body);
              continue;
            }
            const auto opened_json = opened.json();
            const std::string id(opened_json.at("id").as_string());
            const auto read =
                http_request(port, "GET", "/v1/cases/" + id, {},
                             {{"Authorization", "Bearer " + caseworker_}, {"X-Request-Id", tag}});
            const auto read_json = read.json();
            if (read.status != 200 || read.header("x-request-id") != tag ||
                read_json.at("data").at("order_no") != boost::json::value(order)) {
              fail("read " + tag + ": " + std::to_string(read.status) + " " + read.body);
              continue;
            }
            if (http_request(port, "GET", "/healthz").status != 200) {
              fail("healthz " + tag);
              continue;
            }
            ++ok;
          } catch (const std::exception& e) {
            fail(tag + ": " + e.what());
          }
        }
      });
    }
    for (auto& client : clients) {
      client.join();
    }
    EXPECT_EQ(ok.load(), 6 * 8);
    for (const auto& failure : failures) {
      ADD_FAILURE() << failure;
    }
  }

  std::vector<std::unique_ptr<Server>> servers_;
};

TEST_F(ThreadCountsTest, OneIoThreadAndOneRequestThreadServeConcurrentClients) {
  const std::uint16_t port = start_server(1, 1);
  ASSERT_NE(port, 0);
  expect_clients_served(port);
}

TEST_F(ThreadCountsTest, TheLargestThreadCountsServeConcurrentClients) {
  const std::uint16_t port = start_server(64, 512);
  ASSERT_NE(port, 0);
  expect_clients_served(port);
}

// A handler that blocks: POST /v1/admin/workflows/reload waits until the test lets it go.
struct BlockingReload {
  std::mutex mutex;
  std::condition_variable changed;
  int entered = 0;       // GUARDED_BY(mutex)
  bool release = false;  // GUARDED_BY(mutex)

  ReloadWorkflows hook() {
    return [this]() -> Result<boost::json::value> {
      std::unique_lock lock(mutex);
      ++entered;
      changed.notify_all();
      changed.wait_for(lock, std::chrono::seconds(20), [this] { return release; });
      return boost::json::value(boost::json::object{{"workflows", boost::json::array{}}});
    };
  }
  bool wait_entered(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] { return entered >= n; });
  }
  void let_go() {
    {
      const std::lock_guard lock(mutex);
      release = true;
    }
    changed.notify_all();
  }
};

// POST /v1/admin/workflows/reload as `admin` on a thread of its own (the hook of BlockingReload
// holds it); its answer lands in `answer` once the thread is joined.
std::thread reload_in_background(std::uint16_t port, const std::string& admin,
                                 HttpResponse& answer) {
  return std::thread([port, admin, &answer] {
    try {
      answer = http_request(port, "POST", "/v1/admin/workflows/reload", {},
                            {{"Authorization", "Bearer " + admin}});
    } catch (const std::exception& e) {
      ADD_FAILURE() << "slow request: " << e.what();
    }
  });
}

// With one I/O thread and one request thread, a request blocked in its handler holds the only
// request thread, yet /healthz on another connection is answered at once (by the I/O thread),
// and a second request on a third connection waits its turn and is then answered.
TEST_F(ThreadCountsTest, ABlockedHandlerDoesNotStopTheIoThread) {
  BlockingReload blocking;
  const std::uint16_t port = start_server(1, 1, blocking.hook());
  ASSERT_NE(port, 0);
  const std::string admin = issue("ops.admin", {"admin"});

  HttpResponse slow;
  std::thread slow_client = reload_in_background(port, admin, slow);
  const bool entered = blocking.wait_entered(1);
  EXPECT_TRUE(entered) << "the reload handler never ran";

  std::atomic<int> queued_status{0};
  std::thread queued_client([&] {
    try {
      queued_status = http_request(port, "GET", "/v1/workflows", {},
                                   {{"Authorization", "Bearer " + caseworker_}})
                          .status;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "queued request: " << e.what();
    }
  });

  if (entered) {
    for (int i = 0; i < 3; ++i) {
      const auto started = std::chrono::steady_clock::now();
      try {
        const auto health = http_request(port, "GET", "/healthz");
        EXPECT_EQ(health.status, 200) << health.body;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "/healthz while a handler blocks: " << e.what();
      }
      EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::lock_guard lock(blocking.mutex);
    EXPECT_FALSE(blocking.release);      // the healthz answers came while the handler still blocked
    EXPECT_EQ(queued_status.load(), 0);  // the only request thread is busy: not answered yet
  }

  blocking.let_go();
  slow_client.join();
  queued_client.join();
  EXPECT_EQ(slow.status, 200) << slow.body;
  EXPECT_EQ(queued_status.load(), 200);
}

// stop() lets a handler in flight finish, and its answer reaches the client.
TEST_F(ThreadCountsTest, StopWaitsForAHandlerInFlight) {
  BlockingReload blocking;
  const std::uint16_t port = start_server(1, 2, blocking.hook());
  ASSERT_NE(port, 0);
  const std::string admin = issue("ops.admin", {"admin"});

  HttpResponse slow;
  std::thread slow_client = reload_in_background(port, admin, slow);
  EXPECT_TRUE(blocking.wait_entered(1));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    servers_.front()->stop();
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(stopped.load());  // still waiting for the handler
  blocking.let_go();
  stopper.join();
  slow_client.join();
  EXPECT_EQ(slow.status, 200) << slow.body;
  EXPECT_EQ(slow.header("connection"), "close");
}

TEST_F(ApiTest, AnswersExpectContinueBeforeTheBody) {
  const std::string body = R"({"workflow": "shelter"})";
  const std::string raw = raw_request(
      port_, "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + caseworker_ +
                 "\r\nContent-Type: application/json\r\n" +
                 "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\n\r\n" + body);
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201")) << raw;
}

TEST_F(ApiTest, StoppingUnderLoadNeitherHangsNorCrashes) {
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  clients.reserve(4);
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        try {
          const auto r = call("GET", "/v1/workflows", caseworker_);
          EXPECT_EQ(r.status, 200);
          ++answered;
        } catch (const std::runtime_error&) {
          ++refused;  // after stop(): refused or closed, but never hung
        }
      }
    });
  }
  while (answered.load() < 10) {
    std::this_thread::yield();
  }
  const auto before = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(10));
  for (auto& c : clients) {
    c.join();
  }
  EXPECT_EQ(answered.load() + refused.load(), 100);
}

TEST_F(ApiTest, StartFailsClearlyWhenThePortIsTaken) {
  ServerOptions options;
  options.port = port_;
  Server second(options, *runtime_, *store_);
  auto started = second.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Errc::unavailable);
  EXPECT_NE(started.error().message.find("127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << started.error().message;
  expect_alive();
}

TEST_F(ApiTest, StopClosesIdleKeepAliveConnectionsPromptly) {
  // A plain socket, kept open after one answer, as a browser or app would.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::array<char, 4096> buffer{};
  ASSERT_GT(::recv(fd, buffer.data(), buffer.size(), 0), 0);

  const auto before = std::chrono::steady_clock::now();
  server_->stop();
  server_->stop();  // idempotent
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  EXPECT_EQ(::recv(fd, buffer.data(), buffer.size(), 0), 0);  // closed by the server
  ::close(fd);
  EXPECT_THROW(http_request(port_, "GET", "/healthz"), std::runtime_error);
}

// The server's threads carry names (core/thread_name.hpp), so that `top -H` and a profiler tell
// the I/O threads from the request threads; stopping the server ends them all.
TEST_F(ApiTest, ServerThreadsAreNamedAndEndWithTheServer) {
  const ServerOptions defaults;
  auto names =
      test::thread_names({{"cp-io", defaults.io_threads}, {"cp-request", defaults.threads}});
  EXPECT_EQ(names["cp-io"], defaults.io_threads);
  EXPECT_EQ(names["cp-request"], defaults.threads);
  server_->stop();
  names = test::thread_names({{"cp-io", 0}, {"cp-request", 0}});
  EXPECT_EQ(names["cp-io"], 0);
  EXPECT_EQ(names["cp-request"], 0);
}

// A write the storage refused or could not make durable: 503 with Retry-After, so that a client
// waits and sends the same request (same Idempotency-Key) again.
TEST(Problem, StorageUnavailableIs503WithRetryAfter) {
  const HttpReply reply = render_problem(Error{
      Errc::unavailable, "sqlite: commit: database or disk is full", {}, "storage-unavailable"});
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.content_type, "application/problem+json");
  const auto body = boost::json::parse(reply.body);
  EXPECT_EQ(body.at("type"), "/problems/storage-unavailable");
  EXPECT_EQ(body.at("title"), "storage unavailable");
  bool retry_after = false;
  for (const auto& [name, value] : reply.headers) {
    retry_after = retry_after || (name == "Retry-After" && value == "30");
  }
  EXPECT_TRUE(retry_after);
}

}  // namespace
}  // namespace carepath::api
