#include "core/log.hpp"

#include <atomic>

namespace carepath {
namespace {

LogSink& sink() {
  static LogSink s;
  return s;
}

std::atomic<LogLevel>& minimum_level() {
  static std::atomic<LogLevel> level{LogLevel::info};
  return level;
}

}  // namespace

void set_log_sink(LogSink s) {
  sink() = std::move(s);
}

void set_log_level(LogLevel minimum) {
  minimum_level() = minimum;
}

void log(LogLevel level, std::string_view message, std::initializer_list<LogAttribute> attributes) {
  if (level < minimum_level().load() || !sink()) {
    return;
  }
  sink()(level, message, attributes);
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
  }
  return "info";
}

}  // namespace carepath
