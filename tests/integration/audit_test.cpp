// The audit trail behind the real HTTP server: a caseworker's read of sensitive fields and a
// failed login show in GET /v1/audit with field names and never values; an auditor alone may
// read it; and `carepath audit verify` finds a row edited in the database file by someone who
// dropped the trigger first.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "app/engine.hpp"
#include "security/crypto.hpp"
#include "security/tokens.hpp"
#include "tests/integration/encrypted_engine.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sql.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;

constexpr const char* kName = "Qzyxwv Tarnobel";
constexpr const char* kBirth = "2011-04-05";

class Audit : public test::EncryptedEngineTest {
 protected:
  void SetUp() override {
    EncryptedEngineTest::SetUp();
    start();
  }
};

// The audit rows of `items` with this action.
std::vector<boost::json::object> with_action(const boost::json::array& items,
                                             std::string_view action) {
  std::vector<boost::json::object> out;
  for (const auto& item : items) {
    if (item.at("action").as_string() == action) {
      out.push_back(item.as_object());
    }
  }
  return out;
}

TEST_F(Audit, ReadsAndFailedLoginsAreListedForAuditorsAndAnEditedRowBreaksTheChain) {
  const std::string caseworker = token("asha.caseworker", {"caseworker"});
  const std::string auditor = token("ira.auditor", {"auditor"});
  auto opened = call("POST", "/v1/cases", caseworker,
                     std::string(R"({"workflow": "aftercare", "data": {"name": ")") + kName +
                         R"(", "date_of_birth": ")" + kBirth + R"(", "home": "umang"}})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id(opened.json().at("id").as_string());
  auto read = call("GET", "/v1/cases/" + id, caseworker);
  ASSERT_EQ(read.status, 200) << read.body;
  ASSERT_EQ(read.json().at("data").at("name"), kName);
  auto listed = call("GET", "/v1/cases?workflow=aftercare", caseworker);
  ASSERT_EQ(listed.status, 200) << listed.body;
  const std::string fire =
      R"({"event": "produced_before_cwc", "data": {"cwc_order_no": "CWC/KOL/77", "age": 14}})";
  for (int i = 0; i < 2; ++i) {  // the second time, the remembered answer
    auto fired = test::http_request(
        port_, "POST", "/v1/cases/" + id + "/events", fire,
        {{"Authorization", "Bearer " + caseworker}, {"Idempotency-Key", "produce-1"}});
    ASSERT_EQ(fired.status, 200) << fired.body;
  }
  auto bad = call("GET", "/v1/cases/" + id, "cp_nosuchtoken_0123456789");
  ASSERT_EQ(bad.status, 401) << bad.body;
  auto none = test::http_request(port_, "GET", "/v1/cases/" + id, {}, {});
  ASSERT_EQ(none.status, 401) << none.body;

  auto trail = call("GET", "/v1/audit?case_id=" + id, auditor);
  ASSERT_EQ(trail.status, 200) << trail.body;
  EXPECT_EQ(trail.body.find(kName), std::string::npos) << trail.body;
  EXPECT_EQ(trail.body.find("Tarnobel"), std::string::npos);
  EXPECT_EQ(trail.body.find(kBirth), std::string::npos);
  const boost::json::value trail_json = trail.json();
  const auto& items = trail_json.at("items").as_array();
  const auto opens = with_action(items, "case.open");
  ASSERT_EQ(opens.size(), 1U) << trail.body;
  EXPECT_EQ(opens[0].at("actor"), "asha.caseworker");
  // The caseworker's event (the replay wrote nothing); the engine's own steps may follow as
  // "system".
  std::vector<boost::json::object> writes;
  for (const auto& w : with_action(items, "case.write")) {
    if (w.at("actor") == "asha.caseworker") {
      writes.push_back(w);
    }
  }
  ASSERT_EQ(writes.size(), 1U) << trail.body;
  EXPECT_EQ(writes[0].at("details").at("event"), "produced_before_cwc");
  const auto reads = with_action(items, "case.read");
  // The answers to the POST, the GET, the list, the event and its replay all showed the fields.
  ASSERT_EQ(reads.size(), 5U) << trail.body;
  for (const auto& r : reads) {
    EXPECT_EQ(r.at("actor"), "asha.caseworker");
    EXPECT_EQ(r.at("case_id").as_string(), id);
    const auto& fields = r.at("fields").as_array();
    EXPECT_NE(std::find(fields.begin(), fields.end(), boost::json::value("name")), fields.end())
        << trail.body;
    // Not sensitive: not recorded as a sensitive read.
    EXPECT_EQ(std::find(fields.begin(), fields.end(), boost::json::value("home")), fields.end());
    EXPECT_EQ(r.at("hash").as_string().size(), 64U);
  }
  EXPECT_EQ(reads[1].at("details").at("method"), "GET");
  EXPECT_EQ(reads[2].at("details").at("list"), true);
  EXPECT_FALSE(reads[3].at("details").as_object().contains("replayed"));
  EXPECT_EQ(reads[4].at("details").at("replayed"), true);

  auto failed = call("GET", "/v1/audit?actor=anonymous", auditor);
  ASSERT_EQ(failed.status, 200) << failed.body;
  const boost::json::value failed_json = failed.json();
  const auto logins = with_action(failed_json.at("items").as_array(), "login.failed");
  ASSERT_EQ(logins.size(), 2U) << failed.body;
  EXPECT_EQ(logins[0].at("details").at("failure"), "unknown_token");
  EXPECT_EQ(logins[1].at("details").at("failure"), "missing_header");
  EXPECT_EQ(failed.body.find("nosuchtoken"), std::string::npos);

  // Pages, and what is refused.
  auto first = call("GET", "/v1/audit?limit=1", auditor);
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_TRUE(first.json().at("next_cursor").is_string());
  auto second = call(
      "GET", "/v1/audit?limit=1&cursor=" + std::string(first.json().at("next_cursor").as_string()),
      auditor);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json().at("items").at(0).at("seq"), 2);
  EXPECT_EQ(call("GET", "/v1/audit", caseworker).status, 403);
  EXPECT_EQ(call("GET", "/v1/audit?from=yesterday", auditor).status, 400);
  EXPECT_EQ(call("GET", "/v1/audit?colour=red", auditor).status, 400);
  auto window = call("GET", "/v1/audit?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z", auditor);
  ASSERT_EQ(window.status, 200) << window.body;
  EXPECT_TRUE(window.json().at("items").as_array().empty());
  engine_.reset();

  test::TempDir run;
  auto verified = test::run_carepath({"audit", "verify", "--db", config_.db}, run);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("audit chain ok: "), std::string::npos) << verified.out;

  // Someone with the file drops the trigger and rewrites who read the case.
  test::run_sql(config_.db, "DROP TRIGGER audit_no_update");
  test::run_sql(config_.db, "UPDATE audit SET actor = 'nobody' WHERE seq = 2");
  auto tampered = test::run_carepath({"audit", "verify", "--db", config_.db}, run);
  EXPECT_EQ(tampered.exit_code, 1) << tampered.out << tampered.err;
  EXPECT_NE(tampered.out.find("audit chain broken at entry 2:"), std::string::npos) << tampered.out;
}

// Commits so far, from the commit latency histogram of GET /metrics; -1 when it is missing.
std::int64_t commits_so_far(std::uint16_t port) {
  const auto scrape = test::http_request(port, "GET", "/metrics", {}, {});
  const std::string key = "\ncarepath_db_commit_duration_seconds_count ";
  const auto at = scrape.body.find(key);
  if (scrape.status != 200 || at == std::string::npos) {
    return -1;
  }
  return std::stoll(scrape.body.substr(at + key.size()));
}

// An event's answer shows the changed case; its case.read row is written in the change's own
// commit, so one request costs one commit (one fsync), and the row exists exactly when the change
// does.
TEST_F(Audit, AnEventsAnswerIsAuditedInTheChangesOwnCommit) {
  const std::string worker = token("edu.worker", {"outreach_worker", "education_coordinator"});
  auto opened =
      call("POST", "/v1/cases", worker,
           std::string(R"({"workflow": "education_support", "data": {"name": ")") + kName +
               R"(", "date_of_birth": "2014-01-01", "mother_consent": true, )"
               R"("residence": "with_mother"}})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id(opened.json().at("id").as_string());
  const std::string events = "/v1/cases/" + id + "/events";
  ASSERT_EQ(call("POST", events, worker, R"({"event": "enrolled"})").status, 200);
  ASSERT_EQ(call("POST", events, worker,
                 R"({"event": "placed_in_school", "data": {"school": "School 1", "standard": 5, )"
                 R"("admission_date": "2025-06-01"}})")
                .status,
            200);

  std::int64_t before = commits_so_far(port_);
  ASSERT_GE(before, 1);
  ASSERT_EQ(commits_so_far(port_), before);  // reading the metrics commits nothing
  // Opening a case, too: the answer shows the name, in one commit.
  auto second = call("POST", "/v1/cases", worker,
                     std::string(R"({"workflow": "education_support", "data": {"name": ")") +
                         kName + R"(", "date_of_birth": "2014-01-01"}})");
  ASSERT_EQ(second.status, 201) << second.body;
  ASSERT_EQ(second.json().at("data").at("name"), kName);
  EXPECT_EQ(commits_so_far(port_), before + 1);
  before = commits_so_far(port_);
  auto reviewed = call("POST", events, worker,
                       R"({"event": "term_review", "data": {"term": "2025-26 term 1", )"
                       R"("attendance_percent": 82}})");
  ASSERT_EQ(reviewed.status, 200) << reviewed.body;
  ASSERT_EQ(reviewed.json().at("data").at("name"), kName);  // the answer shows the name
  EXPECT_EQ(commits_so_far(port_), before + 1);

  const std::string auditor = token("ira.auditor", {"auditor"});
  auto trail = call("GET", "/v1/audit?case_id=" + id, auditor);
  ASSERT_EQ(trail.status, 200) << trail.body;
  const boost::json::value trail_json = trail.json();
  const auto& items = trail_json.at("items").as_array();
  const auto writes = with_action(items, "case.write");
  const auto reads = with_action(items, "case.read");
  ASSERT_FALSE(writes.empty()) << trail.body;
  ASSERT_FALSE(reads.empty()) << trail.body;
  const auto& write = writes.back();
  const auto& read = reads.back();
  EXPECT_EQ(write.at("details").at("event"), "term_review") << trail.body;
  EXPECT_EQ(read.at("actor"), "edu.worker");
  // Neighbours in the chain, written in one transaction.
  EXPECT_EQ(std::abs(read.at("seq").as_int64() - write.at("seq").as_int64()), 1) << trail.body;
  EXPECT_EQ(trail.body.find(kName), std::string::npos);
}

TEST_F(Audit, VerifyNamesAMissingDatabase) {
  engine_.reset();
  test::TempDir run;
  auto out = test::run_carepath({"audit", "verify", "--db", (dir_ / "absent.db").string()}, run);
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.err.find("no database"), std::string::npos) << out.err;
}

}  // namespace
}  // namespace carepath
