// The `carepath` binary as an admin uses it: validate, token, serve, and a clean SIGTERM.
#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

const std::string kBinary = std::string(CP_BINARY_DIR) + "/engine/src/app/carepath";
const std::string kPlugins = std::string(CP_BINARY_DIR) + "/plugins";

struct Output {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_all(int fd) {
  std::string text;
  std::array<char, 4096> buffer{};
  ssize_t n = 0;
  while ((n = ::read(fd, buffer.data(), buffer.size())) > 0) {
    text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return text;
}

// Runs the binary to completion with `args`, capturing stdout and stderr (through files, so a
// chatty child can never block on a full pipe).
Output run(const std::vector<std::string>& args, const test::TempDir& dir) {
  const auto out_path = dir / "stdout.txt";
  const auto err_path = dir / "stderr.txt";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> argv{const_cast<char*>(kBinary.c_str())};
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    ::execv(kBinary.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Output o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream out(out_path);
  o.out.assign(std::istreambuf_iterator<char>(out), {});
  std::ifstream err(err_path);
  o.err.assign(std::istreambuf_iterator<char>(err), {});
  return o;
}

TEST(Cli, ValidateAcceptsTheShippedWorkflows) {
  test::TempDir dir;
  const auto o =
      run({"validate", test::source_path("workflows/aftercare.yaml").string(),
           test::source_path("workflows/education_support.yaml").string(), "--plugins", kPlugins},
          dir);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("ok (workflow aftercare version 1)"), std::string::npos) << o.out;
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
  int err_pipe[2];
  ASSERT_EQ(::pipe(err_pipe), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(err_pipe[1], 2);
    ::close(err_pipe[0]);
    const std::string workflows = test::source_path("workflows").string();
    ::execl(kBinary.c_str(), kBinary.c_str(), "serve", "--listen", "127.0.0.1:0", "--db",
            db.c_str(), "--workflows", workflows.c_str(), "--plugins", kPlugins.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  std::string log;
  std::smatch match;
  const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::regex_search(log, match, listening) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{err_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      std::array<char, 1024> buffer{};
      const ssize_t n = ::read(err_pipe[0], buffer.data(), buffer.size());
      if (n <= 0) {
        break;
      }
      log.append(buffer.data(), static_cast<std::size_t>(n));
    }
  }
  ASSERT_TRUE(std::regex_search(log, match, listening)) << log;
  const auto port = static_cast<std::uint16_t>(std::stoi(match[1].str()));

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

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  log += read_all(err_pipe[0]);
  ::close(err_pipe[0]);
  EXPECT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
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
