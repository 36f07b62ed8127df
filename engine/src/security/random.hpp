// Unpredictable identifiers and secrets from libsodium's CSPRNG.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace carepath::security {

// Crockford's base32 alphabet: no I, L, O or U, so codes read aloud or copied by hand are not
// misread.
inline constexpr std::string_view kCrockfordAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// `bytes` random bytes as 2 * `bytes` lowercase hex digits.
std::string random_hex(std::size_t bytes);

// `chars` characters drawn uniformly from kCrockfordAlphabet (5 bits each).
std::string random_base32(std::size_t chars);

}  // namespace carepath::security
