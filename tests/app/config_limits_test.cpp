// The HTTP limit and thread settings: parsed, range-checked, and named in their errors.
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "app/config.hpp"
#include "tests/support/temp_dir.hpp"

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
  EXPECT_EQ(config.threads, defaults.threads);
  EXPECT_EQ(config.io_threads, defaults.io_threads);
  EXPECT_NE(config.sources.at("io_threads").find("config/carepath.yaml:"), std::string::npos)
      << "config/carepath.yaml states io_threads";
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

TEST(ConfigThreads, IoThreadsAndThreadsTakeTheirWholeRanges) {
  const Config defaults;
  EXPECT_EQ(defaults.io_threads, 2);
  EXPECT_EQ(defaults.threads, 64);
  Config config;
  ASSERT_TRUE(apply_flags(config, {{"io_threads", "1"}, {"threads", "1"}}));
  EXPECT_EQ(config.io_threads, 1);
  EXPECT_EQ(config.threads, 1);
  ASSERT_TRUE(apply_flags(config, {{"io_threads", "64"}, {"threads", "512"}}));
  EXPECT_EQ(config.io_threads, 64);
  EXPECT_EQ(config.threads, 512);
  EXPECT_EQ(config.sources.at("io_threads"), "--io-threads");
}

TEST(ConfigThreads, BadThreadCountsAreErrorsNamingTheSettingAndTheFlag) {
  for (const auto& [key, value] : std::multimap<std::string, std::string>{{"io_threads", "0"},
                                                                          {"io_threads", "65"},
                                                                          {"io_threads", "-1"},
                                                                          {"io_threads", "2.5"},
                                                                          {"io_threads", "two"},
                                                                          {"io_threads", ""},
                                                                          {"threads", "0"},
                                                                          {"threads", "513"}}) {
    Config config;
    const auto r = apply_flags(config, {{key, value}});
    ASSERT_FALSE(r) << key << "=" << value;
    const std::string flag = key == "io_threads" ? "--io-threads: io_threads: " : "--threads: ";
    EXPECT_EQ(r.error().message.find(flag), 0U) << r.error().message;
    EXPECT_NE(r.error().message.find(key == "io_threads" ? "from 1 to 64" : "from 1 to 512"),
              std::string::npos)
        << r.error().message;
  }
}

TEST(ConfigThreads, IoThreadsComesFromTheFileAndTheEnvironment) {
  const test::TempDir dir;
  const auto file = dir.path() / "carepath.yaml";
  std::ofstream(file) << "io_threads: 3\nthreads: 7\n";
  Config config;
  ASSERT_TRUE(apply_config_file(config, file.string()));
  EXPECT_EQ(config.io_threads, 3);
  EXPECT_EQ(config.threads, 7);
  EXPECT_NE(render_config(config).find("io_threads: 3  # " + file.string() + ":1\n"),
            std::string::npos)
      << render_config(config);

  // No other thread runs in this test program while the environment changes.
  ::setenv("CAREPATH_IO_THREADS", "5", 1);  // NOLINT(concurrency-mt-unsafe)
  const auto env = apply_environment(config);
  ::setenv("CAREPATH_IO_THREADS", "100", 1);  // NOLINT(concurrency-mt-unsafe)
  Config bad_env;
  const auto refused = apply_environment(bad_env);
  ::unsetenv("CAREPATH_IO_THREADS");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_EQ(config.io_threads, 5);
  EXPECT_NE(render_config(config).find("io_threads: 5  # CAREPATH_IO_THREADS\n"), std::string::npos)
      << render_config(config);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message.find("CAREPATH_IO_THREADS: io_threads: "), 0U)
      << refused.error().message;

  const auto bad_file = dir.path() / "bad.yaml";
  std::ofstream(bad_file) << "io_threads: 0\n";
  Config from_bad_file;
  const auto read = apply_config_file(from_bad_file, bad_file.string());
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("io_threads"), std::string::npos) << read.error().message;
}

}  // namespace
}  // namespace carepath::app
