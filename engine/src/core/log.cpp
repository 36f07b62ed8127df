#include "core/log.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

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

thread_local LogContext* current_context = nullptr;

bool has_attribute(std::initializer_list<LogAttribute> attributes, std::string_view key) {
  return std::any_of(attributes.begin(), attributes.end(),
                     [key](const LogAttribute& attribute) { return attribute.first == key; });
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

ScopedLogContext::ScopedLogContext(LogContext& context) : previous_(current_context) {
  current_context = &context;
}

ScopedLogContext::~ScopedLogContext() {
  current_context = previous_;
}

LogContext* log_context() {
  return current_context;
}

std::string render_log_line(LogFormat format, std::string_view time, LogLevel level,
                            std::string_view message,
                            std::initializer_list<LogAttribute> attributes) {
  std::vector<LogAttribute> context;
  if (const LogContext* c = current_context; c != nullptr) {
    if (!c->request_id.empty() && !has_attribute(attributes, "request_id")) {
      context.emplace_back("request_id", c->request_id);
    }
    if (!c->actor.empty() && !has_attribute(attributes, "actor")) {
      context.emplace_back("actor", c->actor);
    }
  }
  if (format == LogFormat::json) {
    boost::json::object line;
    line["time"] = time;
    line["level"] = log_level_name(level);
    line["msg"] = message;
    const auto put = [&line](const LogAttribute& attribute) {
      const bool reserved =
          attribute.first == "time" || attribute.first == "level" || attribute.first == "msg";
      line[reserved ? "attr_" + std::string(attribute.first) : std::string(attribute.first)] =
          attribute.second;
    };
    std::for_each(attributes.begin(), attributes.end(), put);
    std::for_each(context.begin(), context.end(), put);
    return boost::json::serialize(line) + '\n';
  }
  std::string line(time);
  line += ' ';
  line += log_level_name(level);
  line += ' ';
  line += message;
  const auto put = [&line](const LogAttribute& attribute) {
    line += ' ';
    line += attribute.first;
    line += '=';
    line += attribute.second;
  };
  std::for_each(attributes.begin(), attributes.end(), put);
  std::for_each(context.begin(), context.end(), put);
  line += '\n';
  return line;
}

}  // namespace carepath
