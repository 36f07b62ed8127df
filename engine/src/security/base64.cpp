#include "security/base64.hpp"

#include <array>
#include <cstdint>
#include <cstring>

#include <sodium.h>

namespace carepath::security {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Each character's six bits, or -1 for a character outside the alphabet ('=' included).
constexpr std::array<std::int8_t, 256> kValues = [] {
  std::array<std::int8_t, 256> values{};
  values.fill(-1);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  }
  return values;
}();

int value_of(char c) {
  return kValues[static_cast<unsigned char>(c)];
}

}  // namespace

std::string encode_base64(const unsigned char* data, std::size_t size) {
  std::string out(sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::vector<unsigned char>> decode_secret_base64(std::string_view text) {
  if (text.empty()) {
    return std::vector<unsigned char>{};  // libsodium may not be handed a null buffer
  }
  std::vector<unsigned char> out(text.size());
  std::size_t length = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

std::optional<std::vector<unsigned char>> decode_public_base64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  // '=' may only close the last group of four, once or twice.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') {
    padding = text[text.size() - 2] == '=' ? 2 : 1;
  }
  std::vector<unsigned char> out(text.size() / 4 * 3 - padding);
  std::size_t o = 0;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int a = value_of(text[i]);
    const int b = value_of(text[i + 1]);
    const int c = last && padding == 2 ? 0 : value_of(text[i + 2]);
    const int d = last && padding >= 1 ? 0 : value_of(text[i + 3]);
    if ((a | b | c | d) < 0) {
      return std::nullopt;
    }
    const auto group = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6 | d);
    out[o++] = static_cast<unsigned char>(group >> 16);
    if (last && padding == 2) {
      // Two characters carry 12 bits for one byte: the other four must be zero.
      if ((group & 0xFFFFU) != 0) {
        return std::nullopt;
      }
      break;
    }
    out[o++] = static_cast<unsigned char>(group >> 8);
    if (last && padding == 1) {
      if ((group & 0xFFU) != 0) {  // three characters, 18 bits for two bytes
        return std::nullopt;
      }
      break;
    }
    out[o++] = static_cast<unsigned char>(group);
  }
  return out;
}

}  // namespace carepath::security
