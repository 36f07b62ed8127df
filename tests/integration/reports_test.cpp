// GET /v1/reports/...: who may read them, what they count on cases driven through the real
// engine and the shipped aftercare workflow (its `counts_as` and `outcome` words), their formats,
// the 400s, and the audit row each answer writes.
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/time.hpp"
#include "core/timezone.hpp"
#include "tests/integration/encrypted_engine.hpp"

namespace carepath {
namespace {

class Reports : public test::EncryptedEngineTest {
 protected:
  void SetUp() override {
    EncryptedEngineTest::SetUp();
    start();
    caseworker_ = token("asha.caseworker", {"caseworker"});
    supervisor_ = token("sita.supervisor", {"supervisor"});
    admin_ = token("ravi.admin", {"admin"});
    auditor_ = token("ira.auditor", {"auditor"});
  }

  std::string open_case(const std::string& home) {
    auto opened = call("POST", "/v1/cases", caseworker_,
                       R"({"workflow": "aftercare", "data": {"home": ")" + home + R"("}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    return opened.status == 201 ? std::string(opened.json().at("id").as_string()) : "";
  }

  void fire(const std::string& id, const std::string& bearer, const std::string& body) {
    auto fired = call("POST", "/v1/cases/" + id + "/events", bearer, body);
    ASSERT_EQ(fired.status, 200) << fired.body;
  }

  // The quarter and half year containing now, on the organisation's calendar (Asia/Kolkata).
  static std::string current(char letter) {
    const LocalTime local =
        TimeZone::with_offset("Asia/Kolkata", 19800).to_local(SystemClock().now());
    const int part = letter == 'Q' ? (local.month - 1) / 3 + 1 : (local.month - 1) / 6 + 1;
    return std::to_string(local.year) + "-" + letter + std::to_string(part);
  }

  std::vector<boost::json::object> report_rows() {
    auto trail = call("GET", "/v1/audit?action=report&limit=500", auditor_);
    EXPECT_EQ(trail.status, 200) << trail.body;
    std::vector<boost::json::object> rows;
    const auto json = trail.json();
    for (const auto& item : json.at("items").as_array()) {
      rows.push_back(item.as_object());
    }
    return rows;
  }

  std::string caseworker_;
  std::string supervisor_;
  std::string admin_;
  std::string auditor_;
};

TEST_F(Reports, CountTheCasesOfTheShippedWorkflowByItsOutcomeWords) {
  const std::string produced = open_case("umang");
  const std::string died = open_case("udaan");
  fire(produced, caseworker_,
       R"({"event": "produced_before_cwc", "data": {"cwc_order_no": "CWC/TEST/1", "age": 14}})");
  fire(died, supervisor_, R"({"event": "died", "data": {"date_of_death": "2026-01-02"}})");

  // Caseload: the case in assessment; the one that died is closed.
  auto caseload = call("GET", "/v1/reports/caseload", supervisor_);
  ASSERT_EQ(caseload.status, 200) << caseload.body;
  const auto load = caseload.json();
  EXPECT_EQ(load.at("report"), "caseload");
  EXPECT_EQ(load.at("total"), 1);
  ASSERT_EQ(load.at("items").as_array().size(), 1U);
  const auto& row = load.at("items").as_array()[0].as_object();
  EXPECT_EQ(row.at("state"), "assessment");
  EXPECT_EQ(row.at("home"), "umang");
  EXPECT_EQ(row.at("assignee"), "asha.caseworker");
  EXPECT_EQ(row.at("cases"), 1);

  // Outcomes: the final state `died` has outcome died.
  auto outcomes = call("GET", "/v1/reports/outcomes?workflow=aftercare", admin_);
  ASSERT_EQ(outcomes.status, 200) << outcomes.body;
  const auto ended = outcomes.json();
  EXPECT_EQ(ended.at("totals").at("died"), 1);
  EXPECT_EQ(ended.at("totals").at("restored"), 0);
  ASSERT_EQ(ended.at("items").as_array().size(), 1U);
  EXPECT_EQ(ended.at("items").as_array()[0].at("final_state"), "died");

  // The CWC's quarter: one death, in home udaan; nobody restored or run away.
  auto cwc = call("GET", "/v1/reports/cwc-quarterly?quarter=" + current('Q'), supervisor_);
  ASSERT_EQ(cwc.status, 200) << cwc.body;
  const auto quarter = cwc.json();
  EXPECT_EQ(quarter.at("period"), current('Q').c_str());
  EXPECT_EQ(quarter.at("totals"),
            (boost::json::object{{"restored", 0}, {"died", 1}, {"ran_away", 0}}));
  ASSERT_EQ(quarter.at("items").as_array().size(), 1U);
  EXPECT_EQ(quarter.at("items").as_array()[0].at("home"), "udaan");
  // The quarter before has none.
  auto before = call("GET", "/v1/reports/cwc-quarterly?quarter=2020-Q1", supervisor_);
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(before.json().at("totals").at("died"), 0);

  // Flow over the last hour and the next: both opened into intake and left it.
  const Timestamp now = SystemClock().now();
  auto flow = call("GET",
                   "/v1/reports/flow?from=" + format_timestamp(now - 3'600'000) +
                       "&to=" + format_timestamp(now + 3'600'000),
                   supervisor_);
  ASSERT_EQ(flow.status, 200) << flow.body;
  const auto moved = flow.json();
  bool saw_intake = false;
  for (const auto& item : moved.at("items").as_array()) {
    if (item.at("state") == "intake") {
      saw_intake = true;
      EXPECT_EQ(item.at("entered"), 2);
      EXPECT_EQ(item.at("left"), 2);
      EXPECT_EQ(item.at("stays"), 2);
      EXPECT_TRUE(item.at("median_ms").is_int64());
    }
    if (item.at("state") == "died") {
      EXPECT_EQ(item.at("entered"), 1);
      EXPECT_EQ(item.at("left"), 0);
    }
  }
  EXPECT_TRUE(saw_intake) << flow.body;

  // Nobody left care for her family or aftercare.
  auto list = call("GET", "/v1/reports/aftercare-list?half=" + current('H'), admin_);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json().at("children"), 0);
}

TEST_F(Reports, ComeAsCsvAndSvgAndEveryAnswerIsAudited) {
  open_case("umang");
  auto csv = call("GET", "/v1/reports/caseload?format=csv", supervisor_);
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv.header("content-disposition"), "attachment; filename=\"carepath-caseload.csv\"");
  EXPECT_EQ(csv.body,
            "workflow,state,home,assignee,cases\r\naftercare,intake,umang,asha.caseworker,1\r\n");
  auto accepted = call("GET", "/v1/reports/outcomes", admin_, {}, {{"Accept", "text/csv"}});
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(accepted.body, "workflow,final_state,outcome,cases\r\n");
  auto svg = call("GET", "/v1/reports/caseload?format=svg", supervisor_);
  ASSERT_EQ(svg.status, 200) << svg.body;
  EXPECT_EQ(svg.header("content-type"), "image/svg+xml");
  EXPECT_EQ(svg.body.rfind("<?xml", 0), 0U);
  EXPECT_NE(svg.body.find(">intake</text>"), std::string::npos);
  // The chart's dates are on the organisation's calendar (Asia/Kolkata here), not in UTC.
  EXPECT_NE(svg.body.find(" (Asia/Kolkata); colour: workflow</text>"), std::string::npos)
      << svg.body;
  auto flow_svg =
      call("GET", "/v1/reports/flow?from=2026-09-01&to=2026-09-30&format=svg", supervisor_);
  ASSERT_EQ(flow_svg.status, 200) << flow_svg.body;
  EXPECT_NE(flow_svg.body.find(">2026-09-01 to 2026-09-30 (Asia/Kolkata)</text>"),
            std::string::npos)
      << flow_svg.body;

  const auto rows = report_rows();
  ASSERT_EQ(rows.size(), 4U);
  EXPECT_EQ(rows[0].at("actor"), "sita.supervisor");
  EXPECT_EQ(rows[0].at("details").at("report"), "caseload");
  EXPECT_EQ(rows[0].at("details").at("format"), "csv");
  EXPECT_EQ(rows[0].at("details").at("rows"), 1);
  EXPECT_EQ(rows[1].at("actor"), "ravi.admin");
  EXPECT_EQ(rows[1].at("details").at("report"), "outcomes");
  EXPECT_EQ(rows[2].at("details").at("format"), "svg");
  EXPECT_EQ(rows[3].at("details").at("report"), "flow");
  EXPECT_EQ(rows[3].at("details").at("format"), "svg");
  EXPECT_TRUE(rows[0].at("case_id").is_null());
  EXPECT_TRUE(rows[0].at("fields").as_array().empty());
}

TEST_F(Reports, OtherRolesAndBadParametersAreRefusedAndNotAudited) {
  for (const std::string& bearer : {caseworker_, auditor_}) {
    auto refused = call("GET", "/v1/reports/caseload", bearer);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.json().at("required_roles"), (boost::json::array{"supervisor", "admin"}));
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/v1/reports/cwc-quarterly?quarter=2026-Q5", "quarter"},
      {"/v1/reports/aftercare-list?half=2026-H3", "half"},
      {"/v1/reports/flow?from=yesterday", "from"},
      {"/v1/reports/flow?from=2026-03-03&to=2026-03-01", "from"},
      {"/v1/reports/outcomes?to=2026-02-30", "to"},
      {"/v1/reports/caseload?format=pdf", "format"},
      {"/v1/reports/caseload?quarter=2026-Q1", "quarter"},
      {"/v1/reports/caseload?workflow=no_such_workflow", "workflow"},
  };
  for (const auto& [target, param] : bad) {
    auto answer = call("GET", target, supervisor_);
    ASSERT_EQ(answer.status, 400) << target << ": " << answer.body;
    EXPECT_EQ(answer.header("content-type"), "application/problem+json") << target;
    const auto json = answer.json();
    ASSERT_TRUE(json.as_object().contains("invalid_params")) << answer.body;
    EXPECT_EQ(json.at("invalid_params").as_array()[0].at("name"), param.c_str()) << answer.body;
  }
  EXPECT_EQ(call("GET", "/v1/reports/nothing", supervisor_).status, 404);
  EXPECT_EQ(call("POST", "/v1/reports/caseload", supervisor_, "{}").status, 405);
  EXPECT_TRUE(report_rows().empty());
}

}  // namespace
}  // namespace carepath
