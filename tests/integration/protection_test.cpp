// Encryption at rest on a real SQLite file behind the real HTTP server: sensitive values go in
// and come out through the API, and the database file's bytes never hold them; a wrong or
// missing key stops the engine; a sealed value moved in the database does not open; a rotation
// re-wraps every case's key while the values stay readable.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "app/engine.hpp"
#include "security/crypto.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_store.hpp"
#include "tests/integration/encrypted_engine.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sql.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;

// Invented, distinctive values: none may appear in the database file.
constexpr const char* kName = "Qzyxwv Tarnobel";
constexpr const char* kBirth = "2011-04-05";
constexpr const char* kCounselling = "Xylophant memories of Brumwick";
constexpr const char* kComment = "Talked about Grimblethorpe Lane";

class Protection : public test::EncryptedEngineTest {
 protected:
  // Opens a case with the distinctive values, records counselling notes with a comment, and
  // takes one transition with an Idempotency-Key. Returns the case id.
  std::string seed() {
    const std::string caseworker = token("asha.caseworker", {"caseworker"});
    const std::string counsellor = token("meera.counsellor", {"counsellor"});
    auto opened = call("POST", "/v1/cases", caseworker,
                       std::string(R"({"workflow": "aftercare", "data": {"name": ")") + kName +
                           R"(", "date_of_birth": ")" + kBirth + R"(", "home": "umang"}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    const std::string id(opened.json().at("id").as_string());
    auto patched = call("PATCH", "/v1/cases/" + id, counsellor,
                        std::string(R"({"data": {"counselling_notes": ")") + kCounselling +
                            R"("}, "comment": ")" + kComment + R"("})");
    EXPECT_EQ(patched.status, 200) << patched.body;
    const std::string fire =
        R"({"event": "produced_before_cwc", "data": {"cwc_order_no": "CWC/KOL/77", "age": 14}})";
    auto fired = call("POST", "/v1/cases/" + id + "/events", caseworker, fire,
                      {{"Idempotency-Key", "produce-1"}});
    EXPECT_EQ(fired.status, 200) << fired.body;
    // The same request again: the remembered answer, opened from its sealed copy.
    auto replayed = call("POST", "/v1/cases/" + id + "/events", caseworker, fire,
                         {{"Idempotency-Key", "produce-1"}});
    EXPECT_EQ(replayed.status, 200) << replayed.body;
    EXPECT_EQ(replayed.json().at("data").at("name"), kName);
    return id;
  }

  // Every byte SQLite keeps for the database: the file, its WAL and shared memory.
  std::string database_bytes() const {
    std::string all;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      all += test::read_file(config_.db + suffix);
    }
    return all;
  }
};

TEST_F(Protection, SensitiveValuesAreReadableThroughTheApiAndAbsentFromTheFile) {
  start();
  const std::string id = seed();
  const std::string supervisor = token("ravi.supervisor", {"supervisor"});
  auto read = call("GET", "/v1/cases/" + id, supervisor);
  ASSERT_EQ(read.status, 200) << read.body;
  const auto data = read.json().at("data").as_object();
  EXPECT_EQ(data.at("name"), kName);
  EXPECT_EQ(data.at("date_of_birth"), kBirth);
  EXPECT_EQ(data.at("counselling_notes"), kCounselling);
  EXPECT_EQ(data.at("home"), "umang");
  auto history = call("GET", "/v1/cases/" + id + "/events", supervisor);
  ASSERT_EQ(history.status, 200) << history.body;
  EXPECT_NE(history.body.find(kComment), std::string::npos);
  // The payloads kept to rebuild the case (the API lists changed names only) open too.
  auto entries = engine_->store().history(id, 100, std::nullopt);
  ASSERT_TRUE(entries) << entries.error().message;
  EXPECT_EQ(entries->items.at(0).payload.at("name"), kName);
  EXPECT_EQ(entries->items.at(1).payload.at("counselling_notes"), kCounselling);
  EXPECT_EQ(entries->items.at(1).comment, kComment);

  // The list filters still work on what is not sensitive.
  auto listed = call("GET", "/v1/cases?workflow=aftercare&state=assessment", supervisor);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json().at("items").as_array().size(), 1U);
  stop();

  const std::string bytes = database_bytes();
  ASSERT_GT(bytes.size(), 10'000U);
  for (const char* secret : {kName, kBirth, kCounselling, kComment, "Tarnobel", "Grimblethorpe"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret << " is in the database file";
  }
  // Not sensitive, and still there to query and count: the state, the home, the order number.
  EXPECT_NE(bytes.find("umang"), std::string::npos);
  EXPECT_NE(bytes.find("CWC/KOL/77"), std::string::npos);

  // After a restart on the same key everything reads back.
  start();
  read = call("GET", "/v1/cases/" + id, token("ravi2.supervisor", {"supervisor"}));
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json().at("data").at("name"), kName);
}

TEST_F(Protection, AWrongOrMissingKeyStopsTheStart) {
  start();
  seed();
  stop();
  const std::string right = config_.master_key;
  config_.master_key = (dir_ / "other.key").string();
  ASSERT_TRUE(security::create_key_file(config_.master_key));
  auto wrong = app::Engine::open(config_);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("does not open this database"), std::string::npos)
      << wrong.error().message;
  config_.master_key.clear();
  auto none = app::Engine::open(config_);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no master key"), std::string::npos);
  config_.master_key = (dir_ / "absent.key").string();
  auto absent = app::Engine::open(config_);
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().message.find("carepath keys init"), std::string::npos);
  config_.master_key = right;
  EXPECT_TRUE(app::Engine::open(config_));

  // The binary says the same and exits 1.
  test::TempDir run;
  const auto out = test::run_carepath(
      {"serve", "--listen", "127.0.0.1:0", "--db", config_.db, "--workflows", config_.workflows},
      run, {{"CAREPATH_MASTER_KEY_FILE", ""}});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.err.find("no master key"), std::string::npos) << out.err;
}

TEST_F(Protection, ADatabaseWithPlaintextCasesIsRefused) {
  {
    auto store = store::SqliteStore::open(config_.db);
    ASSERT_TRUE(store);
    CaseRecord record;
    record.id = "plain";
    record.code = "CP-PLAI-N001";
    record.workflow = "aftercare";
    record.workflow_version = 2;
    record.state = "intake";
    record.version = 1;
    HistoryEntry opened;
    opened.event = "opened";
    opened.to = "intake";
    opened.version = 1;
    ASSERT_TRUE((*store)->create_case(record, opened, {}));
  }
  auto engine = app::Engine::open(config_);
  ASSERT_FALSE(engine);
  EXPECT_NE(engine.error().message.find("1 cases written before encryption"), std::string::npos)
      << engine.error().message;
}

TEST_F(Protection, ASealedValueMovedInTheFileDoesNotOpen) {
  start();
  const std::string first = seed();
  const std::string second = seed();
  const std::string supervisor = token("ravi.supervisor", {"supervisor"});
  stop();
  // Someone with the file copies the first case's sealed name over the second's.
  test::run_sql(
      config_.db,
      "UPDATE cases SET data_json = json_set(data_json, '$.name', (SELECT json_extract(data_json, "
      "'$.name') FROM cases WHERE id = '" +
          first + "')) WHERE id = '" + second + "'");
  // ... and the date of birth over the name within the first case.
  test::run_sql(
      config_.db,
      "UPDATE cases SET data_json = json_set(data_json, '$.name', json_extract(data_json, "
      "'$.date_of_birth')) WHERE id = '" +
          first + "'");
  start();
  for (const auto& id : {first, second}) {
    auto read = call("GET", "/v1/cases/" + id, supervisor);
    EXPECT_EQ(read.status, 500) << read.body;
    EXPECT_EQ(read.body.find(kName), std::string::npos);
    EXPECT_EQ(read.body.find(kBirth), std::string::npos);
  }
}

TEST_F(Protection, RotationRewrapsEveryCaseKeyAndTheValuesStayReadable) {
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(seed());
  }
  const std::string supervisor = token("ravi.supervisor", {"supervisor"});
  auto before = security::load_key_file(config_.master_key);
  ASSERT_TRUE(before);
  const std::string old_id = before->current().id;

  // Rotated while the engine runs.
  test::TempDir run;
  const auto rotated = test::run_carepath(
      {"keys", "rotate", "--master-key", config_.master_key, "--db", config_.db}, run);
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_NE(rotated.out.find("re-wrapped 3 case keys"), std::string::npos) << rotated.out;
  auto after = security::load_key_file(config_.master_key);
  ASSERT_TRUE(after);
  EXPECT_NE(after->current().id, old_id);
  EXPECT_NE(after->find(old_id), nullptr) << "older keys stay in the file";
  for (const auto& id : ids) {
    auto read = call("GET", "/v1/cases/" + id, supervisor);
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_EQ(read.json().at("data").at("counselling_notes"), kCounselling);
  }
  stop();
  auto store = store::SqliteStore::open(config_.db);
  ASSERT_TRUE(store);
  auto left = (*store)->data_keys_not_wrapped_by(after->current().id, 10);
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
  store->reset();
  // A new engine on the rotated file reads everything, and finds by name as before.
  start();
  auto read = call("GET", "/v1/cases/" + ids[0], supervisor);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json().at("data").at("name"), kName);
  auto found = call("GET", "/v1/cases?match=name:qzyxwv%20tarnobel", supervisor);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(found.json().at("items").as_array().size(), 3U);
}

TEST_F(Protection, DuplicateDetectionMatchesIdentifyingFieldsThroughTheBlindIndex) {
  start();
  const std::string caseworker = token("asha.caseworker", {"caseworker"});
  for (const char* name : {"Invented Rupa Sen", "invented  rupa SEN ", "Invented Mita Roy"}) {
    auto opened =
        call("POST", "/v1/cases", caseworker,
             std::string(R"({"workflow": "aftercare", "data": {"name": ")") + name + R"("}})");
    ASSERT_EQ(opened.status, 201) << opened.body;
  }
  // "Is this child already registered?": case and spacing do not matter, the value is not stored.
  auto found = call("GET", "/v1/cases?match=name%3AInvented%20Rupa%20Sen", caseworker);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(found.json().at("items").as_array().size(), 2U);
  found = call("GET", "/v1/cases?match=name:Nobody%20Here&workflow=aftercare", caseworker);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_TRUE(found.json().at("items").as_array().empty());

  // Only identifying fields, and FIELD:VALUE.
  auto bad = call("GET", "/v1/cases?match=home:umang", caseworker);
  ASSERT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.json().at("type"), "/problems/invalid-params");
  EXPECT_NE(bad.body.find("name, date_of_birth"), std::string::npos) << bad.body;
  bad = call("GET", "/v1/cases?match=name", caseworker);
  EXPECT_EQ(bad.status, 400) << bad.body;

  // Only for roles that may see the field: the mother's name of education support is not the
  // education coordinator's to see, so not to search by either.
  const std::string coordinator = token("lata.coordinator", {"education_coordinator"});
  auto refused = call("GET", "/v1/cases?match=mother_name:Invented%20Mother", coordinator);
  ASSERT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.body.find("Invented Mother"), std::string::npos);
  const std::string outreach = token("kiran.outreach", {"outreach_worker"});
  EXPECT_EQ(call("GET", "/v1/cases?match=mother_name:Invented%20Mother", outreach).status, 200);
  stop();
  const std::string bytes = database_bytes();
  EXPECT_EQ(bytes.find("Rupa"), std::string::npos);
  EXPECT_EQ(bytes.find("rupa sen"), std::string::npos);
}

TEST_F(Protection, BreakGlassShowsRestrictedFieldsToASupervisorWithAReasonAndIsReported) {
  // A home where only the medical officer sees the health status, not even the supervisor.
  const fs::path workflows = dir_ / "workflows";
  fs::create_directories(workflows);
  std::ofstream(workflows / "clinic.yaml") << R"(carepath: 1
workflow: clinic
version: 1
roles: [caseworker, medical_officer, supervisor]
fields:
  name: { type: string, sensitivity: identifying }
  health_status: { type: text, sensitivity: sensitive, visible_to: [medical_officer] }
states:
  open: { initial: true }
)";
  config_.workflows = workflows.string();
  config_.plugins.clear();
  start();
  const std::string medical = token("dr.rao", {"medical_officer"});
  auto opened = call("POST", "/v1/cases", medical,
                     R"({"workflow": "clinic", "data": {"name": ")" + std::string(kName) +
                         R"(", "health_status": ")" + kCounselling + R"("}})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string target = "/v1/cases/" + std::string(opened.json().at("id").as_string());
  const std::string supervisor = token("ravi.supervisor", {"supervisor"});
  const std::string caseworker = token("asha.caseworker", {"caseworker"});

  // Without a reason the supervisor sees that the fields exist, not their values: name too,
  // which names no roles and so is need-to-know for everyone.
  auto plain = call("GET", target, supervisor);
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_FALSE(plain.json().at("data").as_object().contains("health_status"));
  EXPECT_EQ(plain.json().at("redacted_fields"), (boost::json::array{"name", "health_status"}));
  // With one, the supervisor sees it; others may not break the glass; a reason must be sane.
  const std::string why = "CWC hearing today needs the medical history; order 17/2026";
  auto glass = call("GET", target, supervisor, {}, {{"X-Access-Reason", why}});
  ASSERT_EQ(glass.status, 200) << glass.body;
  EXPECT_EQ(glass.json().at("data").at("health_status"), kCounselling);
  EXPECT_TRUE(glass.json().at("redacted_fields").as_array().empty());
  auto refused = call("GET", target, caseworker, {}, {{"X-Access-Reason", why}});
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(refused.body.find(kCounselling), std::string::npos);
  auto empty = call("GET", target, supervisor, {}, {{"X-Access-Reason", ""}});
  EXPECT_EQ(empty.status, 400) << empty.body;

  // The auditor's break-glass report: who, which case, which fields, why; never the value.
  const std::string auditor = token("nina.auditor", {"auditor"});
  auto report = call("GET", "/v1/audit?action=break_glass", auditor);
  ASSERT_EQ(report.status, 200) << report.body;
  const auto items = report.json().at("items").as_array();
  ASSERT_EQ(items.size(), 1U) << report.body;
  EXPECT_EQ(items[0].at("actor"), "ravi.supervisor");
  EXPECT_EQ(items[0].at("reason").as_string(), why);
  EXPECT_EQ(items[0].at("fields"), (boost::json::array{"health_status", "name"}));
  EXPECT_EQ(report.body.find(kCounselling), std::string::npos);
}

}  // namespace
}  // namespace carepath
