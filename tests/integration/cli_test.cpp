// The `carepath` binary as an admin uses it: validate, token, serve, and a clean SIGTERM.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

using test::Output;
using test::run_carepath;

const std::string kPlugins = test::plugin_build_dir();

Output run(const std::vector<std::string>& args, const test::TempDir& dir) {
  return run_carepath(args, dir);
}

TEST(Cli, ValidateAcceptsTheShippedWorkflows) {
  test::TempDir dir;
  const auto o =
      run({"validate", test::source_path("workflows/aftercare.yaml").string(),
           test::source_path("workflows/education_support.yaml").string(), "--plugins", kPlugins},
          dir);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("ok (workflow aftercare version 2)"), std::string::npos) << o.out;
}

TEST(Cli, ValidateReportsFileLineAndColumn) {
  test::TempDir dir;
  const auto file = dir / "broken.yaml";
  std::ofstream(file) << "carepath: 1\nworkflow: broken\nversion: 1\nroles: [caseworker]\n"
                         "states:\n  intake:\n    initial: true\n    on:\n"
                         "      go: { to: nowhere, roles: [caseworker] }\n";
  const auto o = run({"validate", file.string()}, dir);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_TRUE(std::regex_search(o.err, std::regex(file.string() + ":9:[0-9]+: error: .*nowhere")))
      << o.err;
}

TEST(Cli, ServesTokensFromTheCliAndStopsCleanlyOnSigterm) {
  test::TempDir dir;
  const std::string db = (dir / "var" / "carepath.db").string();
  const auto created =
      run({"token", "create", "--user", "asha", "--roles", "caseworker", "--db", db}, dir);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(token.rfind("cp_", 0), 0U) << created.out;

  // Serve on a free port; the port is read back from the "listening on" line.
  test::ServerProcess server(
      {"--db", db, "--workflows", test::source_path("workflows").string(), "--plugins", kPlugins});
  const auto port = server.port();

  EXPECT_EQ(test::http_request(port, "GET", "/healthz").status, 200);
  auto workflows =
      test::http_request(port, "GET", "/v1/workflows", {}, {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(workflows.status, 200) << workflows.body;
  EXPECT_NE(workflows.body.find("aftercare"), std::string::npos);

  // Revoked from the CLI while the server runs: the next request is refused.
  const auto id = token.substr(3, token.find('_', 3) - 3);
  EXPECT_EQ(run({"token", "revoke", id, "--db", db}, dir).exit_code, 0);
  EXPECT_EQ(
      test::http_request(port, "GET", "/v1/workflows", {}, {{"Authorization", "Bearer " + token}})
          .status,
      401);
  const auto listed = run({"token", "list", "--db", db}, dir);
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_NE(listed.out.find(id), std::string::npos);
  EXPECT_EQ(listed.out.find(token), std::string::npos);  // the secret is never shown again

  EXPECT_EQ(server.stop(), 0) << server.log();
  EXPECT_NE(server.log().find("stopped"), std::string::npos) << server.log();
}

TEST(Cli, ServeRefusesABrokenWorkflowBeforeTouchingAnyCase) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "workflows");
  std::ofstream(dir / "workflows" / "bad.yaml") << "carepath: 1\nworkflow: bad\nversion: one\n";
  const auto o = run({"serve", "--listen", "127.0.0.1:0", "--db", (dir / "c.db").string(),
                      "--workflows", (dir / "workflows").string()},
                     dir);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("bad.yaml:3:"), std::string::npos) << o.err;
}

TEST(Cli, RejectsUnknownCommandsAndBadFlags) {
  test::TempDir dir;
  EXPECT_EQ(run({"frobnicate"}, dir).exit_code, 2);
  const auto bad = run({"serve", "--listen", "nonsense"}, dir);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("HOST:PORT"), std::string::npos) << bad.err;
  EXPECT_EQ(run({"token", "create", "--user", "x"}, dir).exit_code, 1);
}

}  // namespace
}  // namespace carepath
