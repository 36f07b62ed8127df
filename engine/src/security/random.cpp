#include "security/random.hpp"

#include <vector>

#include <sodium.h>

#include "security/sodium.hpp"

namespace carepath::security {

std::string random_hex(std::size_t bytes) {
  if (bytes == 0) {
    return {};  // libsodium's functions must not see the null data() of an empty vector
  }
  ensure_sodium();
  std::vector<unsigned char> buffer(bytes);
  randombytes_buf(buffer.data(), buffer.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), buffer.data(), buffer.size());
  hex.pop_back();  // sodium_bin2hex writes a terminating NUL
  sodium_memzero(buffer.data(), buffer.size());
  return hex;
}

std::string random_base32(std::size_t chars) {
  ensure_sodium();
  std::string text;
  text.reserve(chars);
  for (std::size_t i = 0; i < chars; ++i) {
    // randombytes_uniform avoids the modulo bias of reducing a random byte.
    text.push_back(kCrockfordAlphabet[randombytes_uniform(kCrockfordAlphabet.size())]);
  }
  return text;
}

}  // namespace carepath::security
