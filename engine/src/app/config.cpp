#include "app/config.hpp"

#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/time.hpp"

namespace carepath::app {
namespace {

template <class T>
Result<T> parse_number(std::string_view text, std::string_view what, T min, T max) {
  T value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) {
    return Error{Errc::invalid_argument, std::string(what) + ": expected a whole number from " +
                                             std::to_string(min) + " to " + std::to_string(max) +
                                             ", got '" + std::string(text) + "'"};
  }
  return value;
}

// A timeout: "30s", "300ms", or a whole number of seconds; from 10 ms to 1 hour.
Result<std::int64_t> parse_timeout_ms(std::string_view text, std::string_view what) {
  std::string_view digits = text;
  std::int64_t scale = 1000;
  if (digits.ends_with("ms")) {
    digits.remove_suffix(2);
    scale = 1;
  } else if (digits.ends_with("s")) {
    digits.remove_suffix(1);
  }
  std::int64_t value = 0;
  const auto* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ec != std::errc() || ptr != end || value < 0 || value > 3'600'000 / scale ||
      value * scale < 10) {
    return Error{Errc::invalid_argument, std::string(what) +
                                             ": expected a duration from 10ms to 3600s such as "
                                             "'30s' or '300ms', got '" +
                                             std::string(text) + "'"};
  }
  return value * scale;
}

Result<LogLevel> parse_level(std::string_view text) {
  if (text == "debug") {
    return LogLevel::debug;
  }
  if (text == "info") {
    return LogLevel::info;
  }
  if (text == "warning") {
    return LogLevel::warning;
  }
  if (text == "error") {
    return LogLevel::error;
  }
  return Error{Errc::invalid_argument, "log level: expected debug, info, warning or error, got '" +
                                           std::string(text) + "'"};
}

// "HH:MM" (00:00 to 23:59) as minutes after midnight.
Result<int> parse_time_of_day(std::string_view text) {
  const auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  if (text.size() == 5 && text[2] == ':' && digit(0) && digit(1) && digit(3) && digit(4)) {
    const int hours = (text[0] - '0') * 10 + (text[1] - '0');
    const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
    if (hours < 24 && minutes < 60) {
      return hours * 60 + minutes;
    }
  }
  return Error{Errc::invalid_argument,
               "backup_at: expected a local time of day HH:MM such as "
               "02:30, got '" +
                   std::string(text) + "'"};
}

// Sets one setting by its config-file name; the same names serve the environment and flags.
Result<void> set(Config& config, std::string_view key, std::string_view value) {
  if (key == "listen") {
    return set_listen(config, value);
  }
  if (key == "db") {
    config.db = value;
    return {};
  }
  if (key == "workflows") {
    config.workflows = value;
    return {};
  }
  if (key == "body_limit") {
    auto n = parse_number<std::size_t>(value, "body_limit", 1024, std::size_t{1} << 30);
    if (!n) {
      return n.error();
    }
    config.body_limit = *n;
    return {};
  }
  if (key == "header_limit") {
    auto n = parse_number<std::size_t>(value, "header_limit", 1024, std::size_t{1} << 20);
    if (!n) {
      return n.error();
    }
    config.header_limit = *n;
    return {};
  }
  if (key == "request_timeout" || key == "header_timeout") {
    auto ms = parse_timeout_ms(value, key);
    if (!ms) {
      return ms.error();
    }
    (key == "request_timeout" ? config.request_timeout_ms : config.header_timeout_ms) = *ms;
    return {};
  }
  if (key == "max_connections") {
    auto n = parse_number<int>(value, "max_connections", 1, 100'000);
    if (!n) {
      return n.error();
    }
    config.max_connections = *n;
    return {};
  }
  if (key == "json_max_depth" || key == "json_max_members" || key == "json_max_string") {
    const bool depth = key == "json_max_depth";
    auto n =
        parse_number<std::size_t>(value, key, depth ? 2 : 1, depth ? 1000 : std::size_t{1} << 30);
    if (!n) {
      return n.error();
    }
    (depth                       ? config.json_max_depth
     : key == "json_max_members" ? config.json_max_members
                                 : config.json_max_string) = *n;
    return {};
  }
  if (key == "auth_failures_per_minute") {
    auto n = parse_number<int>(value, "auth_failures_per_minute", 1, 100'000);
    if (!n) {
      return n.error();
    }
    config.auth_failures_per_minute = *n;
    return {};
  }
  if (key == "threads") {
    auto n = parse_number<int>(value, "threads", 1, 64);
    if (!n) {
      return n.error();
    }
    config.threads = *n;
    return {};
  }
  if (key == "plugins") {
    config.plugins.clear();
    std::size_t start = 0;
    while (start <= value.size()) {
      const auto end = std::min(value.find(':', start), value.size());
      if (end > start) {
        config.plugins.emplace_back(value.substr(start, end - start));
      }
      start = end + 1;
    }
    return {};
  }
  if (key == "step_workers") {
    auto n = parse_number<int>(value, "step_workers", 1, 64);
    if (!n) {
      return n.error();
    }
    config.step_workers = *n;
    return {};
  }
  if (key == "step_lease_ms") {
    auto n = parse_number<std::int64_t>(value, "step_lease_ms", 1000, 86'400'000);
    if (!n) {
      return n.error();
    }
    config.step_lease_ms = *n;
    return {};
  }
  if (key == "webhook_secret") {
    config.webhook_secret = value;
    return {};
  }
  if (key == "timezone") {
    if (value.empty()) {
      return Error{Errc::invalid_argument,
                   "timezone: expected an IANA name such as Asia/Kolkata or an offset such as "
                   "+05:30"};
    }
    config.timezone = value;
    return {};
  }
  if (key == "test_clock") {
    if (value != "now" && !parse_datetime(value)) {
      return Error{Errc::invalid_argument,
                   "test_clock: expected an RFC 3339 instant such as 2026-01-01T09:00:00+05:30, "
                   "or 'now'; got '" +
                       std::string(value) + "'"};
    }
    config.test_clock = value;
    return {};
  }
  if (key == "master_key") {
    config.master_key = value;
    return {};
  }
  if (key == "own_cases_only") {
    if (value == "true" || value == "yes" || value == "1" || value.empty()) {
      config.own_cases_only = true;  // empty: the bare flag --own-cases-only
    } else if (value == "false" || value == "no" || value == "0") {
      config.own_cases_only = false;
    } else {
      return Error{Errc::invalid_argument,
                   "own_cases_only: expected true or false, got '" + std::string(value) + "'"};
    }
    return {};
  }
  if (key == "backup_dir") {
    config.backup_dir = value;
    return {};
  }
  if (key == "backup_keep") {
    auto n = parse_number<int>(value, "backup_keep", 1, 10'000);
    if (!n) {
      return n.error();
    }
    config.backup_keep = *n;
    return {};
  }
  if (key == "backup_at") {
    auto minute = parse_time_of_day(value);
    if (!minute) {
      return minute.error();
    }
    config.backup_at_minute = *minute;
    return {};
  }
  if (key == "log_level") {
    auto level = parse_level(value);
    if (!level) {
      return level.error();
    }
    config.log_level = *level;
    return {};
  }
  if (key == "log_format") {
    if (value == "auto") {
      config.log_format = LogOutput::automatic;
    } else if (value == "text") {
      config.log_format = LogOutput::text;
    } else if (value == "json") {
      config.log_format = LogOutput::json;
    } else {
      return Error{Errc::invalid_argument,
                   "log_format: expected json, text or auto, got '" + std::string(value) + "'"};
    }
    return {};
  }
  return Error{
      Errc::invalid_argument,
      "unknown setting '" + std::string(key) +
          "'; expected one of: listen, db, workflows, plugins, plugin_allowlist, "
          "body_limit, threads, log_level, log_format, step_workers, step_lease_ms, "
          "webhook_secret, "
          "timezone, test_clock, master_key, own_cases_only, header_limit, request_timeout, "
          "header_timeout, max_connections, json_max_depth, json_max_members, "
          "json_max_string, auth_failures_per_minute, backup_dir, backup_keep, backup_at"};
}

}  // namespace

Result<void> set_listen(Config& config, std::string_view listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return Error{Errc::invalid_argument,
                 "listen: expected HOST:PORT (for example 127.0.0.1:8080), got '" +
                     std::string(listen) + "'"};
  }
  auto port = parse_number<std::uint16_t>(listen.substr(colon + 1), "listen port", 0, 65535);
  if (!port) {
    return port.error();
  }
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!host.empty()) {
    config.host = host;
  }
  config.port = *port;
  return {};
}

Result<void> apply_config_file(Config& config, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{Errc::invalid_argument, "config file '" + path + "' cannot be read"};
  }
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    return Error{Errc::invalid_argument, path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                             std::to_string(e.mark.column + 1) +
                                             ": error: " + e.msg};
  }
  if (root.IsNull()) {
    return {};
  }
  if (!root.IsMap()) {
    return Error{Errc::invalid_argument, path + ":1:1: error: expected a map of settings"};
  }
  for (const auto& item : root) {
    const auto mark = item.first.Mark();
    const auto where = path + ":" + std::to_string(mark.line + 1) + ":" +
                       std::to_string(mark.column + 1) + ": error: ";
    if (item.first.Scalar() == "plugin_allowlist") {
      if (!item.second.IsMap()) {
        return Error{Errc::invalid_argument,
                     where + "plugin_allowlist expects a map of file name: sha256"};
      }
      for (const auto& entry : item.second) {
        if (!entry.second.IsScalar() || entry.second.Scalar().size() != 64) {
          const auto m = entry.first.Mark();
          return Error{Errc::invalid_argument,
                       path + ":" + std::to_string(m.line + 1) + ":" +
                           std::to_string(m.column + 1) +
                           ": error: expected the file's SHA-256 as 64 hex digits"};
        }
        config.plugin_allowlist[entry.first.Scalar()] = entry.second.Scalar();
      }
      continue;
    }
    if (item.first.Scalar() == "plugins" && item.second.IsSequence()) {
      config.plugins.clear();
      for (const auto& dir : item.second) {
        config.plugins.push_back(dir.Scalar());
      }
      continue;
    }
    if (!item.second.IsScalar()) {
      return Error{Errc::invalid_argument,
                   where + "setting '" + item.first.Scalar() + "' expects a single value"};
    }
    if (auto r = set(config, item.first.Scalar(), item.second.Scalar()); !r) {
      return Error{Errc::invalid_argument, where + r.error().message};
    }
  }
  return {};
}

Result<void> apply_environment(Config& config) {
  static constexpr std::array<std::pair<const char*, std::string_view>, 26> kVariables = {{
      {"CAREPATH_LISTEN", "listen"},
      {"CAREPATH_DB", "db"},
      {"CAREPATH_WORKFLOWS", "workflows"},
      {"CAREPATH_BODY_LIMIT", "body_limit"},
      {"CAREPATH_THREADS", "threads"},
      {"CAREPATH_LOG_LEVEL", "log_level"},
      {"CAREPATH_LOG_FORMAT", "log_format"},
      {"CAREPATH_PLUGINS", "plugins"},
      {"CAREPATH_STEP_WORKERS", "step_workers"},
      {"CAREPATH_STEP_LEASE_MS", "step_lease_ms"},
      {"CAREPATH_WEBHOOK_SECRET", "webhook_secret"},
      {"CAREPATH_TIMEZONE", "timezone"},
      {"CAREPATH_TEST_CLOCK", "test_clock"},
      {"CAREPATH_MASTER_KEY_FILE", "master_key"},
      {"CAREPATH_OWN_CASES_ONLY", "own_cases_only"},
      {"CAREPATH_HEADER_LIMIT", "header_limit"},
      {"CAREPATH_REQUEST_TIMEOUT", "request_timeout"},
      {"CAREPATH_HEADER_TIMEOUT", "header_timeout"},
      {"CAREPATH_MAX_CONNECTIONS", "max_connections"},
      {"CAREPATH_JSON_MAX_DEPTH", "json_max_depth"},
      {"CAREPATH_JSON_MAX_MEMBERS", "json_max_members"},
      {"CAREPATH_JSON_MAX_STRING", "json_max_string"},
      {"CAREPATH_AUTH_FAILURES_PER_MINUTE", "auth_failures_per_minute"},
      {"CAREPATH_BACKUP_DIR", "backup_dir"},
      {"CAREPATH_BACKUP_KEEP", "backup_keep"},
      {"CAREPATH_BACKUP_AT", "backup_at"},
  }};
  for (const auto& [variable, key] : kVariables) {
    const char* value = std::getenv(variable);  // NOLINT(concurrency-mt-unsafe): at start-up
    if (value == nullptr || *value == '\0') {
      continue;
    }
    if (auto r = set(config, key, value); !r) {
      return Error{Errc::invalid_argument, std::string(variable) + ": " + r.error().message};
    }
  }
  return {};
}

Result<void> apply_flags(Config& config, const std::map<std::string, std::string>& flags) {
  for (const auto& [key, value] : flags) {
    if (auto r = set(config, key, value); !r) {
      return Error{Errc::invalid_argument, "--" + key + ": " + r.error().message};
    }
  }
  return {};
}

}  // namespace carepath::app
