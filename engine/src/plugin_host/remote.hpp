// Out-of-process plugins (`isolation: process`): the plugin is loaded by a small host process
// (carepath-plugin-host, host_main.cpp), and the engine forwards step calls to it as
// line-delimited JSON over a socket pair on the host's stdin/stdout. A crash, a hang or garbage in
// the plugin then fails one step call; the engine lives on and starts a new host.
//
// Protocol: one JSON object per line each way; every request gets exactly one answer, in order.
//   {"op":"describe"}
//     -> {"ok":true,"plugin":{"name","version","abi_major","abi_minor",
//                             "step_types":[{"name","description","config_schema","reads"}]}}
//   {"op":"create","instance":N,"step":"legal_aid.refer","config":{...}}   -> {"ok":true}
//   {"op":"run","instance":N,"idempotency_key":"...","input":{...}}
//     -> {"ok":true,"status":"ok|failed|retryable|pending|veto","output":{...},"message":"..."}
//   {"op":"destroy","instance":N}                                           -> {"ok":true}
//   Any refusal: {"ok":false,"message":"..."}.
// The host's stderr carries its log lines (one JSON object each: level, message, step) and
// whatever the plugin prints; the engine logs them with the plugin's name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/step.hpp"

namespace carepath::plugin_host {

// The longest answer line the engine reads from a host; longer is a broken plugin. Room for the
// largest output (kMaxOutputBytes) with JSON escaping.
inline constexpr std::size_t kMaxReplyBytes = std::size_t{40} << 20U;

struct RemoteOptions {
  std::filesystem::path host_executable;  // carepath-plugin-host
  std::filesystem::path plugin_file;      // absolute
  std::string sha256;                     // when set, the host refuses a file with another SHA-256
  std::int64_t timeout_ms = 30'000;       // per call, including starting a host
  // After a host fails, the next start waits this long, doubled per failure in a row (at most
  // 60 s); calls in the meantime fail fast as retryable.
  std::int64_t restart_backoff_ms = 1000;
  std::size_t max_reply_bytes = kMaxReplyBytes;
};

// What the host said the plugin is, with step types that forward to it.
struct RemotePlugin {
  std::string name;
  std::string version;
  int abi_major = 0;
  int abi_minor = 0;
  std::vector<std::unique_ptr<StepType>> step_types;  // in the plugin's order
};

// Starts a host for `options.plugin_file` and asks it to describe the plugin. The host stays
// running while any step type or instance made from it lives.
// Errc::plugin: the host cannot be started, the plugin does not load in it (its message), or the
// host answered nonsense.
Result<RemotePlugin> start_remote_plugin(const RemoteOptions& options);

}  // namespace carepath::plugin_host
