// Base64 of public bytes, read quickly.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace carepath::security {

// The bytes `text` encodes in base64 (RFC 4648: the standard alphabet, padded with '='), or
// nullopt when it is not such a text. Accepts exactly what libsodium's sodium_base642bin accepts
// for sodium_base64_VARIANT_ORIGINAL with nothing ignored (no whitespace, no missing or extra
// padding, no stray bits in the last character), and yields the same bytes.
//
// Not constant-time: its time depends on the text. Use it for what is public anyway (a sealed
// value is a nonce, a ciphertext and a tag), never for key material, which libsodium decodes.
std::optional<std::vector<unsigned char>> decode_public_base64(std::string_view text);

}  // namespace carepath::security
