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

enum class LogOutput { automatic = 1, text, json };

// carepath.yaml `plugin_settings:` for one plugin file.
struct PluginFileSettings {
  bool isolated = false;        // `isolation: process`: the plugin runs in its own host process
  std::int64_t timeout_ms = 0;  // `timeout:`; 0: step_timeout
};

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string db = "var/carepath.db";
  std::string workflows = "workflows";
  std::size_t body_limit = std::size_t{1024} * 1024;
  // HTTP limits (docs/rest-api.md "Limits"): the whole request head; the time a request head,
  // then the whole request, may take to arrive; open connections; request-body JSON shape;
  // failed authentications per minute from one address (a presented token id gets half).
  std::size_t header_limit = std::size_t{16} * 1024;
  std::int64_t request_timeout_ms = 30'000;
  std::int64_t header_timeout_ms = 10'000;
  int max_connections = 256;
  std::size_t json_max_depth = 32;
  std::size_t json_max_members = 1000;
  std::size_t json_max_string = std::size_t{64} * 1024;
  int auth_failures_per_minute = 10;
  // Addresses of reverse proxies (nginx on the same machine: 127.0.0.1) whose X-Forwarded-For
  // header names the client, for the per-address limits. Empty: the connection's peer counts.
  std::vector<std::string> trusted_proxies{};
  // Request threads: they run the API's handlers, each of which may wait for a commit.
  int threads = 64;
  // I/O threads: they accept connections, read requests and write answers; a few are enough.
  int io_threads = 2;
  LogLevel log_level = LogLevel::info;
  // Log lines on stderr: JSON objects, text, or (automatic) text on a terminal, JSON otherwise.
  LogOutput log_format = LogOutput::automatic;
  // Directories searched for plugin libraries (*.so), separated by ':' in flags and variables.
  std::vector<std::string> plugins{};
  // When not empty, only these plugin files (by file name) load, and only with this SHA-256.
  std::map<std::string, std::string> plugin_allowlist{};
  // Time limit of one plugin step call (docs/plugins.md "Time limits and isolation"); 0: none.
  std::int64_t step_timeout_ms = 30'000;
  // Per plugin file name ("legal_aid.so"): isolation and time limit.
  std::map<std::string, PluginFileSettings> plugin_settings{};
  // The carepath-plugin-host program for `isolation: process`; empty: the one beside carepath.
  std::string plugin_host{};
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
  // Daily backups (docs/operations.md "Backups"): the directory the server copies its database
  // into once a day (empty: no scheduled backups), how many copies it keeps (the newest), and
  // the local time of day it takes them, in the organisation's time zone (minutes after
  // midnight; `backup_at: "02:30"` in the file).
  std::string backup_dir{};
  int backup_keep = 7;
  int backup_at_minute = 150;

  // Where each setting that is not a default came from, by its config-file name: "FILE:LINE",
  // "CAREPATH_DB" or "--db". Filled by the apply_* functions; read by render_config.
  std::map<std::string, std::string> sources{};
};

// Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080", ":8080" keeps the host).
Result<void> set_listen(Config& config, std::string_view listen);

// Reads a YAML config file over `config`. Unknown keys are errors (a typo must not be ignored).
Result<void> apply_config_file(Config& config, const std::string& path);

// Applies CAREPATH_LISTEN, CAREPATH_DB, CAREPATH_WORKFLOWS, CAREPATH_PLUGINS,
// CAREPATH_BODY_LIMIT, CAREPATH_THREADS, CAREPATH_LOG_LEVEL, CAREPATH_STEP_WORKERS,
// CAREPATH_STEP_LEASE_MS, CAREPATH_WEBHOOK_SECRET, CAREPATH_TIMEZONE, CAREPATH_TEST_CLOCK,
// CAREPATH_MASTER_KEY_FILE, CAREPATH_OWN_CASES_ONLY, CAREPATH_HEADER_LIMIT,
// CAREPATH_REQUEST_TIMEOUT, CAREPATH_HEADER_TIMEOUT, CAREPATH_MAX_CONNECTIONS,
// CAREPATH_JSON_MAX_DEPTH, CAREPATH_JSON_MAX_MEMBERS, CAREPATH_JSON_MAX_STRING,
// CAREPATH_AUTH_FAILURES_PER_MINUTE, CAREPATH_TRUSTED_PROXIES, CAREPATH_STEP_TIMEOUT,
// CAREPATH_PLUGIN_HOST, CAREPATH_BACKUP_DIR, CAREPATH_BACKUP_KEEP and CAREPATH_BACKUP_AT when set.
Result<void> apply_environment(Config& config);

// Applies flags already parsed into name -> value ("listen", "db", "workflows").
Result<void> apply_flags(Config& config, const std::map<std::string, std::string>& flags);

// The effective configuration as a YAML document that apply_config_file reads back to the same
// settings, every setting named, each with a comment saying where its value came from. Secrets
// (webhook_secret) are masked: the text is safe to paste into a ticket.
std::string render_config(const Config& config);

}  // namespace carepath::app
