// The plugin call settings: step_timeout, plugin_settings and plugin_host, from the file, the
// environment and flags, with an error naming the place for each bad value.
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "app/config.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath::app {
namespace {

Result<void> load(Config& config, const test::TempDir& dir, const std::string& yaml) {
  const std::string path = (dir / "carepath.yaml").string();
  std::ofstream(path) << yaml;
  return apply_config_file(config, path);
}

TEST(ConfigPlugins, TheFileSetsTimeLimitsIsolationAndTheHostProgram) {
  const test::TempDir dir;
  Config config;
  const auto loaded = load(config, dir,
                           "step_timeout: 5s\n"
                           "plugin_host: /opt/carepath/bin/carepath-plugin-host\n"
                           "plugin_allowlist:\n"
                           "  legal_aid.so: " +
                               std::string(64, 'a') +
                               "\n"
                               "plugin_settings:\n"
                               "  legal_aid.so: { isolation: process, timeout: 10s }\n"
                               "  medical.so:\n"
                               "    timeout: 250ms\n"
                               "  vocational.so: { isolation: in_process }\n");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(config.step_timeout_ms, 5000);
  EXPECT_EQ(config.plugin_host, "/opt/carepath/bin/carepath-plugin-host");
  EXPECT_EQ(config.plugin_allowlist.size(), 1U);
  ASSERT_EQ(config.plugin_settings.size(), 3U);
  EXPECT_TRUE(config.plugin_settings.at("legal_aid.so").isolated);
  EXPECT_EQ(config.plugin_settings.at("legal_aid.so").timeout_ms, 10'000);
  EXPECT_FALSE(config.plugin_settings.at("medical.so").isolated);
  EXPECT_EQ(config.plugin_settings.at("medical.so").timeout_ms, 250);
  EXPECT_FALSE(config.plugin_settings.at("vocational.so").isolated);
  EXPECT_EQ(config.plugin_settings.at("vocational.so").timeout_ms, 0);
}

TEST(ConfigPlugins, TheShippedFileStatesTheDefaultTimeLimit) {
  Config config;
  config.step_timeout_ms = 1;
  const auto loaded =
      apply_config_file(config, std::string(CP_SOURCE_DIR) + "/config/carepath.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(config.step_timeout_ms, Config{}.step_timeout_ms);
  EXPECT_TRUE(config.plugin_settings.empty());
}

TEST(ConfigPlugins, TheEnvironmentAndFlagsSetTheTimeLimit) {
  Config config;
  ::setenv("CAREPATH_STEP_TIMEOUT", "off", 1);
  ::setenv("CAREPATH_PLUGIN_HOST", "/tmp/host", 1);
  const auto applied = apply_environment(config);
  ::unsetenv("CAREPATH_STEP_TIMEOUT");
  ::unsetenv("CAREPATH_PLUGIN_HOST");
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(config.step_timeout_ms, 0);
  EXPECT_EQ(config.plugin_host, "/tmp/host");
  ASSERT_TRUE(apply_flags(config, {{"step_timeout", "45"}}));
  EXPECT_EQ(config.step_timeout_ms, 45'000);

  ::setenv("CAREPATH_STEP_TIMEOUT", "forever", 1);
  const auto refused = apply_environment(config);
  ::unsetenv("CAREPATH_STEP_TIMEOUT");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "CAREPATH_STEP_TIMEOUT: step_timeout: expected a duration from 10ms to 3600s such as "
            "'30s' or '300ms', got 'forever'");
}

TEST(ConfigPlugins, BadPluginSettingsAreErrorsWithTheirPlace) {
  const test::TempDir dir;
  const std::map<std::string, std::string> cases{
      {"plugin_settings: [legal_aid.so]\n",
       ":1:18: error: plugin_settings expects a map of plugin file name: settings"},
      {"plugin_settings:\n  legal_aid.so: process\n",
       ":2:17: error: plugin_settings: legal_aid.so: expected a map such as { isolation: "
       "process, timeout: 10s }"},
      {"plugin_settings:\n  legal_aid.so: { isolation: separate }\n",
       ":2:19: error: plugin_settings: legal_aid.so: isolation: expected in_process or process, "
       "got 'separate'"},
      {"plugin_settings:\n  legal_aid.so: { timeout: 2h }\n",
       ":2:19: error: plugin_settings: legal_aid.so: timeout: expected a duration from 10ms to "
       "3600s such as '30s' or '300ms', got '2h'"},
      {"plugin_settings:\n  legal_aid.so: { isolaton: process }\n",
       ":2:19: error: plugin_settings: legal_aid.so: unknown setting 'isolaton'; expected "
       "isolation or timeout"},
      {"plugin_settings:\n  legal_aid.so: { timeout: [1, 2] }\n",
       ":2:19: error: plugin_settings: legal_aid.so: timeout expects a single value"},
      {"plugin_settings:\n  plugins/legal_aid.so: { isolation: process }\n",
       ":2:3: error: plugin_settings: expected a plugin file name such as legal_aid.so, got "
       "'plugins/legal_aid.so'"},
      {"step_timeout: 5ms\n",
       ":1:1: error: step_timeout: expected a duration from 10ms to 3600s such as '30s' or "
       "'300ms', got '5ms'"},
  };
  for (const auto& [yaml, error] : cases) {
    Config config;
    const auto r = load(config, dir, yaml);
    ASSERT_FALSE(r) << yaml;
    EXPECT_EQ(r.error().message, (dir / "carepath.yaml").string() + error) << yaml;
  }
}

}  // namespace
}  // namespace carepath::app
