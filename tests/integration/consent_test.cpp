// Consent on the shipped aftercare workflow, through the real HTTP server and a real SQLite file:
// a transition that requires a consent answers 409 naming it until the consent is recorded; a
// withdrawn or lapsed consent blocks it again; an override needs a role of the consent's
// override_by and a reason, and is audited; what the consents say about the child is sealed in
// the database file.
#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/integration/encrypted_engine.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

// Invented, distinctive values: none may appear in the database file.
constexpr const char* kName = "Vorpelstrand Quibbet";
constexpr const char* kEvidence = "Qzyxwv Tarnobel signed form 17";
constexpr const char* kScope = "Examination at Flindermoor clinic only";
constexpr const char* kWithdrawal = "Worried about Snorkelbury uncle";
constexpr const char* kOverrideReason = "CWC hearing tomorrow; receiving agency escort booked";

class ConsentLifecycle : public test::EncryptedEngineTest {
 protected:
  void SetUp() override {
    EncryptedEngineTest::SetUp();
    start();
    caseworker_ = token("asha.caseworker", {"caseworker"});
    counsellor_ = token("meera.counsellor", {"counsellor"});
    officer_ = token("dr.sen", {"medical_officer"});
    legal_ = token("lata.legal", {"legal_officer"});
    supervisor_ = token("ravi.supervisor", {"supervisor"});
    auditor_ = token("uma.auditor", {"auditor"});
  }

  test::HttpResponse fire(const std::string& id, const std::string& who,
                          const boost::json::object& body) {
    return call("POST", "/v1/cases/" + id + "/events", who, boost::json::serialize(body));
  }

  // A girl of 14, produced before the CWC and assessed before the medical officer cleared her:
  // in medical_hold, where medically_cleared requires the medical_examination consent.
  std::string case_in_medical_hold() {
    auto opened = call("POST", "/v1/cases", caseworker_,
                       std::string(R"({"workflow": "aftercare", "data": {"name": ")") + kName +
                           R"(", "home": "umang"}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    const std::string id(opened.json().at("id").as_string());
    auto produced = fire(id, caseworker_,
                         {{"event", "produced_before_cwc"},
                          {"data", {{"cwc_order_no", "CWC/KOL/2026/0099"}, {"age", 14}}}});
    EXPECT_EQ(produced.status, 200) << produced.body;
    auto held = fire(id, counsellor_, {{"event", "assessed"}});
    EXPECT_EQ(held.status, 200) << held.body;
    EXPECT_EQ(held.json().at("state"), "medical_hold");
    return id;
  }

  test::HttpResponse clear(const std::string& id, boost::json::object extra = {}) {
    // The examinations medical.check clears her on, so that she stays cleared in assessment.
    boost::json::object body{{"event", "medically_cleared"},
                             {"data",
                              {{"medical_cleared", true},
                               {"medical_checks_done", boost::json::array{"general", "sti"}}}}};
    for (auto& member : extra) {
      body[member.key()] = member.value();
    }
    return fire(id, officer_, body);
  }

  test::HttpResponse give(const std::string& id, boost::json::object data) {
    return fire(id, caseworker_, {{"event", "consent_given"}, {"data", std::move(data)}});
  }

  static void expect_problem(const test::HttpResponse& r, int status, const std::string& type) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_FALSE(r.body.empty());
    EXPECT_EQ(r.json().at("type"), ("/problems/" + type).c_str()) << r.body;
  }

  std::string state_of(const std::string& id) {
    auto read = call("GET", "/v1/cases/" + id, supervisor_);
    EXPECT_EQ(read.status, 200) << read.body;
    return std::string(read.json().at("state").as_string());
  }

  std::string database_bytes() const {
    std::string all;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      all += test::read_file(config_.db + suffix);
    }
    return all;
  }

  std::string caseworker_, counsellor_, officer_, legal_, supervisor_, auditor_;
};

TEST_F(ConsentLifecycle, RequiredGivenWithdrawnAndGivenAgain) {
  const std::string id = case_in_medical_hold();

  // Never given: 409 naming it, and nothing is written.
  auto refused = clear(id);
  expect_problem(refused, 409, "consent-required");
  const auto problem = refused.json().as_object();
  EXPECT_EQ(boost::json::serialize(problem.at("missing_consents")), R"(["medical_examination"])");
  EXPECT_NE(std::string(problem.at("detail").as_string()).find("medical_examination"),
            std::string::npos);
  EXPECT_NE(std::string(problem.at("hint").as_string()).find("consent_given"), std::string::npos);
  // (The version may move: legal_aid.refer runs after the commit that entered assessment.)
  auto after = call("GET", "/v1/cases/" + id, supervisor_);
  EXPECT_EQ(after.json().at("state"), "medical_hold");
  EXPECT_EQ(after.json().at("data").at("medical_cleared"), false);
  auto untouched = call("GET", "/v1/cases/" + id + "/events?limit=100", supervisor_);
  EXPECT_EQ(untouched.body.find("medically_cleared"), std::string::npos) << untouched.body;

  // The transitions list says what is missing.
  auto options = call("GET", "/v1/cases/" + id + "/transitions", officer_);
  ASSERT_EQ(options.status, 200) << options.body;
  bool listed = false;
  const auto options_json = options.json();
  for (const auto& item : options_json.at("items").as_array()) {
    if (item.at("event") == "medically_cleared") {
      listed = true;
      EXPECT_EQ(boost::json::serialize(item.at("missing_consents")), R"(["medical_examination"])");
      EXPECT_EQ(item.at("ready"), false);
    }
  }
  EXPECT_TRUE(listed) << options.body;

  // Given by her guardian: recorded, the state stays.
  auto given = give(id, {{"consent", "medical_examination"},
                         {"given_by", "guardian"},
                         {"scope", kScope},
                         {"evidence", kEvidence}});
  ASSERT_EQ(given.status, 200) << given.body;
  EXPECT_EQ(given.json().at("state"), "medical_hold");
  auto consents = call("GET", "/v1/cases/" + id + "/consents", counsellor_);
  ASSERT_EQ(consents.status, 200) << consents.body;
  {
    const auto listed_consents = consents.json().as_object();
    EXPECT_EQ(listed_consents.at("case_id"), id.c_str());
    EXPECT_EQ(boost::json::serialize(listed_consents.at("valid")), R"(["medical_examination"])");
    const auto& items = listed_consents.at("items").as_array();
    ASSERT_EQ(items.size(), 1U);
    EXPECT_EQ(items[0].at("consent"), "medical_examination");
    EXPECT_EQ(items[0].at("given_by"), "guardian");
    EXPECT_EQ(items[0].at("evidence"), kEvidence);
    EXPECT_EQ(items[0].at("scope"), kScope);
    EXPECT_EQ(items[0].at("recorded_by"), "asha.caseworker");
    EXPECT_EQ(items[0].at("status"), "valid");
    EXPECT_TRUE(items[0].as_object().contains("given_at"));
  }
  options = call("GET", "/v1/cases/" + id + "/transitions", officer_);
  const auto cleared_options_json = options.json();
  for (const auto& item : cleared_options_json.at("items").as_array()) {
    if (item.at("event") == "medically_cleared") {
      EXPECT_EQ(boost::json::serialize(item.at("missing_consents")), "[]");
    }
  }

  // Withdrawn by the guardian: blocked again.
  auto withdrawn = fire(id, caseworker_,
                        {{"event", "consent_withdrawn"},
                         {"data", {{"consent", "medical_examination"}, {"reason", kWithdrawal}}}});
  ASSERT_EQ(withdrawn.status, 200) << withdrawn.body;
  expect_problem(clear(id), 409, "consent-required");
  // Withdrawing what is not in force conflicts.
  expect_problem(
      fire(id, caseworker_,
           {{"event", "consent_withdrawn"}, {"data", {{"consent", "medical_examination"}}}}),
      409, "consent-not-given");
  consents = call("GET", "/v1/cases/" + id + "/consents", supervisor_);
  ASSERT_EQ(consents.status, 200) << consents.body;
  EXPECT_EQ(boost::json::serialize(consents.json().at("valid")), "[]");
  EXPECT_EQ(consents.json().at("items").at(0).at("status"), "withdrawn");
  EXPECT_EQ(consents.json().at("items").at(0).at("withdrawal_reason"), kWithdrawal);
  EXPECT_EQ(consents.json().at("items").at(0).at("withdrawn_by"), "asha.caseworker");

  // Given again, by her this time (a new record; the newest counts): the transition is taken.
  ASSERT_EQ(give(id, {{"consent", "medical_examination"}, {"given_by", "child"}}).status, 200);
  auto cleared = clear(id);
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_EQ(cleared.json().at("state"), "assessment");

  // The history records each consent event with what it said.
  auto history = call("GET", "/v1/cases/" + id + "/events?limit=100", supervisor_);
  ASSERT_EQ(history.status, 200) << history.body;
  std::vector<std::string> events;
  const auto history_json = history.json();
  for (const auto& e : history_json.at("items").as_array()) {
    const std::string name(e.at("event").as_string());
    if (name.starts_with("consent_") || name == "medically_cleared") {
      events.push_back(name);
    }
    if (name == "consent_given" && e.at("consent").at("given_by") == "guardian") {
      EXPECT_EQ(e.at("consent").at("evidence"), kEvidence);
      EXPECT_EQ(e.at("from"), e.at("to"));
    }
  }
  EXPECT_EQ(events, (std::vector<std::string>{"consent_given", "consent_withdrawn", "consent_given",
                                              "medically_cleared"}));

  // Showing what the consents say is audited as a read, by name.
  auto reads = call("GET", "/v1/audit?action=case.read&case_id=" + id, auditor_);
  ASSERT_EQ(reads.status, 200) << reads.body;
  const auto reads_json = reads.json();
  bool audited = false;
  for (const auto& row : reads_json.at("items").as_array()) {
    const auto& fields = row.at("fields").as_array();
    audited = audited || std::find(fields.begin(), fields.end(),
                                   boost::json::value("consents.evidence")) != fields.end();
  }
  EXPECT_TRUE(audited) << reads.body;
  EXPECT_EQ(reads.body.find("Tarnobel"), std::string::npos);

  // What the consents say is sealed in the file: the evidence, the scope, the reason.
  stop();
  const std::string bytes = database_bytes();
  ASSERT_GT(bytes.size(), 10'000U);
  for (const char* secret :
       {kEvidence, kScope, kWithdrawal, "Tarnobel", "Flindermoor", "Snorkelbury", kName}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " is in the database file";
  }
  // The consent's name and who gave it are not sensitive and stay readable.
  EXPECT_NE(bytes.find("medical_examination"), std::string::npos);
  // ... and after a restart on the same key everything reads back.
  start();
  consents = call("GET", "/v1/cases/" + id + "/consents", supervisor_);
  ASSERT_EQ(consents.status, 200) << consents.body;
  EXPECT_EQ(consents.json().at("items").at(0).at("evidence"), kEvidence);
}

TEST_F(ConsentLifecycle, ALapsedConsentIsMissing) {
  const std::string id = case_in_medical_hold();
  ASSERT_EQ(give(id, {{"consent", "medical_examination"},
                      {"given_by", "cwc_order"},
                      {"valid_until", "2020-01-31"}})
                .status,
            200);
  auto refused = clear(id);
  expect_problem(refused, 409, "consent-required");
  EXPECT_EQ(boost::json::serialize(refused.json().at("missing_consents")),
            R"(["medical_examination"])");
  auto consents = call("GET", "/v1/cases/" + id + "/consents", supervisor_);
  EXPECT_EQ(consents.json().at("items").at(0).at("status"), "expired");
  // Withdrawing a lapsed consent conflicts too.
  expect_problem(
      fire(id, caseworker_,
           {{"event", "consent_withdrawn"}, {"data", {{"consent", "medical_examination"}}}}),
      409, "consent-not-given");
  // An instant in the past lapses it as well; one in the future does not.
  ASSERT_EQ(give(id, {{"consent", "medical_examination"},
                      {"given_by", "guardian"},
                      {"valid_until", "2021-06-01T10:00:00+05:30"}})
                .status,
            200);
  expect_problem(clear(id), 409, "consent-required");
  ASSERT_EQ(give(id, {{"consent", "medical_examination"},
                      {"given_by", "guardian"},
                      {"valid_until", "2999-12-31"}})
                .status,
            200);
  EXPECT_EQ(clear(id).status, 200);
}

TEST_F(ConsentLifecycle, BadConsentDataIsRefusedNamingTheMembers) {
  const std::string id = case_in_medical_hold();
  auto empty = give(id, {});
  expect_problem(empty, 422, "missing-fields");
  EXPECT_EQ(boost::json::serialize(empty.json().at("missing_fields")), R"(["consent","given_by"])");

  const std::string long_evidence = std::string(kEvidence) + std::string(500, '.');
  auto invalid = give(id, {{"consent", "photo_use"},
                           {"given_by", "neighbour"},
                           {"evidence", long_evidence},
                           {"valid_until", "soon"},
                           {"signed_at", "2026-11-01"}});
  expect_problem(invalid, 422, "invalid-fields");
  std::vector<std::string> fields;
  const auto invalid_json = invalid.json();
  for (const auto& p : invalid_json.at("invalid_fields").as_array()) {
    fields.emplace_back(p.at("field").as_string());
  }
  EXPECT_EQ(fields, (std::vector<std::string>{"signed_at", "consent", "given_by", "evidence",
                                              "valid_until"}));
  EXPECT_EQ(invalid.body.find("Tarnobel"), std::string::npos) << "the body echoes a value";
  EXPECT_EQ(invalid.body.find("neighbour"), std::string::npos) << "the body echoes a value";

  auto withdrawal =
      fire(id, caseworker_, {{"event", "consent_withdrawn"}, {"data", {{"reason", kWithdrawal}}}});
  expect_problem(withdrawal, 422, "missing-fields");
  EXPECT_EQ(withdrawal.body.find("Snorkelbury"), std::string::npos);

  // Nothing was recorded, and a caller with no role in the workflow may not record one.
  auto consents = call("GET", "/v1/cases/" + id + "/consents", supervisor_);
  EXPECT_EQ(consents.json().at("items").as_array().size(), 0U);
  const std::string stranger = token("sam.ops", {"admin"});
  EXPECT_EQ(call("POST", "/v1/cases/" + id + "/events", stranger,
                 R"({"event": "consent_given", "data": {"consent": "data_sharing",
                     "given_by": "guardian"}})")
                    .status /
                100,
            4);
  EXPECT_EQ(call("GET", "/v1/cases/" + id + "/consents", stranger).status / 100, 4);
  EXPECT_EQ(call("GET", "/v1/cases/nonexistent/consents", supervisor_).status, 404);
}

TEST_F(ConsentLifecycle, AnOverrideNeedsTheRoleAndAReasonAndIsAudited) {
  // Through care planning to repatriation, where `repatriated` requires data_sharing, which
  // only the supervisor may override; the legal officer may take the transition itself.
  const std::string id = case_in_medical_hold();
  ASSERT_EQ(give(id, {{"consent", "medical_examination"}, {"given_by", "guardian"}}).status, 200);
  ASSERT_EQ(clear(id).status, 200);
  auto planned = fire(id, counsellor_, {{"event", "assessed"}});
  ASSERT_EQ(planned.status, 200) << planned.body;
  ASSERT_EQ(planned.json().at("state"), "care_plan");
  ASSERT_EQ(fire(id, supervisor_,
                 {{"event", "care_plan_approved"}, {"data", {{"icp_date", "2026-11-20"}}}})
                .status,
            200);
  ASSERT_EQ(
      fire(id, legal_,
           {{"event", "repatriation_ordered"}, {"data", {{"repatriation_destination", "Nepal"}}}})
          .status,
      200);
  const boost::json::object data{{"receiving_agency", "Invented Agency Kathmandu"},
                                 {"repatriation_date", "2026-12-01"}};
  const boost::json::object repatriate{{"event", "repatriated"}, {"data", data}};

  expect_problem(fire(id, legal_, repatriate), 409, "consent-required");
  // An override without a reason, or with an unusable one: 400, and nothing happens.
  for (const boost::json::object& bad :
       {boost::json::object{}, boost::json::object{{"reason", ""}},
        boost::json::object{{"reason", std::string(1001, 'r')}},
        boost::json::object{{"reason", "line\x01"}},
        boost::json::object{{"reason", "ok"}, {"approved_by", "ravi"}}}) {
    boost::json::object body = repatriate;
    body["consent_override"] = bad;
    auto r = fire(id, supervisor_, body);
    expect_problem(r, 400, "invalid-params");
    EXPECT_EQ(r.json().at("invalid_params").at(0).at("name"), "consent_override.reason");
  }
  // A role that may fire the event but not override the consent: 403 naming the roles.
  boost::json::object overridden = repatriate;
  overridden["consent_override"] = {{"reason", kOverrideReason}};
  auto forbidden = fire(id, legal_, overridden);
  expect_problem(forbidden, 403, "forbidden");
  EXPECT_EQ(boost::json::serialize(forbidden.json().at("required_roles")), R"(["supervisor"])");
  EXPECT_NE(std::string(forbidden.json().at("detail").as_string()).find("supervisor"),
            std::string::npos);
  EXPECT_EQ(state_of(id), "repatriation");

  // The supervisor, with a reason: taken, and audited.
  auto taken = fire(id, supervisor_, overridden);
  ASSERT_EQ(taken.status, 200) << taken.body;
  EXPECT_EQ(taken.json().at("state"), "repatriated");

  auto audit = call("GET", "/v1/audit?action=consent.override", auditor_);
  ASSERT_EQ(audit.status, 200) << audit.body;
  const auto audit_json = audit.json();
  const auto& rows = audit_json.at("items").as_array();
  ASSERT_EQ(rows.size(), 1U) << audit.body;
  EXPECT_EQ(rows[0].at("action"), "consent.override");
  EXPECT_EQ(rows[0].at("actor"), "ravi.supervisor");
  EXPECT_EQ(rows[0].at("case_id"), id.c_str());
  EXPECT_EQ(boost::json::serialize(rows[0].at("fields")), R"(["data_sharing"])");
  EXPECT_EQ(rows[0].at("reason"), kOverrideReason);
  EXPECT_EQ(rows[0].at("details").at("event"), "repatriated");
  // Nobody else's override is in the report, and the trail for other roles is closed.
  EXPECT_EQ(call("GET", "/v1/audit?action=consent.override", supervisor_).status, 403);

  // The history entry says the consent was overridden, without the reason.
  auto history = call("GET", "/v1/cases/" + id + "/events?limit=100", supervisor_);
  ASSERT_EQ(history.status, 200) << history.body;
  const auto history_json = history.json();
  const auto& entries = history_json.at("items").as_array();
  const auto& last = entries.back();
  EXPECT_EQ(last.at("event"), "repatriated");
  EXPECT_EQ(last.at("trigger").at("kind"), "consent_override");
  EXPECT_EQ(boost::json::serialize(last.at("trigger").at("consents")), R"(["data_sharing"])");
  EXPECT_EQ(history.body.find("escort booked"), std::string::npos);
}

TEST_F(ConsentLifecycle, AnOverrideWithNothingMissingIsIgnored) {
  const std::string id = case_in_medical_hold();
  ASSERT_EQ(give(id, {{"consent", "medical_examination"}, {"given_by", "guardian"}}).status, 200);
  auto cleared = clear(id, {{"consent_override", {{"reason", "not needed after all"}}}});
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  auto audit = call("GET", "/v1/audit?action=consent.override", auditor_);
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_TRUE(audit.json().at("items").as_array().empty()) << audit.body;
}

}  // namespace
}  // namespace carepath
