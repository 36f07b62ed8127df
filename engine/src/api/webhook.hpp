// core.webhook: POSTs a JSON event about a case to a configured URL, signed with HMAC-SHA-256.
// The body carries the case's identity and the transition, never field values.
#pragma once

#include <memory>
#include <string>

#include "core/step.hpp"

namespace carepath::api {

// `secret` signs every request (`X-Carepath-Signature: sha256=<hex>` over the exact body); an
// empty secret sends unsigned requests and says so in the log once.
std::unique_ptr<StepType> make_core_webhook(std::string secret);

}  // namespace carepath::api
