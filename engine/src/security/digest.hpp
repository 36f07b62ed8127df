// Content digests: SHA-256 as lowercase hex, for workflow sources, request hashes and tokens.
#pragma once

#include <string>
#include <string_view>

namespace carepath::security {

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// HMAC-SHA-256 of `message` under `key`, as 64 lowercase hex digits (webhook signatures).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace carepath::security
