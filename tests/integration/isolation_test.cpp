// `isolation: process` on the real binary: the shipped medical and legal_aid plugins run in
// carepath-plugin-host processes (found beside `carepath`), a transition's synchronous step and
// an outbox step run there, and a host killed from outside is replaced without the engine
// noticing more than a log line.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;

// The children of `pid` (from any of its threads) whose command line contains `part`.
std::vector<pid_t> children_running(pid_t pid, const std::string& part) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child = 0;
    while (in >> child) {
      std::ifstream cmdline("/proc/" + std::to_string(child) + "/cmdline");
      const std::string text((std::istreambuf_iterator<char>(cmdline)), {});
      if (text.find(part) != std::string::npos) {
        out.push_back(child);
      }
    }
  }
  return out;
}

TEST(Isolation, TheRealServerRunsShippedPluginsInHostProcesses) {
  test::TempDir dir;
  const std::string db = (dir / "carepath.db").string();
  const auto created = test::run_carepath({"token", "create", "--user", "asha", "--roles",
                                           "caseworker,medical_officer,legal_officer", "--db", db},
                                          dir);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = created.out.substr(0, created.out.find('\n'));
  const std::string config = (dir / "carepath.yaml").string();
  std::ofstream(config) << "plugin_settings:\n"
                           "  medical.so: { isolation: process, timeout: 10s }\n"
                           "  legal_aid.so: { isolation: process }\n";
  test::ServerProcess server({"--db", db, "--workflows", test::source_path("workflows").string(),
                              "--plugins", test::plugin_build_dir(), "--config", config});
  const auto call = [&](std::string_view method, const std::string& target,
                        const std::string& body = {}) {
    return test::http_request(server.port(), method, target, body,
                              {{"Authorization", "Bearer " + token}});
  };

  // One host per isolated plugin; vocational.so runs in the engine.
  const auto medical_hosts = children_running(server.pid(), "medical.so");
  ASSERT_EQ(medical_hosts.size(), 1U) << server.log();
  EXPECT_EQ(children_running(server.pid(), "legal_aid.so").size(), 1U);
  EXPECT_EQ(children_running(server.pid(), "carepath-plugin-host").size(), 2U);
  auto plugins = call("GET", "/v1/plugins");
  ASSERT_EQ(plugins.status, 200) << plugins.body;
  EXPECT_NE(plugins.body.find("\"medical.check\""), std::string::npos) << plugins.body;
  EXPECT_NE(plugins.body.find("\"legal_aid.refer\""), std::string::npos) << plugins.body;

  const auto produce = [&]() {
    auto opened =
        call("POST", "/v1/cases", R"({"workflow": "aftercare", "data": {"home": "umang"}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    const std::string id(opened.json().at("id").as_string());
    auto produced = call("POST", "/v1/cases/" + id + "/events",
                         R"({"event": "produced_before_cwc", )"
                         R"("data": {"age": 14, "cwc_order_no": "CWC/TEST/2026/0001"}})");
    return std::make_pair(id, produced);
  };

  // Entering assessment runs medical.check synchronously, in its host ...
  auto [id, produced] = produce();
  ASSERT_EQ(produced.status, 200) << produced.body << server.log();
  EXPECT_EQ(boost::json::serialize(produced.json().at("data").at("medical_checks_due")),
            R"(["general","nutrition","sti","mental_health"])");
  // ... and schedules legal_aid.refer, which a worker runs in the other host: a pending task.
  bool referred = false;
  for (int i = 0; i < 500 && !referred; ++i) {
    auto tasks = call("GET", "/v1/cases/" + id + "/tasks");
    ASSERT_EQ(tasks.status, 200) << tasks.body;
    const auto listed = tasks.json();
    const auto& items = listed.at("items").as_array();
    referred = !items.empty() && items[0].at("step") == "legal_aid.refer";
    if (!referred) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(referred) << "legal_aid.refer did not run\n" << server.log();

  // The medical host dies between calls (as if an operator or the OOM killer took it): the next
  // transition gets a new host and the same answer.
  ASSERT_EQ(::kill(medical_hosts[0], SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto [second, again] = produce();
  ASSERT_EQ(again.status, 200) << again.body << server.log();
  EXPECT_EQ(boost::json::serialize(again.json().at("data").at("medical_checks_due")),
            R"(["general","nutrition","sti","mental_health"])");
  const auto replaced = children_running(server.pid(), "medical.so");
  ASSERT_EQ(replaced.size(), 1U);
  EXPECT_NE(replaced[0], medical_hosts[0]);

  EXPECT_EQ(server.stop(), 0) << server.log();
  const std::string log = server.log();
  EXPECT_NE(log.find("plugin host process ended between calls"), std::string::npos) << log;
  EXPECT_NE(log.find("isolation=process"), std::string::npos) << log;
  EXPECT_EQ(log.find("CWC/TEST/2026/0001"), std::string::npos) << "no case data in the log";
}

}  // namespace
}  // namespace carepath
