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

// What every line logged while a request is answered carries besides its own attributes: the
// request id and, once the caller is known, its user name.
struct LogContext {
  std::string request_id;
  std::string actor;
};

// Makes `context` this thread's log context until destroyed (then restores the previous one).
// Ownership: borrows `context`, which must outlive this object.
class ScopedLogContext {
 public:
  explicit ScopedLogContext(LogContext& context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;
  ScopedLogContext(ScopedLogContext&&) = delete;
  ScopedLogContext& operator=(ScopedLogContext&&) = delete;

 private:
  LogContext* previous_;
};

// This thread's log context, or nullptr outside a request.
LogContext* log_context();

enum class LogFormat { text = 1, json };

// One log line with its newline: `time level message key=value...` as text, or one JSON object
// {"time","level","msg", attributes...} (attributes that would shadow those three are prefixed
// with "attr_"). This thread's log context adds "request_id" and "actor" unless the line has them.
std::string render_log_line(LogFormat format, std::string_view time, LogLevel level,
                            std::string_view message,
                            std::initializer_list<LogAttribute> attributes);

}  // namespace carepath
