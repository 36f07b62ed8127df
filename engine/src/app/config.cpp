#include "app/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
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
  if (key == "step_timeout") {
    if (value == "off") {
      config.step_timeout_ms = 0;
      return {};
    }
    auto ms = parse_timeout_ms(value, key);
    if (!ms) {
      return ms.error();
    }
    config.step_timeout_ms = *ms;
    return {};
  }
  if (key == "plugin_host") {
    config.plugin_host = value;
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
    auto n = parse_number<int>(value, "threads", 1, 512);
    if (!n) {
      return n.error();
    }
    config.threads = *n;
    return {};
  }
  if (key == "io_threads") {
    auto n = parse_number<int>(value, "io_threads", 1, 64);
    if (!n) {
      return n.error();
    }
    config.io_threads = *n;
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
  if (key == "trusted_proxies") {
    // Comma-separated in variables and flags: IPv6 addresses hold colons.
    config.trusted_proxies.clear();
    std::size_t start = 0;
    while (start <= value.size()) {
      const auto end = std::min(value.find(',', start), value.size());
      std::string address(value.substr(start, end - start));
      std::erase(address, ' ');
      if (!address.empty()) {
        boost::system::error_code ec;
        const auto parsed = boost::asio::ip::make_address(address, ec);
        if (ec) {
          return Error{Errc::invalid_argument,
                       "trusted_proxies: expected IP addresses such as 127.0.0.1 or ::1, got '" +
                           address + "'"};
        }
        config.trusted_proxies.push_back(parsed.to_string());
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
          "body_limit, threads, io_threads, log_level, log_format, step_workers, step_lease_ms, "
          "webhook_secret, "
          "timezone, test_clock, master_key, own_cases_only, header_limit, request_timeout, "
          "header_timeout, max_connections, json_max_depth, json_max_members, "
          "json_max_string, auth_failures_per_minute, trusted_proxies, step_timeout, "
          "plugin_settings, plugin_host, backup_dir, backup_keep, backup_at"};
}

// `plugin_settings:`: file name -> {isolation: in_process|process, timeout: 10s}.
Result<void> read_plugin_settings(Config& config, const YAML::Node& node, const std::string& path) {
  const auto at = [&path](const YAML::Node& n) {
    const auto m = n.Mark();
    return path + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
           ": error: ";
  };
  if (!node.IsMap()) {
    return Error{Errc::invalid_argument,
                 at(node) + "plugin_settings expects a map of plugin file name: settings"};
  }
  for (const auto& entry : node) {
    const std::string file = entry.first.Scalar();
    if (file.empty() || file.find('/') != std::string::npos) {
      return Error{Errc::invalid_argument,
                   at(entry.first) +
                       "plugin_settings: expected a plugin file name such as "
                       "legal_aid.so, got '" +
                       file + "'"};
    }
    if (!entry.second.IsMap()) {
      return Error{Errc::invalid_argument,
                   at(entry.second) + "plugin_settings: " + file +
                       ": expected a map such as { isolation: process, timeout: 10s }"};
    }
    PluginFileSettings settings;
    for (const auto& setting : entry.second) {
      const std::string key = setting.first.Scalar();
      const std::string where = at(setting.first) + "plugin_settings: " + file + ": ";
      if (!setting.second.IsScalar()) {
        return Error{Errc::invalid_argument, where + key + " expects a single value"};
      }
      const std::string value = setting.second.Scalar();
      if (key == "isolation") {
        if (value != "process" && value != "in_process") {
          return Error{Errc::invalid_argument,
                       where + "isolation: expected in_process or process, got '" + value + "'"};
        }
        settings.isolated = value == "process";
      } else if (key == "timeout") {
        auto ms = parse_timeout_ms(value, "timeout");
        if (!ms) {
          return Error{Errc::invalid_argument, where + ms.error().message};
        }
        settings.timeout_ms = *ms;
      } else {
        return Error{Errc::invalid_argument,
                     where + "unknown setting '" + key + "'; expected isolation or timeout"};
      }
    }
    config.plugin_settings[file] = settings;
  }
  return {};
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
      config.sources["plugin_allowlist"] = path + ":" + std::to_string(mark.line + 1);
      continue;
    }
    if (item.first.Scalar() == "trusted_proxies" && item.second.IsSequence()) {
      std::string joined;
      for (const auto& address : item.second) {
        joined += (joined.empty() ? "" : ",") + address.Scalar();
      }
      if (auto r = set(config, "trusted_proxies", joined); !r) {
        return Error{Errc::invalid_argument, where + r.error().message};
      }
      config.sources["trusted_proxies"] = path + ":" + std::to_string(mark.line + 1);
      continue;
    }
    if (item.first.Scalar() == "plugin_settings") {
      if (auto r = read_plugin_settings(config, item.second, path); !r) {
        return r.error();
      }
      config.sources["plugin_settings"] = path + ":" + std::to_string(mark.line + 1);
      continue;
    }
    if (item.first.Scalar() == "plugins" && item.second.IsSequence()) {
      config.plugins.clear();
      for (const auto& dir : item.second) {
        config.plugins.push_back(dir.Scalar());
      }
      config.sources["plugins"] = path + ":" + std::to_string(mark.line + 1);
      continue;
    }
    if (!item.second.IsScalar()) {
      return Error{Errc::invalid_argument,
                   where + "setting '" + item.first.Scalar() + "' expects a single value"};
    }
    if (auto r = set(config, item.first.Scalar(), item.second.Scalar()); !r) {
      return Error{Errc::invalid_argument, where + r.error().message};
    }
    config.sources[item.first.Scalar()] = path + ":" + std::to_string(mark.line + 1);
  }
  return {};
}

Result<void> apply_environment(Config& config) {
  static constexpr std::array<std::pair<const char*, std::string_view>, 30> kVariables = {{
      {"CAREPATH_LISTEN", "listen"},
      {"CAREPATH_DB", "db"},
      {"CAREPATH_WORKFLOWS", "workflows"},
      {"CAREPATH_BODY_LIMIT", "body_limit"},
      {"CAREPATH_THREADS", "threads"},
      {"CAREPATH_IO_THREADS", "io_threads"},
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
      {"CAREPATH_TRUSTED_PROXIES", "trusted_proxies"},
      {"CAREPATH_STEP_TIMEOUT", "step_timeout"},
      {"CAREPATH_PLUGIN_HOST", "plugin_host"},
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
    config.sources[std::string(key)] = variable;
  }
  return {};
}

Result<void> apply_flags(Config& config, const std::map<std::string, std::string>& flags) {
  for (const auto& [key, value] : flags) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (auto r = set(config, key, value); !r) {
      return Error{Errc::invalid_argument, flag + ": " + r.error().message};
    }
    config.sources[key] = flag;
  }
  return {};
}

namespace {

// A YAML scalar that reads back as the same string: a JSON string is a YAML double-quoted one.
std::string quoted(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

// A YAML flow sequence of quoted strings: ["a", "b"].
std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i == 0 ? "" : ", ") + quoted(items[i]);
  }
  return out + "]";
}

std::string timeout_text(std::int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

}  // namespace

std::string render_config(const Config& config) {
  std::ostringstream out;
  out << "# carepath: the effective configuration (defaults, then the config file, then\n"
         "# CAREPATH_* variables, then flags). Secrets are masked.\n";
  const auto line = [&](std::string_view key, const std::string& value) {
    out << key << ": " << value;
    if (auto it = config.sources.find(std::string(key)); it != config.sources.end()) {
      out << "  # " << it->second;
    } else {
      out << "  # default";
    }
    out << '\n';
  };
  const bool v6 = config.host.find(':') != std::string::npos;
  line("listen",
       quoted((v6 ? "[" + config.host + "]" : config.host) + ":" + std::to_string(config.port)));
  line("db", quoted(config.db));
  line("master_key", quoted(config.master_key));
  line("workflows", quoted(config.workflows));
  line("plugins", quoted_list(config.plugins));
  if (config.plugin_allowlist.empty()) {
    line("plugin_allowlist", "{}");
  } else {
    line("plugin_allowlist", "");
    for (const auto& [file, sha] : config.plugin_allowlist) {
      out << "  " << quoted(file) << ": " << quoted(sha) << '\n';
    }
  }
  line("body_limit", std::to_string(config.body_limit));
  line("header_limit", std::to_string(config.header_limit));
  line("header_timeout", timeout_text(config.header_timeout_ms));
  line("request_timeout", timeout_text(config.request_timeout_ms));
  line("max_connections", std::to_string(config.max_connections));
  line("json_max_depth", std::to_string(config.json_max_depth));
  line("json_max_members", std::to_string(config.json_max_members));
  line("json_max_string", std::to_string(config.json_max_string));
  line("auth_failures_per_minute", std::to_string(config.auth_failures_per_minute));
  line("trusted_proxies", quoted_list(config.trusted_proxies));
  line("threads", std::to_string(config.threads));
  line("io_threads", std::to_string(config.io_threads));
  line("log_level", std::string(log_level_name(config.log_level)));
  line("log_format", config.log_format == LogOutput::json   ? "json"
                     : config.log_format == LogOutput::text ? "text"
                                                            : "auto");
  line("step_timeout", config.step_timeout_ms == 0 ? "off" : timeout_text(config.step_timeout_ms));
  if (config.plugin_settings.empty()) {
    line("plugin_settings", "{}");
  } else {
    line("plugin_settings", "");
    for (const auto& [file, settings] : config.plugin_settings) {
      out << "  " << quoted(file)
          << ": { isolation: " << (settings.isolated ? "process" : "in_process");
      if (settings.timeout_ms != 0) {
        out << ", timeout: " << timeout_text(settings.timeout_ms);
      }
      out << " }\n";
    }
  }
  line("plugin_host", quoted(config.plugin_host));
  line("step_workers", std::to_string(config.step_workers));
  line("step_lease_ms", std::to_string(config.step_lease_ms));
  // Never the secret itself, nor its length: only whether one is set.
  line("webhook_secret", config.webhook_secret.empty() ? "\"\"" : "\"********\"");
  line("timezone", quoted(config.timezone));
  line("own_cases_only", config.own_cases_only ? "true" : "false");
  line("backup_dir", quoted(config.backup_dir));
  line("backup_keep", std::to_string(config.backup_keep));
  {
    const int hour = config.backup_at_minute / 60;
    const int minute = config.backup_at_minute % 60;
    line("backup_at", std::string("\"") + (hour < 10 ? "0" : "") + std::to_string(hour) +
                          (minute < 10 ? ":0" : ":") + std::to_string(minute) + "\"");
  }
  if (!config.test_clock.empty()) {
    line("test_clock", quoted(config.test_clock));
  }
  return out.str();
}

}  // namespace carepath::app
