// The `carepath` binary as an admin uses it: validate, token, serve, and a clean SIGTERM.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
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
  EXPECT_NE(o.out.find("ok (workflow aftercare version 3)"), std::string::npos) << o.out;
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

// Teams and homes from the command line, and --own-cases-only on the real binary: a caseworker's
// list holds her own case only, a supervisor's her home's only.
TEST(Cli, TokensCarryTeamsAndHomesAndOwnCasesOnlyLimitsLists) {
  test::TempDir dir;
  const std::string db = (dir / "carepath.db").string();
  const auto make = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"token", "create"});
    args.insert(args.end(), {"--db", db});
    const auto o = run(args, dir);
    EXPECT_EQ(o.exit_code, 0) << o.err;
    return o.out.substr(0, o.out.find('\n'));
  };
  const std::string asha = make({"--user", "asha", "--roles", "caseworker"});
  const std::string meera = make({"--user", "meera", "--roles", "caseworker", "--teams", "night"});
  const std::string ravi = make({"--user", "ravi", "--roles", "supervisor", "--homes", "umang"});
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--user", "system", "--roles", "caseworker"},
           {"--user", "x", "--roles", "caseworker", "--homes", "Umang"}}) {
    std::vector<std::string> args{"token", "create"};
    args.insert(args.end(), bad.begin(), bad.end());
    args.insert(args.end(), {"--db", db});
    const auto refused = run(args, dir);
    EXPECT_EQ(refused.exit_code, 1) << refused.out;
    EXPECT_NE(refused.err.find("token create:"), std::string::npos) << refused.err;
  }
  const auto listed = run({"token", "list", "--db", db}, dir);
  EXPECT_NE(listed.out.find("team:night"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("home:umang"), std::string::npos) << listed.out;

  test::ServerProcess server({"--db", db, "--workflows", test::source_path("workflows").string(),
                              "--plugins", kPlugins, "--own-cases-only"});
  const auto call = [&](const std::string& token, std::string_view method,
                        const std::string& target, const std::string& body = {}) {
    return test::http_request(server.port(), method, target, body,
                              {{"Authorization", "Bearer " + token}});
  };
  const auto opened =
      call(asha, "POST", "/v1/cases", R"({"workflow": "aftercare", "data": {"home": "umang"}})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id(opened.json().at("id").as_string());
  const auto count = [&](const std::string& token) {
    const auto r = call(token, "GET", "/v1/cases");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.json().at("items").as_array().size() : 0U;
  };
  EXPECT_EQ(count(asha), 1U);
  EXPECT_EQ(count(meera), 0U);
  EXPECT_EQ(count(ravi), 1U);
  EXPECT_EQ(call(meera, "GET", "/v1/cases/" + id).status, 404);
  EXPECT_EQ(server.stop(), 0) << server.log();
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

// `carepath graph`: the shipped workflow drawn as Mermaid and DOT (the formats are checked in
// detail by tests/workflow/graph_test.cpp; here, the command around them).
TEST(Cli, GraphPrintsMermaidByDefaultAndDotOnRequest) {
  test::TempDir dir;
  const std::string file = test::source_path("workflows/aftercare.yaml").string();
  const auto mermaid = run({"graph", file, "--plugins", kPlugins}, dir);
  EXPECT_EQ(mermaid.exit_code, 0) << mermaid.err;
  EXPECT_NE(mermaid.out.find("stateDiagram-v2\n  [*] --> intake\n"), std::string::npos)
      << mermaid.out;
  EXPECT_NE(mermaid.out.find("  closed --> [*]\n"), std::string::npos) << mermaid.out;

  const auto dot = run({"graph", file, "--format", "dot", "--plugins", kPlugins}, dir);
  EXPECT_EQ(dot.exit_code, 0) << dot.err;
  EXPECT_EQ(dot.out.rfind("digraph \"aftercare\" {\n", 0), 0U) << dot.out;

  const auto out = dir / "aftercare.dot";
  const auto written =
      run({"graph", file, "--format=dot", "--output", out.string(), "--plugins", kPlugins}, dir);
  EXPECT_EQ(written.exit_code, 0) << written.err;
  EXPECT_EQ(written.out, "");
  std::ifstream in(out);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), dot.out);
}

// svg goes through Graphviz when it is installed, and says what to install when it is not (PATH
// without it stands in for a machine without Graphviz).
TEST(Cli, GraphSvgNeedsGraphviz) {
  test::TempDir dir;
  const std::string file = test::source_path("workflows/aftercare.yaml").string();
  const auto missing = test::run_carepath({"graph", file, "--format", "svg", "--plugins", kPlugins},
                                          dir, {{"PATH", (dir / "empty").string()}});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find("--format svg needs Graphviz's `dot` (Debian: apt-get install "
                             "graphviz); use --format dot or mermaid"),
            std::string::npos)
      << missing.err;

  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "Graphviz's dot is not installed (Debian: apt-get install graphviz)";
  }
  const auto svg = run({"graph", file, "--format", "svg", "--plugins", kPlugins}, dir);
  EXPECT_EQ(svg.exit_code, 0) << svg.err;
  EXPECT_NE(svg.out.find("<svg"), std::string::npos) << svg.out.substr(0, 500);
  EXPECT_NE(svg.out.find("produced_before_cwc"), std::string::npos);
}

TEST(Cli, GraphRefusesBrokenFilesAndUnknownFormats) {
  test::TempDir dir;
  const auto file = dir / "broken.yaml";
  std::ofstream(file) << "carepath: 1\nworkflow: broken\nversion: 1\nroles: [caseworker]\n"
                         "states:\n  intake:\n    initial: true\n    on:\n"
                         "      go: { to: nowhere, roles: [caseworker] }\n";
  const auto broken = run({"graph", file.string()}, dir);
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_EQ(broken.out, "");
  EXPECT_TRUE(
      std::regex_search(broken.err, std::regex(file.string() + ":9:[0-9]+: error: .*nowhere")))
      << broken.err;

  const std::string good = test::source_path("workflows/aftercare.yaml").string();
  const auto png = run({"graph", good, "--format", "png", "--plugins", kPlugins}, dir);
  EXPECT_EQ(png.exit_code, 1);
  EXPECT_NE(png.err.find("unknown --format 'png'; expected mermaid, dot or svg"), std::string::npos)
      << png.err;
  EXPECT_EQ(run({"graph"}, dir).exit_code, 1);
}

TEST(Cli, RejectsUnknownCommandsAndBadFlags) {
  test::TempDir dir;
  EXPECT_EQ(run({"frobnicate"}, dir).exit_code, 2);
  const auto bad = run({"serve", "--listen", "nonsense"}, dir);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("HOST:PORT"), std::string::npos) << bad.err;
  EXPECT_EQ(run({"token", "create", "--user", "x"}, dir).exit_code, 1);
}

TEST(Cli, IoThreadsIsASettingWithItsRange) {
  test::TempDir dir;
  const auto shown = run({"config", "show", "--io-threads", "3"}, dir);
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("io_threads: 3  # --io-threads\n"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("threads: 64  # "), std::string::npos) << shown.out;
  const auto from_env = run_carepath({"config", "show"}, dir, {{"CAREPATH_IO_THREADS", "4"}});
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_NE(from_env.out.find("io_threads: 4  # CAREPATH_IO_THREADS\n"), std::string::npos)
      << from_env.out;
  for (const std::string bad : {"0", "65", "many"}) {
    const auto refused = run({"serve", "--io-threads", bad}, dir);
    EXPECT_EQ(refused.exit_code, 1) << refused.out;
    EXPECT_NE(refused.err.find("--io-threads: io_threads: expected a whole number from 1 to 64"),
              std::string::npos)
        << refused.err;
  }
}

// Two versions of one small workflow for `diff`; `new_states` replaces OLD's states.
std::string diff_workflow(int version, const std::string& states) {
  return "carepath: 1\nworkflow: shelter\nversion: " + std::to_string(version) +
         "\nroles: [caseworker]\nfields:\n  note: { type: string }\nstates:\n" + states;
}

const std::string kDiffStates =
    "  intake:\n    initial: true\n    on:\n      go: { to: review, roles: [caseworker] }\n"
    "  review:\n    on:\n      done: { to: closed, roles: [caseworker] }\n"
    "  closed:\n    final: true\n";

TEST(Cli, DiffExitsZeroThreeOrFourAndPrintsText) {
  test::TempDir dir;
  const auto v1 = dir / "v1.yaml";
  const auto same = dir / "same.yaml";
  const auto added = dir / "added.yaml";
  const auto stranding = dir / "stranding.yaml";
  std::ofstream(v1) << diff_workflow(1, kDiffStates);
  std::ofstream(same) << diff_workflow(2, kDiffStates);
  std::ofstream(added) << diff_workflow(2, kDiffStates + "  archived:\n    final: true\n");
  std::ofstream(stranding) << diff_workflow(
      2,
      "  intake:\n    initial: true\n    on:\n      go: { to: closed, roles: [caseworker] }\n"
      "  closed:\n    final: true\n");

  const auto none = run({"diff", v1.string(), same.string()}, dir);
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "no changes\n");

  const auto changed = run({"diff", v1.string(), added.string()}, dir);
  EXPECT_EQ(changed.exit_code, 3) << changed.err;
  EXPECT_EQ(changed.out, "+ state archived\n");

  const auto strands = run({"diff", v1.string(), stranding.string()}, dir);
  EXPECT_EQ(strands.exit_code, 4) << strands.err;
  EXPECT_NE(strands.out.find("- state review\n"), std::string::npos) << strands.out;
  EXPECT_NE(strands.out.find("~ transition intake --go--> review: to review -> closed\n"),
            std::string::npos)
      << strands.out;
  EXPECT_NE(strands.out.find("Would strand running cases:\n  state review: removed"),
            std::string::npos)
      << strands.out;
}

TEST(Cli, DiffPrintsJsonOnRequest) {
  test::TempDir dir;
  const auto v1 = dir / "v1.yaml";
  const auto v2 = dir / "v2.yaml";
  std::ofstream(v1) << diff_workflow(1, kDiffStates);
  std::ofstream(v2) << diff_workflow(2, kDiffStates + "  archived:\n    final: true\n");
  const auto o = run({"diff", v1.string(), v2.string(), "--format", "json"}, dir);
  EXPECT_EQ(o.exit_code, 3) << o.err;
  boost::system::error_code ec;
  const auto json = boost::json::parse(o.out, ec);
  ASSERT_FALSE(ec) << o.out;
  EXPECT_EQ(json.at("workflow").as_string(), "shelter");
  EXPECT_EQ(json.at("new_version").as_int64(), 2);
  EXPECT_EQ(json.at("states").as_array().size(), 1u);
  EXPECT_EQ(json.at("strands").as_array().size(), 0u);
}

TEST(Cli, DiffRefusesBrokenFilesAndDifferentWorkflows) {
  test::TempDir dir;
  const auto v1 = dir / "v1.yaml";
  const auto broken = dir / "broken.yaml";
  const auto other = dir / "other.yaml";
  std::ofstream(v1) << diff_workflow(1, kDiffStates);
  std::ofstream(broken) << "carepath: 1\nworkflow: shelter\nversion: 2\nroles: [caseworker]\n"
                           "states:\n  intake:\n    initial: true\n    on:\n"
                           "      go: { to: nowhere, roles: [caseworker] }\n";
  std::ofstream(other) << "carepath: 1\nworkflow: other\nversion: 1\nroles: [caseworker]\n"
                          "states:\n  intake:\n    initial: true\n    final: true\n";
  const auto bad = run({"diff", v1.string(), broken.string()}, dir);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_TRUE(
      std::regex_search(bad.err, std::regex(broken.string() + ":9:[0-9]+: error: .*nowhere")))
      << bad.err;

  const auto mismatch = run({"diff", v1.string(), other.string()}, dir);
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_NE(mismatch.err.find("only versions of one workflow can be compared"), std::string::npos)
      << mismatch.err;
  EXPECT_EQ(run({"diff", v1.string()}, dir).exit_code, 1);
  EXPECT_EQ(run({"diff", v1.string(), v1.string(), "--format", "xml"}, dir).exit_code, 1);
}

}  // namespace
}  // namespace carepath
