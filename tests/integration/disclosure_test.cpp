// No sensitive value leaves the engine by a side door: the real binary is driven through a
// lifecycle with distinctive invented values, and bad requests that carry them, with debug logs
// on; then no error body, no log line and no byte of the database file holds any of them.
#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

// Invented, distinctive; each is the value of a field the aftercare workflow marks sensitive.
const std::vector<std::string> kSecrets = {"Vornaleth Quibbs", "Pellucid-Marrowgate",
                                           "Sprocketwhistle", "Gnarlebrook", "Quillonby Form 7"};

TEST(Disclosure, NoSensitiveValueInErrorBodiesLogsOrTheDatabaseFile) {
  test::TempDir dir;
  const std::string db = (dir / "carepath.db").string();
  const auto created = test::run_carepath(
      {"token", "create", "--user", "asha", "--roles",
       "caseworker,counsellor,medical_officer,legal_officer,supervisor", "--db", db},
      dir);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = created.out.substr(0, created.out.find('\n'));
  test::ServerProcess server({"--db", db, "--workflows", test::source_path("workflows").string(),
                              "--plugins", test::plugin_build_dir(), "--log-level", "debug"});
  const auto call = [&](std::string_view method, const std::string& target,
                        const std::string& body = {},
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Authorization", "Bearer " + token);
    return test::http_request(server.port(), method, target, body, headers);
  };
  std::vector<std::string> errors;
  const auto expect_error = [&](const test::HttpResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    errors.push_back(r.body);
  };

  auto opened = call("POST", "/v1/cases",
                     R"({"workflow": "aftercare", "data": {"name": ")" + kSecrets[0] +
                         R"(", "date_of_birth": "2012-03-04", "home": "umeed"}})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id(opened.json().at("id").as_string());
  const std::string target = "/v1/cases/" + id;
  ASSERT_EQ(call("PATCH", target,
                 R"({"data": {"counselling_notes": ")" + kSecrets[1] + R"("}, "comment": ")" +
                     kSecrets[2] + R"("})")
                .status,
            200);
  ASSERT_EQ(
      call("PATCH", target, R"({"data": {"medical_notes": ")" + kSecrets[3] + R"("}})").status,
      200);

  // Bad requests that carry the values: each answer explains, none repeats them.
  const std::string long_name(260, 'V');
  expect_error(call("PATCH", target, R"({"data": {"name": ")" + long_name + kSecrets[0] + R"("}})"),
               422);
  expect_error(call("PATCH", target, R"({"data": {"date_of_birth": ")" + kSecrets[2] + R"("}})"),
               422);
  expect_error(call("PATCH", target, R"({"data": {"nickname": ")" + kSecrets[3] + R"("}})"), 422);
  expect_error(call("PATCH", target, R"({"data": {"name": 7, "x": ")" + kSecrets[1] + R"("}})"),
               422);
  expect_error(call("PATCH", target, R"({"data": ")" + kSecrets[0] + R"("})"), 400);
  expect_error(call("PATCH", target, "{\"data\": {\"name\": \"" + kSecrets[0]), 400);
  expect_error(call("POST", target + "/events",
                    R"({"event": "produced_before_cwc", "data": {"name": ")" + kSecrets[0] +
                        R"(", "age": 40}})"),
               422);
  const std::string fire = R"({"event": "journey_started", "comment": ")" + kSecrets[2] + R"("})";
  ASSERT_EQ(call("POST", target + "/events", fire, {{"Idempotency-Key", "k1"}}).status, 200);
  expect_error(call("POST", target + "/events",
                    R"({"event": "journey_started", "comment": ")" + kSecrets[3] + R"("})",
                    {{"Idempotency-Key", "k1"}}),
               422);
  expect_error(call("GET", "/v1/cases?match=home:" + kSecrets[3]), 400);
  // A consent's evidence and scope may name people: sealed like a sensitive field, and never
  // repeated by an error.
  ASSERT_EQ(call("POST", target + "/events",
                 R"({"event": "consent_given", "data": {"consent": "medical_examination", )"
                 R"("given_by": "child", "evidence": ")" +
                     kSecrets[4] + R"(", "scope": ")" + kSecrets[3] + R"("}})")
                .status,
            200);
  expect_error(call("POST", target + "/events",
                    R"({"event": "consent_given", "data": {"consent": "medical_examinatoin", )"
                    R"("given_by": "aunt", "evidence": ")" +
                        kSecrets[4] + R"("}})"),
               422);
  expect_error(call("POST", target + "/events",
                    R"({"event": "consent_withdrawn", "data": {"consent": "data_sharing", )"
                    R"("reason": ")" +
                        kSecrets[4] + R"("}})"),
               409);
  auto consents = call("GET", target + "/consents");
  ASSERT_EQ(consents.status, 200) << consents.body;
  EXPECT_NE(consents.body.find(kSecrets[4]), std::string::npos) << consents.body;

  // The values are there for those who may read them.
  auto read = call("GET", target);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json().at("data").at("name").as_string(), kSecrets[0]);
  EXPECT_EQ(read.json().at("data").at("counselling_notes").as_string(), kSecrets[1]);

  EXPECT_EQ(server.stop(), 0);
  const std::string log = server.log();
  EXPECT_NE(log.find("listening on"), std::string::npos) << "the log was captured";
  std::string database;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    database += test::read_file(db + suffix);
  }
  ASSERT_GT(database.size(), 10'000U);
  for (const auto& secret : kSecrets) {
    for (const auto& body : errors) {
      EXPECT_EQ(body.find(secret), std::string::npos) << secret << " in " << body;
    }
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log";
    EXPECT_EQ(database.find(secret), std::string::npos) << secret << " in the database file";
  }
}

}  // namespace
}  // namespace carepath
