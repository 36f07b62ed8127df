// Erasure (POST /v1/cases/{id}/erase) and retention on a real SQLite file behind the real HTTP
// server: an erased case keeps its state, dates and plain fields for statistics while its
// sensitive values leave the database file; the engine restarts on it and the audit chain holds;
// `carepath retention` removes expired values once.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "app/engine.hpp"
#include "store/sqlite_store.hpp"
#include "tests/integration/encrypted_engine.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;

// Invented, distinctive values: none may stay in the database file after the erasure.
constexpr const char* kName = "Qzyxwv Tarnobel";
constexpr const char* kBirth = "2011-04-05";
constexpr const char* kCounselling = "Xylophant memories of Brumwick";
constexpr const char* kComment = "Talked about Grimblethorpe Lane";
constexpr const char* kReason = "Erasure asked for by the Data Principal, ticket DP-4411";

class Erasure : public test::EncryptedEngineTest {
 protected:
  // Opens a case with the distinctive values, adds counselling notes with a comment, and takes
  // one transition with an Idempotency-Key. Returns the case id.
  std::string seed() {
    auto opened = call("POST", "/v1/cases", caseworker_,
                       std::string(R"({"workflow": "aftercare", "data": {"name": ")") + kName +
                           R"(", "date_of_birth": ")" + kBirth + R"(", "home": "umang"}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    const std::string id(opened.json().at("id").as_string());
    auto patched = call("PATCH", "/v1/cases/" + id, counsellor_,
                        std::string(R"({"data": {"counselling_notes": ")") + kCounselling +
                            R"("}, "comment": ")" + kComment + R"("})");
    EXPECT_EQ(patched.status, 200) << patched.body;
    auto fired = call(
        "POST", "/v1/cases/" + id + "/events", caseworker_,
        R"({"event": "produced_before_cwc", "data": {"cwc_order_no": "CWC/KOL/77", "age": 14}})",
        {{"Idempotency-Key", "produce-1"}});
    EXPECT_EQ(fired.status, 200) << fired.body;
    return id;
  }

  std::string database_bytes() const {
    std::string all;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      all += test::read_file(config_.db + suffix);
    }
    return all;
  }

  std::size_t count_in_state(const std::string& state) {
    auto listed = call("GET", "/v1/cases?workflow=aftercare&state=" + state, supervisor_);
    EXPECT_EQ(listed.status, 200) << listed.body;
    return listed.json().at("items").as_array().size();
  }

  void start_with_tokens() {
    start();
    caseworker_ = token("asha.caseworker", {"caseworker"});
    counsellor_ = token("meera.counsellor", {"counsellor"});
    supervisor_ = token("ravi.supervisor", {"supervisor"});
    admin_ = token("root.admin", {"admin"});
    auditor_ = token("lata.auditor", {"auditor"});
  }

  std::string caseworker_, counsellor_, supervisor_, admin_, auditor_;
};

TEST_F(Erasure, KeepsStatisticsAndRemovesTheValues) {
  start_with_tokens();
  const std::string id = seed();
  const std::string other = seed();  // a second child, untouched
  auto before = call("GET", "/v1/cases/" + id, supervisor_);
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_TRUE(before.json().at("erased_at").is_null());
  const std::size_t in_assessment = count_in_state("assessment");
  ASSERT_EQ(in_assessment, 2U);
  auto matched =
      call("GET", "/v1/cases?workflow=aftercare&match=name:Qzyxwv%20Tarnobel", supervisor_);
  ASSERT_EQ(matched.status, 200) << matched.body;
  ASSERT_EQ(matched.json().at("items").as_array().size(), 2U);

  // The wrapped data key, as the file holds it: it must not survive the erasure anywhere in it.
  auto keyed = engine_->store().get_case(id);
  ASSERT_TRUE(keyed) << keyed.error().message;
  const std::string wrapped_key = keyed->data_key;
  ASSERT_GT(wrapped_key.size(), 20U);

  // Who may, and with what.
  const std::string path = "/v1/cases/" + id + "/erase";
  const std::string body = std::string(R"({"reason": ")") + kReason + R"("})";
  auto not_admin = call("POST", path, supervisor_, body);
  EXPECT_EQ(not_admin.status, 403) << not_admin.body;
  EXPECT_EQ(not_admin.json().at("required_roles"), boost::json::array{"admin"});
  auto no_reason = call("POST", path, admin_, "{}");
  EXPECT_EQ(no_reason.status, 400) << no_reason.body;
  auto blank_reason = call("POST", path, admin_, R"({"reason": "   "})");
  EXPECT_EQ(blank_reason.status, 400) << blank_reason.body;
  EXPECT_EQ(blank_reason.json().at("invalid_params").at(0).at("name"), "reason");
  auto unknown = call("POST", "/v1/cases/00000000000000000000000000000000/erase", admin_, body);
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  auto erased = call("POST", path, admin_, body);
  ASSERT_EQ(erased.status, 200) << erased.body;
  const auto answer = erased.json().as_object();
  EXPECT_TRUE(answer.at("erased_at").is_string());
  EXPECT_EQ(answer.at("state"), "assessment");
  EXPECT_EQ(erased.body.find(kName), std::string::npos);

  auto twice = call("POST", path, admin_, body);
  EXPECT_EQ(twice.status, 409) << twice.body;
  EXPECT_NE(twice.body.find("case-erased"), std::string::npos) << twice.body;
  auto event = call("POST", "/v1/cases/" + id + "/events", caseworker_,
                    R"({"event": "sir_submitted", "data": {"sir_date": "2026-01-02"}})");
  EXPECT_EQ(event.status, 409) << event.body;
  EXPECT_NE(event.body.find("case-erased"), std::string::npos) << event.body;
  auto patch = call("PATCH", "/v1/cases/" + id, caseworker_, R"({"data": {"age": 15}})");
  EXPECT_EQ(patch.status, 409) << patch.body;

  // Statistics stay: the state, dates and plain fields; the history's events.
  auto read = call("GET", "/v1/cases/" + id, supervisor_);
  ASSERT_EQ(read.status, 200) << read.body;
  const auto data = read.json().at("data").as_object();
  EXPECT_FALSE(data.contains("name"));
  EXPECT_FALSE(data.contains("date_of_birth"));
  EXPECT_FALSE(data.contains("counselling_notes"));
  EXPECT_EQ(data.at("home"), "umang");
  EXPECT_EQ(data.at("age"), 14);
  EXPECT_EQ(data.at("cwc_order_no"), "CWC/KOL/77");
  EXPECT_EQ(read.json().at("state"), "assessment");
  EXPECT_EQ(read.json().at("created_at"), before.json().at("created_at"));
  EXPECT_TRUE(read.json().at("erased_at").is_string());
  auto history = call("GET", "/v1/cases/" + id + "/events", supervisor_);
  ASSERT_EQ(history.status, 200) << history.body;
  const auto history_json = history.json();
  const auto& items = history_json.at("items").as_array();
  ASSERT_GE(items.size(), 4U);
  EXPECT_EQ(items.at(0).at("event"), "opened");
  EXPECT_EQ(items.back().at("event"), "erased");
  EXPECT_EQ(history.body.find(kComment), std::string::npos);
  EXPECT_EQ(count_in_state("assessment"), in_assessment);
  matched = call("GET", "/v1/cases?workflow=aftercare&match=name:Qzyxwv%20Tarnobel", supervisor_);
  ASSERT_EQ(matched.status, 200) << matched.body;
  ASSERT_EQ(matched.json().at("items").as_array().size(), 1U);
  EXPECT_EQ(matched.json().at("items").at(0).at("id").as_string(), other);

  // The audit trail keeps the fact and the reason.
  auto audit = call("GET", "/v1/audit?action=case.erase", auditor_);
  ASSERT_EQ(audit.status, 200) << audit.body;
  const auto audit_json = audit.json();
  const auto& rows = audit_json.at("items").as_array();
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows.at(0).at("actor"), "root.admin");
  EXPECT_EQ(rows.at(0).at("case_id").as_string(), id);
  EXPECT_EQ(rows.at(0).at("reason"), kReason);
  const auto& fields = rows.at(0).at("fields").as_array();
  EXPECT_NE(std::find(fields.begin(), fields.end(), boost::json::value("name")), fields.end());
  EXPECT_NE(std::find(fields.begin(), fields.end(), boost::json::value("counselling_notes")),
            fields.end());
  // While the engine runs too: not in the write-ahead log, which keeps old pages until reset.
  EXPECT_EQ(database_bytes().find(wrapped_key), std::string::npos) << "the key is in the WAL";
  stop();

  // The key is gone from the file: nothing left to decrypt the old ciphertext with. (The other
  // case holds the same values, sealed under its own key: its ciphertext is all the file shows.)
  auto store = store::SqliteStore::open(config_.db);
  ASSERT_TRUE(store) << store.error().message;
  auto row = (*store)->get_case(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->data_key, "");
  EXPECT_FALSE(row->data.contains("name"));
  auto entries = (*store)->history(id, 100, std::nullopt);
  ASSERT_TRUE(entries);
  for (const auto& entry : entries->items) {
    EXPECT_FALSE(entry.comment && entry.comment->find("Grimblethorpe") != std::string::npos);
  }
  store->reset();
  const std::string bytes = database_bytes();
  for (const char* secret : {kName, kBirth, kCounselling, kComment, "Tarnobel", "Grimblethorpe"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " is in the database file";
  }
  // Neither in a free page nor in the write-ahead log: with it and the master key, the history's
  // ciphertext would still open.
  EXPECT_EQ(bytes.find(wrapped_key), std::string::npos) << "the destroyed key is in the file";

  // The engine starts again on a database with an erased (keyless) case, and the chain holds.
  start();
  auto again = call("GET", "/v1/cases/" + id, token("ravi2.supervisor", {"supervisor"}));
  EXPECT_EQ(again.status, 200) << again.body;
  stop();
  test::TempDir run;
  const auto verified = test::run_carepath({"audit", "verify", "--db", config_.db}, run);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("audit chain ok"), std::string::npos) << verified.out;
  // A rotation re-wraps the keys that exist and passes over the destroyed one.
  const auto rotated = test::run_carepath(
      {"keys", "rotate", "--master-key", config_.master_key, "--db", config_.db}, run);
  EXPECT_EQ(rotated.exit_code, 0) << rotated.out << rotated.err;
  EXPECT_NE(rotated.out.find("re-wrapped 1 case keys"), std::string::npos) << rotated.out;
}

constexpr const char* kHostel = R"(carepath: 1
workflow: hostel
version: 1
roles: [caseworker]
fields:
  name: { type: string, sensitivity: identifying, visible_to: [caseworker], retain: 7y after closed }
  notes: { type: text, sensitivity: sensitive, visible_to: [caseworker], retain: 18mo after closed }
  age: { type: integer, min: 0, max: 25 }
states:
  intake:
    initial: true
    on:
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

TEST_F(Erasure, RetentionCommandRemovesExpiredValuesOnce) {
  const fs::path workflows = dir_ / "workflows";
  fs::create_directories(workflows);
  std::ofstream(workflows / "hostel.yaml") << kHostel;
  config_.workflows = workflows.string();
  start_with_tokens();
  std::string ids[2];
  for (auto& id : ids) {
    auto opened = call("POST", "/v1/cases", caseworker_,
                       std::string(R"({"workflow": "hostel", "data": {"name": ")") + kName +
                           R"(", "notes": ")" + kCounselling + R"(", "age": 9}})");
    ASSERT_EQ(opened.status, 201) << opened.body;
    id = std::string(opened.json().at("id").as_string());
  }
  auto closed =
      call("POST", "/v1/cases/" + ids[0] + "/events", caseworker_, R"({"event": "close"})");
  ASSERT_EQ(closed.status, 200) << closed.body;
  stop();

  // Far on (a test clock): both periods of the closed case have run out; the open one keeps all.
  test::TempDir run;
  const std::vector<std::string> common = {
      "--db",         config_.db,         "--workflows",  config_.workflows,
      "--master-key", config_.master_key, "--test-clock", "2099-01-01T00:00:00Z"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), common.begin(), common.end());
    return args;
  };
  auto dry = test::run_carepath(with({"retention", "--dry-run"}), run);
  EXPECT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("would remove"), std::string::npos) << dry.out;
  auto first = test::run_carepath(with({"retention"}), run);
  EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
  // 2099 is past both periods: name and notes, each in the case and its opening payload.
  EXPECT_NE(first.out.find("removed 4 values of 2 fields in 1 cases"), std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("notes: 2 values in 1 cases"), std::string::npos) << first.out;
  auto second = test::run_carepath(with({"retention"}), run);
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("removed 0 values"), std::string::npos) << second.out;

  start();
  const std::string reader = token("asha2.caseworker", {"caseworker"});
  auto expired = call("GET", "/v1/cases/" + ids[0], reader);
  ASSERT_EQ(expired.status, 200) << expired.body;
  EXPECT_FALSE(expired.json().at("data").as_object().contains("notes"));
  EXPECT_EQ(expired.json().at("data").at("age"), 9);
  auto kept = call("GET", "/v1/cases/" + ids[1], reader);
  ASSERT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(kept.json().at("data").at("notes"), kCounselling);
  auto history = call("GET", "/v1/cases/" + ids[0] + "/events", reader);
  ASSERT_EQ(history.status, 200) << history.body;
  EXPECT_EQ(history.json().at("items").as_array().back().at("event"), "retention_applied");
  auto audit = call("GET", "/v1/audit?action=retention", token("lata2.auditor", {"auditor"}));
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.json().at("items").as_array().size(), 1U);
}

}  // namespace
}  // namespace carepath
