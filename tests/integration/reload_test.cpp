// Reloads the workflows directory while the engine runs: POST /v1/admin/workflows/reload on an
// in-process engine, and SIGHUP to the real binary. New versions register beside the old, broken
// or conflicting files are refused with their errors, and requests keep being answered.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "app/engine.hpp"
#include "security/tokens.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/keys.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// `text` with the first `from` replaced by `to`; fails the test when `from` is not there.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The reference aftercare workflow as version `version`, with another title.
std::string aftercare_version(int version) {
  const std::string original = test::read_file(test::source_path("workflows/aftercare.yaml"));
  return replaced(
      replaced(original, "\nversion: 3\n", "\nversion: " + std::to_string(version) + "\n"),
      "title: Aftercare for girls in CWC custody",
      "title: Aftercare for girls in CWC custody (version " + std::to_string(version) + ")");
}

// The versions of `name` GET /v1/workflows lists, as "[3,4]".
std::string listed_versions(const test::HttpResponse& listed, const std::string& name) {
  const auto json = listed.json();
  for (const auto& item : json.at("items").as_array()) {
    if (item.at("name") == name.c_str()) {
      return boost::json::serialize(item.at("versions"));
    }
  }
  return "(not listed)";
}

class Reload : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(workflows_);
    for (const auto& entry : fs::directory_iterator(test::source_path("workflows"))) {
      fs::copy_file(entry.path(), workflows_ / entry.path().filename());
    }
    config_.host = "127.0.0.1";
    config_.port = test::listen_port();
    config_.db = (dir_ / "carepath.db").string();
    config_.master_key = test::master_key_file();
    config_.workflows = workflows_.string();
    config_.plugins = {test::plugin_build_dir()};
    auto engine = app::Engine::open(config_);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
    auto port = engine_->start();
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
    admin_ = token("ops.admin", {"admin"});
    caseworker_ = token("asha.caseworker", {"caseworker"});
  }

  std::string token(const std::string& user, std::vector<std::string> roles) {
    auto issued = security::issue_token(user, std::move(roles), 0);
    EXPECT_TRUE(issued);
    EXPECT_TRUE(engine_->store().create_token(issued->record));
    return issued->token;
  }

  test::HttpResponse call(std::string_view method, std::string_view target,
                          const std::string& token, std::string_view body = {}) {
    return test::http_request(port_, method, target, body, {{"Authorization", "Bearer " + token}});
  }

  test::HttpResponse reload() { return call("POST", "/v1/admin/workflows/reload", admin_); }

  // The report's item for `file` (a file name in the workflows directory).
  static boost::json::object item(const test::HttpResponse& reloaded, const std::string& file) {
    const auto json = reloaded.json();
    for (const auto& i : json.at("items").as_array()) {
      if (fs::path(std::string(i.at("file").as_string())).filename() == file) {
        return i.as_object();
      }
    }
    ADD_FAILURE() << file << " is not in the report: " << reloaded.body;
    return {};
  }

  std::string open_case() {
    const auto opened =
        call("POST", "/v1/cases", caseworker_, R"({"workflow": "aftercare", "data": {"age": 14}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    return std::string(opened.json().at("id").as_string());
  }

  test::TempDir dir_;
  fs::path workflows_ = dir_ / "workflows";
  app::Config config_;
  std::unique_ptr<app::Engine> engine_;
  std::uint16_t port_ = 0;
  std::string admin_;
  std::string caseworker_;
};

TEST_F(Reload, AddsANewVersionBesideTheOldOneAndLeavesRunningCasesOnTheirs) {
  const std::string before = open_case();
  write_file(workflows_ / "aftercare_v4.yaml", aftercare_version(4));

  const auto reloaded = reload();
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  const auto report = reloaded.json().as_object();
  EXPECT_EQ(report.at("added"), 1) << reloaded.body;
  EXPECT_EQ(report.at("unchanged"), 2) << reloaded.body;
  EXPECT_EQ(report.at("refused"), 0) << reloaded.body;
  const auto added = item(reloaded, "aftercare_v4.yaml");
  EXPECT_EQ(added.at("status"), "added");
  EXPECT_EQ(added.at("workflow"), "aftercare");
  EXPECT_EQ(added.at("version"), 4);
  EXPECT_TRUE(added.at("errors").as_array().empty());
  EXPECT_EQ(item(reloaded, "aftercare.yaml").at("status"), "unchanged");
  EXPECT_EQ(item(reloaded, "education_support.yaml").at("status"), "unchanged");

  EXPECT_EQ(listed_versions(call("GET", "/v1/workflows", caseworker_), "aftercare"), "[3,4]");
  // New cases open on the new version; the case opened before stays on its own, and still moves.
  const auto after = call("GET", "/v1/cases/" + open_case(), caseworker_);
  EXPECT_EQ(after.json().at("workflow_version"), 4) << after.body;
  const auto fired = call("POST", "/v1/cases/" + before + "/events", caseworker_,
                          R"({"event": "journey_started"})");
  EXPECT_EQ(fired.status, 200) << fired.body;
  EXPECT_EQ(fired.json().at("workflow_version"), 3) << fired.body;

  // Recorded in the store too, so a restart finds it without the file.
  auto stored = engine_->store().workflows();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->size(), 3U);

  // Reloading again changes nothing.
  const auto again = reload();
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json().at("added"), 0) << again.body;
  EXPECT_EQ(again.json().at("unchanged"), 3) << again.body;
  EXPECT_EQ(item(again, "aftercare_v4.yaml").at("status"), "unchanged");
}

TEST_F(Reload, RefusesABrokenFileWithItsErrorsAndLoadsTheOthers) {
  write_file(workflows_ / "aftercare_v4.yaml", aftercare_version(4));
  write_file(workflows_ / "aftercare_v5.yaml",
             replaced(aftercare_version(5), "to: assessment", "to: nowhere"));

  const auto reloaded = reload();
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  EXPECT_EQ(reloaded.json().at("added"), 1) << reloaded.body;
  EXPECT_EQ(reloaded.json().at("refused"), 1) << reloaded.body;
  const auto refused = item(reloaded, "aftercare_v5.yaml");
  EXPECT_EQ(refused.at("status"), "refused");
  const auto& errors = refused.at("errors").as_array();
  ASSERT_FALSE(errors.empty()) << reloaded.body;
  const std::string first(errors.at(0).as_string());
  EXPECT_TRUE(std::regex_search(first, std::regex(R"(aftercare_v5\.yaml:\d+:\d+: error: )")))
      << first;
  const bool names_nowhere = std::any_of(errors.begin(), errors.end(), [](const auto& e) {
    return std::string(e.as_string()).find("'nowhere'") != std::string::npos;
  });
  EXPECT_TRUE(names_nowhere) << reloaded.body;
  EXPECT_EQ(item(reloaded, "aftercare_v4.yaml").at("status"), "added");

  // Version 5 was neither registered nor stored; 3 and 4 run.
  EXPECT_EQ(listed_versions(call("GET", "/v1/workflows", caseworker_), "aftercare"), "[3,4]");
  EXPECT_EQ(engine_->registry().find("aftercare", 5), nullptr);
  auto stored = engine_->store().workflows();
  ASSERT_TRUE(stored);
  for (const auto& s : *stored) {
    EXPECT_NE(s.version, 5) << s.name;
  }
  EXPECT_EQ(call("GET", "/v1/cases/" + open_case(), caseworker_).json().at("workflow_version"), 4);
}

TEST_F(Reload, AnswersWithTheReportWhenEveryFileIsRefused) {
  for (const auto& entry : fs::directory_iterator(workflows_)) {
    write_file(entry.path(), "carepath: 1\nworkflow: [broken\n");
  }
  const auto reloaded = reload();
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  EXPECT_EQ(reloaded.json().at("refused"), 2) << reloaded.body;
  EXPECT_EQ(reloaded.json().at("added"), 0) << reloaded.body;
  EXPECT_EQ(listed_versions(call("GET", "/v1/workflows", caseworker_), "aftercare"), "[3]");
  EXPECT_EQ(call("GET", "/v1/cases/" + open_case(), caseworker_).json().at("workflow_version"), 3);
}

TEST_F(Reload, NeverReplacesTheTextOfALoadedVersion) {
  const auto original = engine_->registry().find("aftercare", 3);
  ASSERT_NE(original, nullptr);
  // No case uses version 3 yet, and it is still refused.
  write_file(workflows_ / "aftercare.yaml",
             replaced(test::read_file(workflows_ / "aftercare.yaml"),
                      "title: Aftercare for girls in CWC custody", "title: Edited in place"));
  const auto reloaded = reload();
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  const auto refused = item(reloaded, "aftercare.yaml");
  EXPECT_EQ(refused.at("status"), "refused") << reloaded.body;
  ASSERT_FALSE(refused.at("errors").as_array().empty());
  const std::string error(refused.at("errors").at(0).as_string());
  EXPECT_NE(error.find("aftercare.yaml:1:1: error: "), std::string::npos) << error;
  EXPECT_NE(error.find("raise `version`"), std::string::npos) << error;
  EXPECT_EQ(item(reloaded, "education_support.yaml").at("status"), "unchanged");

  EXPECT_EQ(engine_->registry().find("aftercare", 3)->sha256, original->sha256);
  auto stored = engine_->store().workflows();
  ASSERT_TRUE(stored);
  for (const auto& s : *stored) {
    if (s.name == "aftercare") {
      EXPECT_EQ(s.sha256, original->sha256);
    }
  }
}

TEST_F(Reload, RefusesBothFilesThatDefineTheSameVersion) {
  write_file(workflows_ / "aftercare_v4.yaml", aftercare_version(4));
  write_file(workflows_ / "aftercare_v4_copy.yaml",
             replaced(aftercare_version(4), "(version 4)", "(version 4, the copy)"));
  const auto reloaded = reload();
  ASSERT_EQ(reloaded.status, 200) << reloaded.body;
  EXPECT_EQ(reloaded.json().at("refused"), 2) << reloaded.body;
  for (const std::string file : {"aftercare_v4.yaml", "aftercare_v4_copy.yaml"}) {
    const auto refused = item(reloaded, file);
    EXPECT_EQ(refused.at("status"), "refused") << file;
    ASSERT_FALSE(refused.at("errors").as_array().empty()) << file;
    EXPECT_NE(std::string(refused.at("errors").at(0).as_string()).find("is also defined in"),
              std::string::npos)
        << reloaded.body;
  }
  EXPECT_EQ(listed_versions(call("GET", "/v1/workflows", caseworker_), "aftercare"), "[3]");
}

TEST_F(Reload, KeepsAnsweringRequestsDuringAReload) {
  const std::string id = open_case();
  std::atomic<bool> done{false};
  std::vector<std::string> failures;
  int answered = 0;
  std::thread traffic([&] {
    bool started = false;
    while (!done.load()) {
      const auto listed = call("GET", "/v1/workflows", caseworker_);
      const auto fired =
          call("POST", "/v1/cases/" + id + "/events", caseworker_,
               started ? R"({"event": "journey_ended"})" : R"({"event": "journey_started"})");
      started = !started;
      answered += 2;
      for (const auto* r : {&listed, &fired}) {
        if (r->status < 200 || r->status > 299) {
          failures.push_back(std::to_string(r->status) + " " + r->body);
        }
      }
    }
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  int version = 4;
  while (std::chrono::steady_clock::now() < until) {
    write_file(workflows_ / ("aftercare_v" + std::to_string(version) + ".yaml"),
               aftercare_version(version));
    const auto reloaded = reload();
    EXPECT_EQ(reloaded.status, 200) << reloaded.body;
    EXPECT_EQ(reloaded.json().at("added"), 1) << reloaded.body;
    ++version;
  }
  done = true;
  traffic.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, the first: " << failures.front();
  EXPECT_GT(answered, 10);
  EXPECT_GT(version, 5);
  EXPECT_EQ(engine_->registry().latest("aftercare")->version, version - 1);
}

TEST_F(Reload, IsForAdminsAndAnswersPostOnly) {
  const auto forbidden = call("POST", "/v1/admin/workflows/reload", caseworker_);
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  EXPECT_EQ(forbidden.header("content-type"), "application/problem+json");
  const auto get = call("GET", "/v1/admin/workflows/reload", admin_);
  EXPECT_EQ(get.status, 405) << get.body;
  EXPECT_EQ(get.header("allow"), "POST");
  EXPECT_EQ(call("POST", "/v1/admin/workflows/reload", admin_, "{}").status, 200);
  EXPECT_EQ(call("POST", "/v1/admin/workflows/reload", admin_, R"({"force": true})").status, 400);
}

// The real binary: SIGHUP reloads, the log says what happened, and the server keeps serving.
TEST(ReloadProcess, SighupReloadsTheWorkflowsDirectory) {
  test::TempDir dir;
  const fs::path workflows = dir / "workflows";
  fs::create_directories(workflows);
  for (const auto& entry : fs::directory_iterator(test::source_path("workflows"))) {
    fs::copy_file(entry.path(), workflows / entry.path().filename());
  }
  const std::string db = (dir / "carepath.db").string();
  const auto created = test::run_carepath(
      {"token", "create", "--user", "asha", "--roles", "caseworker", "--db", db}, dir);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = created.out.substr(0, created.out.find('\n'));
  test::ServerProcess server(
      {"--db", db, "--workflows", workflows.string(), "--plugins", test::plugin_build_dir()});
  const auto versions = [&] {
    return listed_versions(test::http_request(server.port(), "GET", "/v1/workflows", {},
                                              {{"Authorization", "Bearer " + token}}),
                           "aftercare");
  };
  ASSERT_EQ(versions(), "[3]");

  write_file(workflows / "aftercare_v4.yaml", aftercare_version(4));
  write_file(workflows / "broken.yaml", "carepath: 1\nworkflow: [broken\n");
  ASSERT_EQ(::kill(server.pid(), SIGHUP), 0);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (versions() != "[3,4]" && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(versions(), "[3,4]");
  // The log lines follow the reload; wait for the last one.
  while (server.log().find("workflow reload: refused") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string log = server.log();
  EXPECT_NE(log.find("reloading workflows signal=SIGHUP"), std::string::npos) << log;
  EXPECT_NE(log.find("workflow reload: added file=" + (workflows / "aftercare_v4.yaml").string()),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("workflow reload: refused file=" + (workflows / "broken.yaml").string()),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("workflow reload: unchanged"), std::string::npos) << log;
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace carepath
