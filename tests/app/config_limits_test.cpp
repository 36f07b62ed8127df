// The HTTP limit settings: parsed, range-checked, and named in their errors.
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "app/config.hpp"

namespace carepath::app {
namespace {

TEST(ConfigLimits, FlagsSetEveryLimit) {
  Config config;
  const std::map<std::string, std::string> flags{
      {"header_limit", "4096"},   {"request_timeout", "2s"},        {"header_timeout", "300ms"},
      {"max_connections", "8"},   {"json_max_depth", "5"},          {"json_max_members", "7"},
      {"json_max_string", "100"}, {"auth_failures_per_minute", "3"}};
  ASSERT_TRUE(apply_flags(config, flags));
  EXPECT_EQ(config.header_limit, 4096U);
  EXPECT_EQ(config.request_timeout_ms, 2000);
  EXPECT_EQ(config.header_timeout_ms, 300);
  EXPECT_EQ(config.max_connections, 8);
  EXPECT_EQ(config.json_max_depth, 5U);
  EXPECT_EQ(config.json_max_members, 7U);
  EXPECT_EQ(config.json_max_string, 100U);
  EXPECT_EQ(config.auth_failures_per_minute, 3);

  ASSERT_TRUE(apply_flags(config, {{"request_timeout", "45"}}));
  EXPECT_EQ(config.request_timeout_ms, 45'000);
}

TEST(ConfigLimits, TheShippedConfigFileLoadsAndStatesTheDefaults) {
  Config config;
  config.max_connections = 1;  // overwritten by the file
  const auto loaded =
      apply_config_file(config, std::string(CP_SOURCE_DIR) + "/config/carepath.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Config defaults;
  EXPECT_EQ(config.header_limit, defaults.header_limit);
  EXPECT_EQ(config.header_timeout_ms, defaults.header_timeout_ms);
  EXPECT_EQ(config.request_timeout_ms, defaults.request_timeout_ms);
  EXPECT_EQ(config.max_connections, defaults.max_connections);
  EXPECT_EQ(config.json_max_depth, defaults.json_max_depth);
  EXPECT_EQ(config.json_max_members, defaults.json_max_members);
  EXPECT_EQ(config.json_max_string, defaults.json_max_string);
  EXPECT_EQ(config.auth_failures_per_minute, defaults.auth_failures_per_minute);
}

TEST(ConfigLimits, OutOfRangeValuesAreErrorsNamingTheSetting) {
  for (const auto& [key, value] :
       std::map<std::string, std::string>{{"header_limit", "100"},
                                          {"request_timeout", "5ms"},
                                          {"header_timeout", "2h"},
                                          {"max_connections", "0"},
                                          {"json_max_depth", "1"},
                                          {"json_max_members", "0"},
                                          {"json_max_string", "x"},
                                          {"auth_failures_per_minute", "-1"}}) {
    Config config;
    const auto r = apply_flags(config, {{key, value}});
    ASSERT_FALSE(r) << key;
    EXPECT_NE(r.error().message.find(key), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace carepath::app
