// The one logging call: carepath::log(level, message, {{"key", "value"}...}).
//
// Messages and attributes carry ids, names of fields and events, never field values. `core` does
// no I/O itself: the app installs a sink (stderr); until then lines are dropped.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace carepath {

enum class LogLevel { debug = 1, info, warning, error };

using LogAttribute = std::pair<std::string_view, std::string_view>;
using LogSink = std::function<void(LogLevel, std::string_view message,
                                   std::initializer_list<LogAttribute> attributes)>;

// Thread-safety: call set_log_sink() once at start-up, before other threads log.
void set_log_sink(LogSink sink);
void set_log_level(LogLevel minimum);

void log(LogLevel level, std::string_view message,
         std::initializer_list<LogAttribute> attributes = {});

std::string_view log_level_name(LogLevel level);

}  // namespace carepath
