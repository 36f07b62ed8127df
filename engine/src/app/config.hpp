// Engine configuration: defaults, then the config file, then CAREPATH_* variables, then flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/log.hpp"

namespace carepath::app {

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string db = "var/carepath.db";
  std::string workflows = "workflows";
  std::size_t body_limit = std::size_t{1024} * 1024;
  int threads = 2;
  LogLevel log_level = LogLevel::info;
  // Directories searched for plugin libraries (*.so), separated by ':' in flags and variables.
  std::vector<std::string> plugins{};
  // When not empty, only these plugin files (by file name) load, and only with this SHA-256.
  std::map<std::string, std::string> plugin_allowlist{};
  int step_workers = 2;
  std::int64_t step_lease_ms = 60'000;
  std::string webhook_secret{};  // signs core.webhook requests; never logged
  // The organisation's time zone: "15 days" and "1 month" count on its calendar, dates in case
  // fields start at its midnight. An IANA name or a fixed offset such as +05:30.
  std::string timezone = "Asia/Kolkata";
  // For tests, training and demonstrations only: the engine runs on a clock that starts at this
  // instant (RFC 3339, or "now") and moves only through POST /v1/admin/clock. Empty: real time.
  std::string test_clock{};
  // The master key file (`carepath keys init FILE`): required; sensitive fields are encrypted
  // under per-case keys it wraps. Its path may be configured; the key itself never is.
  std::string master_key{};
  // Object-level authorisation (core/access.hpp): when true, a caller without the supervisor
  // role and without homes on its token sees only the cases it holds (assigned to it, one of
  // its teams or roles, or opened by it and not assigned since).
  bool own_cases_only = false;
};

// Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080", ":8080" keeps the host).
Result<void> set_listen(Config& config, std::string_view listen);

// Reads a YAML config file over `config`. Unknown keys are errors (a typo must not be ignored).
Result<void> apply_config_file(Config& config, const std::string& path);

// Applies CAREPATH_LISTEN, CAREPATH_DB, CAREPATH_WORKFLOWS, CAREPATH_PLUGINS,
// CAREPATH_BODY_LIMIT, CAREPATH_THREADS, CAREPATH_LOG_LEVEL, CAREPATH_STEP_WORKERS,
// CAREPATH_STEP_LEASE_MS, CAREPATH_WEBHOOK_SECRET, CAREPATH_TIMEZONE, CAREPATH_TEST_CLOCK,
// CAREPATH_MASTER_KEY_FILE and CAREPATH_OWN_CASES_ONLY when set.
Result<void> apply_environment(Config& config);

// Applies flags already parsed into name -> value ("listen", "db", "workflows").
Result<void> apply_flags(Config& config, const std::map<std::string, std::string>& flags);

}  // namespace carepath::app
