// Need-to-know and object-level authorisation over real HTTP: a sensitive field is shown only to
// the roles named for it, and with own_cases_only a caseworker knows only the cases she holds,
// a team the cases assigned to it, and a supervisor with homes her homes' cases; any other case
// answers 404 on every case endpoint, exactly as an unknown id does.
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/integration/encrypted_engine.hpp"

namespace carepath {
namespace {

using test::EncryptedEngineTest;

// Invented values only.
constexpr const char* kName = "Qzyxwv Tarnobel";

class AccessTest : public EncryptedEngineTest {
 protected:
  // Opens an aftercare case as `bearer`, placed in `home` when given; returns its id.
  std::string open(const std::string& bearer, const std::string& home = {}) {
    std::string data = std::string(R"({"name": ")") + kName + R"(")";
    if (!home.empty()) {
      data += R"(, "home": ")" + home + R"(")";
    }
    auto opened =
        call("POST", "/v1/cases", bearer, R"({"workflow": "aftercare", "data": )" + data + "}}");
    EXPECT_EQ(opened.status, 201) << opened.body;
    return opened.status == 201 ? std::string(opened.json().at("id").as_string()) : std::string();
  }

  // The ids a GET /v1/cases answers `bearer` with.
  std::vector<std::string> listed(const std::string& bearer, const std::string& query = {}) {
    auto r = call("GET", "/v1/cases" + query, bearer);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> ids;
    if (r.status == 200) {
      const auto body = r.json();
      for (const auto& item : body.at("items").as_array()) {
        ids.emplace_back(item.at("id").as_string());
      }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  // Every case endpoint answers `bearer` about case `id` as about an unknown case.
  void expect_hidden(const std::string& bearer, const std::string& id) {
    const auto unknown = call("GET", "/v1/cases/0123456789abcdef0123456789abcdef", bearer);
    ASSERT_EQ(unknown.status, 404) << unknown.body;
    const std::string base = "/v1/cases/" + id;
    for (const char* sub : {"", "/events", "/transitions", "/tasks", "/incidents", "/clocks",
                            "/schedule", "/graph"}) {
      auto r = call("GET", base + sub, bearer);
      EXPECT_EQ(r.status, 404) << sub << ": " << r.body;
      EXPECT_EQ(r.header("content-type"), "application/problem+json") << sub;
      EXPECT_EQ(r.json().at("type"), unknown.json().at("type")) << sub;
      EXPECT_EQ(r.body.find(kName), std::string::npos) << sub;
    }
    auto fired = call("POST", base + "/events", bearer, R"({"event": "no_such_event"})");
    EXPECT_EQ(fired.status, 404) << fired.body;
    EXPECT_EQ(fired.body.find("allowed_events"), std::string::npos) << fired.body;
    auto patched = call("PATCH", base, bearer, R"({"data": {"age": 12}})");
    EXPECT_EQ(patched.status, 404) << patched.body;
  }
};

TEST_F(AccessTest, ASensitiveFieldIsShownOnlyToTheRolesNamedForIt) {
  start();
  const std::string caseworker = token("asha.caseworker", {"caseworker"});
  const std::string medical = token("dr.rao", {"medical_officer"});
  const std::string id = open(caseworker);
  // aftercare.yaml names who may see `name`: a caseworker does, a medical officer does not.
  auto seen = call("GET", "/v1/cases/" + id, caseworker);
  ASSERT_EQ(seen.status, 200) << seen.body;
  EXPECT_EQ(seen.json().at("data").at("name"), kName);
  auto redacted = call("GET", "/v1/cases/" + id, medical);
  ASSERT_EQ(redacted.status, 200) << redacted.body;
  EXPECT_FALSE(redacted.json().at("data").as_object().contains("name"));
  EXPECT_EQ(redacted.json().at("redacted_fields"), boost::json::array{"name"});
  EXPECT_EQ(redacted.body.find(kName), std::string::npos);
  // The workflow's description says who may see it.
  auto workflow = call("GET", "/v1/workflows/aftercare", medical);
  ASSERT_EQ(workflow.status, 200) << workflow.body;
  bool described = false;
  const auto description = workflow.json();
  for (const auto& field : description.at("fields").as_array()) {
    if (field.at("name") == "name") {
      described = true;
      EXPECT_EQ(field.at("visible_to"),
                (boost::json::array{"caseworker", "counsellor", "legal_officer", "supervisor"}));
    }
  }
  EXPECT_TRUE(described) << workflow.body;
}

TEST_F(AccessTest, WithoutTheSwitchEveryRoleOfTheWorkflowSeesTheCase) {
  start();
  const std::string asha = token("asha.caseworker", {"caseworker"});
  const std::string meera = token("meera.caseworker", {"caseworker"});
  const std::string id = open(asha);
  EXPECT_EQ(call("GET", "/v1/cases/" + id, meera).status, 200);
  EXPECT_EQ(listed(meera), std::vector<std::string>{id});
  // A caller with no role in the workflow does not learn the case exists.
  expect_hidden(token("nina.auditor", {"auditor"}), id);
}

TEST_F(AccessTest, ACaseworkerKnowsOnlyTheCasesSheHolds) {
  config_.own_cases_only = true;
  start();
  const std::string asha = token("asha.caseworker", {"caseworker"});
  const std::string meera = token("meera.caseworker", {"caseworker"});
  const std::string mine = open(asha);
  const std::string hers = open(meera);

  // Each sees the case she opened, and only that one.
  EXPECT_EQ(call("GET", "/v1/cases/" + mine, asha).status, 200);
  EXPECT_EQ(listed(asha), std::vector<std::string>{mine});
  EXPECT_EQ(listed(meera), std::vector<std::string>{hers});
  expect_hidden(meera, mine);
  // Duplicate detection finds only her own cases too.
  EXPECT_TRUE(listed(meera, "?match=name:Qzyxwv%20Tarnobel") == std::vector<std::string>{hers});

  // Assigned to a user, the case moves to her; assigned to a team, to its members.
  auto assigned =
      call("PATCH", "/v1/cases/" + mine, asha, R"({"data": {"assigned_to": "meera.caseworker"}})");
  ASSERT_EQ(assigned.status, 200) << assigned.body;
  EXPECT_EQ(call("GET", "/v1/cases/" + mine, meera).status, 200);
  expect_hidden(asha, mine);
  auto to_team =
      call("PATCH", "/v1/cases/" + mine, meera, R"({"data": {"assigned_to": "team:night_shift"}})");
  ASSERT_EQ(to_team.status, 200) << to_team.body;
  const std::string priya =
      token("priya.caseworker", {"caseworker"}, security::TokenScope{{"night_shift"}, {}});
  EXPECT_EQ(call("GET", "/v1/cases/" + mine, priya).status, 200);
  EXPECT_EQ(listed(priya), std::vector<std::string>{mine});
  expect_hidden(meera, mine);

  // A supervisor without homes oversees every case.
  const std::string supervisor = token("ravi.supervisor", {"supervisor"});
  std::vector<std::string> both{mine, hers};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(listed(supervisor), both);
}

TEST_F(AccessTest, ATokenWithHomesSeesThoseHomesCases) {
  start();
  const std::string caseworker = token("asha.caseworker", {"caseworker"});
  const std::string in_umang = open(caseworker, "umang");
  const std::string in_udaan = open(caseworker, "udaan");
  const std::string unplaced = open(caseworker);
  const std::string umang_supervisor =
      token("ravi.supervisor", {"supervisor"}, security::TokenScope{{}, {"umang"}});
  EXPECT_EQ(listed(umang_supervisor), std::vector<std::string>{in_umang});
  EXPECT_EQ(listed(umang_supervisor, "?workflow=aftercare&state=intake"),
            std::vector<std::string>{in_umang});
  EXPECT_EQ(call("GET", "/v1/cases/" + in_umang, umang_supervisor).status, 200);
  expect_hidden(umang_supervisor, in_udaan);
  expect_hidden(umang_supervisor, unplaced);

  // A move to another home takes the case out of her sight, and back.
  auto moved = call("PATCH", "/v1/cases/" + in_udaan, caseworker, R"({"data": {"home": "umang"}})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(call("GET", "/v1/cases/" + in_udaan, umang_supervisor).status, 200);
  auto back = call("PATCH", "/v1/cases/" + in_udaan, caseworker, R"({"data": {"home": "udaan"}})");
  ASSERT_EQ(back.status, 200) << back.body;
  expect_hidden(umang_supervisor, in_udaan);
}

}  // namespace
}  // namespace carepath
