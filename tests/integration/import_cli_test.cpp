// `carepath import` on the real binary: a JSON lines file of cases with their histories is
// imported, sealed as the server seals, `carepath verify` and `carepath audit verify` pass, and
// the server shows the cases; a file with one bad line is refused whole.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

using test::Output;
using test::run_carepath;

// Obviously fake values only.
constexpr const char* kWorkflow = R"(carepath: 1
workflow: shelter
version: 1
roles: [caseworker]
fields:
  name: { type: string, sensitivity: identifying, visible_to: [caseworker] }
  age: { type: integer, min: 0, max: 25 }
  home: { type: enum, values: [north, south], placement: true }
  notes: { type: text, sensitivity: sensitive, visible_to: [caseworker] }
states:
  intake:
    initial: true
    on:
      admit: { to: in_care, roles: [caseworker] }
  in_care:
    after:
      - { in: 3650d, event: review }
    on:
      review: { to: in_care }
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

const std::string kCases =
    R"({"workflow":"shelter","workflow_version":1,"code":"TEST-0001","state":"in_care",)"
    R"("history":[{"at":"2025-01-02T09:00:00Z","actor":"test-worker","event":"opened",)"
    R"("payload":{"name":"Fakename Alpha","age":12}},)"
    R"({"at":"2025-01-03T09:00:00Z","actor":"test-worker","event":"admit","to":"in_care",)"
    R"("payload":{"home":"north","notes":"fake secret note"},"comment":"fake comment"}]})"
    "\n"
    R"({"workflow":"shelter","workflow_version":1,"code":"TEST-0002","state":"closed",)"
    R"("data":{"name":"Fakename Beta","age":9,"home":"south"},)"
    R"("history":[{"at":"2025-02-01T09:00:00Z","actor":"test-worker","event":"opened",)"
    R"("payload":{"name":"Fakename Beta","age":9}},)"
    R"({"at":"2025-02-02T09:00:00Z","actor":"test-worker","event":"admit",)"
    R"("payload":{"home":"south"}},)"
    R"({"at":"2025-03-02T09:00:00Z","actor":"test-worker","event":"close"}]})"
    "\n\n"
    R"({"workflow":"shelter","workflow_version":1,"state":"intake","history":[)"
    R"({"at":"2025-04-01T09:00:00Z","actor":"test-worker","event":"opened","payload":{"age":7}},)"
    R"({"at":"2025-04-02T09:00:00Z","actor":"other-worker","event":"updated",)"
    R"("payload":{"age":8}}]})"
    "\n";

std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ImportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "workflows");
    std::ofstream(dir_ / "workflows" / "shelter.yaml") << kWorkflow;
  }

  Output carepath(std::vector<std::string> args) {
    args.insert(args.end(), {"--db", db_, "--workflows", (dir_ / "workflows").string()});
    return run_carepath(args, dir_);
  }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  test::TempDir dir_;
  std::string db_ = (dir_ / "carepath.db").string();
};

TEST_F(ImportCli, ImportsSealedCasesThatVerifyAndTheServerShows) {
  const auto imported = carepath({"import", write("cases.jsonl", kCases)});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("imported 3 cases, 7 events in "), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find(" events/s"), std::string::npos) << imported.out;

  const auto verified = run_carepath({"verify", "--db", db_}, dir_);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("verify ok: 3 cases, 7 events"), std::string::npos) << verified.out;
  const auto audited = run_carepath({"audit", "verify", "--db", db_}, dir_);
  EXPECT_EQ(audited.exit_code, 0) << audited.out << audited.err;
  EXPECT_NE(audited.out.find("audit chain ok: 3 entries"), std::string::npos) << audited.out;

  // Sealed at rest: no sensitive value or comment in the database files.
  const std::string bytes = read_bytes(db_) + read_bytes(db_ + "-wal");
  for (const char* secret :
       {"Fakename Alpha", "Fakename Beta", "fake secret note", "fake comment"}) {
    EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
  }

  const auto token = run_carepath(
      {"token", "create", "--user", "test-worker", "--roles", "caseworker", "--db", db_}, dir_);
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::vector<std::pair<std::string, std::string>> auth{
      {"Authorization", "Bearer " + token.out.substr(0, token.out.find('\n'))}};
  test::ServerProcess server({"--db", db_, "--workflows", (dir_ / "workflows").string()},
                             test::listen_port());
  auto listed = test::http_request(server.port(), "GET", "/v1/cases?workflow=shelter", {}, auth);
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto list = listed.json();
  const auto& items = list.at("items").as_array();
  ASSERT_EQ(items.size(), 3U);
  const auto& first = items[0].as_object();
  EXPECT_EQ(first.at("code").as_string(), "TEST-0001");
  EXPECT_EQ(first.at("state").as_string(), "in_care");
  const std::string id(first.at("id").as_string());
  auto one = test::http_request(server.port(), "GET", "/v1/cases/" + id, {}, auth);
  ASSERT_EQ(one.status, 200) << one.body;
  const auto body = one.json();
  EXPECT_EQ(body.at("data").at("name").as_string(), "Fakename Alpha");
  EXPECT_EQ(body.at("data").at("notes").as_string(), "fake secret note");
  EXPECT_EQ(body.at("version").as_int64(), 2);
  auto history = test::http_request(server.port(), "GET", "/v1/cases/" + id + "/events", {}, auth);
  ASSERT_EQ(history.status, 200) << history.body;
  const auto entries = history.json();
  ASSERT_EQ(entries.at("items").as_array().size(), 2U);
  EXPECT_EQ(entries.at("items").as_array()[1].at("comment").as_string(), "fake comment");
  // The identifying field's blind index finds the case.
  auto found = test::http_request(
      server.port(), "GET", "/v1/cases?workflow=shelter&match=name:fakename%20beta", {}, auth);
  EXPECT_EQ(found.status, 200) << found.body;
  if (found.status == 200) {
    const auto matches = found.json();
    ASSERT_EQ(matches.at("items").as_array().size(), 1U);
    EXPECT_EQ(matches.at("items").as_array()[0].at("code").as_string(), "TEST-0002");
  }
  // The open case in in_care has its state's timer.
  auto schedule =
      test::http_request(server.port(), "GET", "/v1/cases/" + id + "/schedule", {}, auth);
  EXPECT_EQ(schedule.status, 200) << schedule.body;
  EXPECT_NE(schedule.body.find("review"), std::string::npos) << schedule.body;
  server.stop();
}

TEST_F(ImportCli, RefusesAWholeFileWithOneBadLineAndWritesNothing) {
  const std::string bad =
      R"({"workflow":"shelter","workflow_version":1,"code":"TEST-0009","state":"in_care",)"
      R"("history":[{"at":"2025-01-02T09:00:00Z","actor":"test-worker","event":"opened",)"
      R"("payload":{"name":"Fakename Gamma","age":"twelve"}}]})";
  const auto path = write("bad.jsonl", kCases + bad + "\n");
  const auto refused = carepath({"import", path});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find(path + ":5: history[0]: 'payload': field 'age' must be an integer"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("import refused: 1 of 4 lines are wrong"), std::string::npos)
      << refused.err;
  EXPECT_EQ(refused.err.find("Fakename"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("twelve"), std::string::npos) << refused.err;
  const auto verified = run_carepath({"verify", "--db", db_}, dir_);
  EXPECT_NE(verified.out.find("verify ok: 0 cases"), std::string::npos) << verified.out;

  // A dry run of the good file writes nothing either; importing it twice refuses its codes.
  const auto good = write("good.jsonl", kCases);
  const auto dry = carepath({"import", good, "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("dry run: 3 cases, 7 events checked"), std::string::npos) << dry.out;
  EXPECT_NE(run_carepath({"verify", "--db", db_}, dir_).out.find("verify ok: 0 cases"),
            std::string::npos);
  ASSERT_EQ(carepath({"import", good}).exit_code, 0);
  const auto again = carepath({"import", good});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find(good + ":1: case code 'TEST-0001' is already in the database"),
            std::string::npos)
      << again.err;
}

TEST_F(ImportCli, NeedsAFileAndTheMasterKey) {
  EXPECT_EQ(carepath({"import"}).exit_code, 1);
  const auto missing = carepath({"import", (dir_ / "none.jsonl").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
  const auto no_key = run_carepath({"import", write("cases.jsonl", kCases), "--db", db_,
                                    "--workflows", (dir_ / "workflows").string()},
                                   dir_, {{"CAREPATH_MASTER_KEY_FILE", ""}});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("no master key"), std::string::npos) << no_key.err;
}

}  // namespace
}  // namespace carepath
