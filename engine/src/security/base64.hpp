// Base64 (RFC 4648: the standard alphabet, padded with '='): libsodium's constant-time coder for
// key material, and a quick decoder for public bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carepath::security {

// `size` bytes at `data` as base64, by libsodium (constant-time).
std::string encode_base64(const unsigned char* data, std::size_t size);

// The bytes `text` encodes, or nullopt when it is not padded base64; libsodium's
// sodium_base642bin (sodium_base64_VARIANT_ORIGINAL, nothing ignored), whose time does not depend
// on the text, which is what key material needs.
std::optional<std::vector<unsigned char>> decode_secret_base64(std::string_view text);

// The same as decode_secret_base64: the same texts accepted (no whitespace, no missing or extra
// padding, no stray bits in the last character) and the same bytes out, in a fraction of the
// time.
//
// Not constant-time: its time depends on the text. Use it for what is public anyway (a sealed
// value is a nonce, a ciphertext and a tag), never for key material, which libsodium decodes.
std::optional<std::vector<unsigned char>> decode_public_base64(std::string_view text);

}  // namespace carepath::security
