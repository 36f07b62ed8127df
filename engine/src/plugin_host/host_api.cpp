#include "plugin_host/host_api.hpp"

#include <string_view>

#include "core/log.hpp"

namespace carepath::plugin_host {
namespace {

// Plugins call these through C function pointers: nothing may throw out of them, and `call` is
// checked because a buggy plugin can pass anything.
const CallContext* context(void* call) {
  const auto* ctx = static_cast<const CallContext*>(call);
  if (ctx == nullptr || ctx->magic != CallContext::kMagic) {
    return nullptr;
  }
  return ctx;
}

LogLevel level_of(int level) {
  switch (level) {
    case CP_LOG_DEBUG:
      return LogLevel::debug;
    case CP_LOG_WARNING:
      return LogLevel::warning;
    case CP_LOG_ERROR:
      return LogLevel::error;
    default:
      return LogLevel::info;
  }
}

void host_log(void* call, int level, cp_str message) noexcept {
  const CallContext* ctx = context(call);
  if (ctx == nullptr || (message.data == nullptr && message.size != 0)) {
    return;
  }
  try {
    // Only the step's name is attached: the plugin decides the text, the host adds nothing that
    // could carry case data.
    log(level_of(level), std::string_view(message.data, message.size), {{"step", ctx->step_name}});
  } catch (...) {  // NOLINT(bugprone-empty-catch): a failing log sink must not reach the plugin
  }
}

int host_is_cancelled(void* call) noexcept {
  const CallContext* ctx = context(call);
  return ctx != nullptr && ctx->cancelled.load() ? 1 : 0;
}

cp_str host_idempotency_key(void* call) noexcept {
  const CallContext* ctx = context(call);
  if (ctx == nullptr) {
    return cp_str{"", 0};
  }
  return cp_str{ctx->idempotency_key.data(), ctx->idempotency_key.size()};
}

constexpr cp_host_api kHostApi{
    sizeof(cp_host_api), CP_ABI_MAJOR,       CP_ABI_MINOR,
    &host_log,           &host_is_cancelled, &host_idempotency_key,
};

}  // namespace

const cp_host_api* host_api() {
  return &kHostApi;
}

}  // namespace carepath::plugin_host
