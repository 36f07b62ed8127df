// `carepath config show`: the effective configuration, read back the same, with its sources and
// without its secrets.
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "app/config.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::app {
namespace {

std::string without_comments(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("#")) {
      continue;
    }
    if (const auto hash = line.find("  # "); hash != std::string::npos) {
      line.resize(hash);
    }
    out += line + "\n";
  }
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(ConfigShow, ReadsBackToTheSameSettings) {
  test::TempDir dir;
  const auto file = dir.path() / "carepath.yaml";
  write_file(file.string(),
             "listen: \"[::1]:9090\"\n"
             "db: \"/srv/care path/db \\\"x\\\".sqlite\"\n"
             "plugins: [/opt/a, /opt/b]\n"
             "plugin_allowlist:\n"
             "  legal_aid.so: " +
                 std::string(64, 'a') +
                 "\n"
                 "header_timeout: 250ms\n"
                 "request_timeout: 45s\n"
                 "log_format: json\n"
                 "log_level: warning\n"
                 "own_cases_only: true\n"
                 "trusted_proxies: [127.0.0.1, \"::1\"]\n"
                 "step_timeout: off\n"
                 "backup_dir: /srv/backups\n"
                 "backup_keep: 3\n"
                 "backup_at: \"04:05\"\n"
                 "plugin_settings:\n"
                 "  legal_aid.so: { isolation: process, timeout: 1500ms }\n"
                 "  medical.so: { isolation: in_process }\n"
                 "timezone: +05:30\n"
                 "test_clock: now\n");
  Config first;
  ASSERT_TRUE(apply_config_file(first, file.string()));
  ASSERT_TRUE(apply_flags(first, {{"threads", "3"}, {"json_max_depth", "7"}}));
  const std::string shown = render_config(first);

  const auto again = dir.path() / "shown.yaml";
  write_file(again.string(), shown);
  Config second;
  const auto read = apply_config_file(second, again.string());
  ASSERT_TRUE(read) << read.error().message << "\n" << shown;
  EXPECT_EQ(second.host, "::1");
  EXPECT_EQ(second.port, 9090);
  EXPECT_EQ(second.db, first.db);
  EXPECT_EQ(second.plugins, first.plugins);
  EXPECT_EQ(second.plugin_allowlist, first.plugin_allowlist);
  EXPECT_EQ(second.header_timeout_ms, 250);
  EXPECT_EQ(second.request_timeout_ms, 45'000);
  EXPECT_EQ(second.threads, 3);
  EXPECT_EQ(second.json_max_depth, 7U);
  EXPECT_EQ(second.log_format, LogOutput::json);
  EXPECT_EQ(second.log_level, LogLevel::warning);
  EXPECT_TRUE(second.own_cases_only);
  EXPECT_EQ(second.test_clock, "now");
  EXPECT_EQ(second.step_timeout_ms, 0);
  EXPECT_EQ(second.backup_dir, "/srv/backups");
  EXPECT_EQ(second.backup_keep, 3);
  EXPECT_EQ(second.backup_at_minute, 4 * 60 + 5);
  ASSERT_EQ(second.plugin_settings.size(), 2U);
  EXPECT_TRUE(second.plugin_settings.at("legal_aid.so").isolated);
  EXPECT_EQ(second.plugin_settings.at("legal_aid.so").timeout_ms, 1500);
  EXPECT_FALSE(second.plugin_settings.at("medical.so").isolated);
  EXPECT_EQ(second.plugin_settings.at("medical.so").timeout_ms, 0);
  EXPECT_EQ(second.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(without_comments(render_config(second)), without_comments(shown));
}

TEST(ConfigShow, SaysWhereEachValueCameFrom) {
  test::TempDir dir;
  const auto file = dir.path() / "carepath.yaml";
  write_file(file.string(), "# a comment\nthreads: 4\ndb: from-file.db\n");
  Config config;
  ASSERT_TRUE(apply_config_file(config, file.string()));
  ::setenv("CAREPATH_STEP_WORKERS", "5", 1);
  const auto env = apply_environment(config);
  ::unsetenv("CAREPATH_STEP_WORKERS");
  ASSERT_TRUE(env);
  ASSERT_TRUE(apply_flags(config, {{"db", "from-flag.db"}, {"own_cases_only", "true"}}));
  const std::string shown = render_config(config);
  EXPECT_NE(shown.find("threads: 4  # " + file.string() + ":2\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("step_workers: 5  # CAREPATH_STEP_WORKERS\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("db: \"from-flag.db\"  # --db\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("own_cases_only: true  # --own-cases-only\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("body_limit: 1048576  # default\n"), std::string::npos) << shown;
}

TEST(ConfigShow, MasksTheWebhookSecret) {
  Config config;
  EXPECT_NE(render_config(config).find("webhook_secret: \"\"  # default"), std::string::npos);
  const std::string secret = "not-a-real-secret-but-long-enough";
  ASSERT_TRUE(apply_flags(config, {{"webhook_secret", secret}}));
  const std::string shown = render_config(config);
  EXPECT_EQ(shown.find(secret), std::string::npos);
  EXPECT_EQ(shown.find("not-a-real"), std::string::npos);
  EXPECT_NE(shown.find("webhook_secret: \"********\"  # --webhook-secret"), std::string::npos)
      << shown;
}

TEST(ConfigShow, TrustedProxiesAreAddresses) {
  Config config;
  ASSERT_TRUE(apply_flags(config, {{"trusted_proxies", "127.0.0.1, 0:0:0:0:0:0:0:1"}}));
  EXPECT_EQ(config.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "::1"}));
  const auto bad = apply_flags(config, {{"trusted_proxies", "127.0.0.1,nginx.local"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--trusted-proxies: trusted_proxies: expected IP addresses"),
            std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("'nginx.local'"), std::string::npos);
}

// Every setting the shipped config file documents (set or commented out) is shown, so a new
// setting cannot be forgotten here.
TEST(ConfigShow, ShowsEverySettingOfTheShippedConfigFile) {
  std::ifstream in(std::string(CP_SOURCE_DIR) + "/config/carepath.yaml");
  ASSERT_TRUE(in);
  const std::regex setting(R"(^(# )?([a-z_]+):( |$))");
  std::set<std::string> documented;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, setting)) {
      documented.insert(m[2]);
    }
  }
  EXPECT_GE(documented.size(), 20U);
  Config config;
  config.test_clock = "now";  // shown only when set
  const std::string shown = render_config(config);
  for (const auto& key : documented) {
    EXPECT_NE(shown.find("\n" + key + ":"), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace carepath::app
