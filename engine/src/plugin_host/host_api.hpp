// The services the engine offers plugins (cp_host_api) and the per-call context they act on.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include <carepath/plugin_abi.h>

namespace carepath::plugin_host {

// What the host functions need to know about one run() call. The plugin sees it only as the
// opaque `call` pointer, valid during that call.
//
// Thread-safety: `cancelled` may be set from another thread while the plugin runs; the rest is
// fixed before the call starts.
struct CallContext {
  static constexpr std::uint32_t kMagic = 0x63704341;  // "cpCA": catches a foreign pointer
  std::uint32_t magic = kMagic;
  std::string_view step_name;        // for log attribution; never case data
  std::string_view idempotency_key;  // handed to the plugin as a borrowed cp_str
  std::atomic<bool> cancelled{false};
};

// The one host table; static, so it outlives every plugin as the ABI requires.
const cp_host_api* host_api();

}  // namespace carepath::plugin_host
