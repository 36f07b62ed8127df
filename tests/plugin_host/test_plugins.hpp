// Paths of the test plugins (built by tests/CMakeLists.txt) and a log capture for the plugin host
// tests.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/log.hpp"

namespace carepath::test {

inline const std::filesystem::path kGood = CP_TEST_PLUGIN_GOOD;
inline const std::filesystem::path kMisbehaving = CP_TEST_PLUGIN_MISBEHAVING;
inline const std::filesystem::path kFrozen = CP_TEST_PLUGIN_FROZEN;
inline const std::filesystem::path kCrashing = CP_TEST_PLUGIN_CRASHING;
inline const std::filesystem::path kPluginHostProgram = CP_PLUGIN_HOST_PROGRAM;

struct LogLine {
  LogLevel level;
  std::string message;
  std::map<std::string, std::string> attributes;
};

// Collects every log line while it lives; the engine's sink is empty again afterwards.
class LogCapture {
 public:
  LogCapture() {
    set_log_level(LogLevel::debug);
    set_log_sink([this](LogLevel level, std::string_view message,
                        std::initializer_list<LogAttribute> attributes) {
      LogLine line{level, std::string(message), {}};
      for (const auto& [key, value] : attributes) {
        line.attributes.emplace(key, value);
      }
      const std::lock_guard lock(mutex_);
      lines_.push_back(std::move(line));
    });
  }
  ~LogCapture() {
    set_log_sink({});
    set_log_level(LogLevel::info);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  LogCapture(LogCapture&&) = delete;
  LogCapture& operator=(LogCapture&&) = delete;

  std::vector<LogLine> lines() const {
    const std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<LogLine> lines_;
};

}  // namespace carepath::test
