#include "security/random.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include <pthread.h>
#include <sodium.h>

#include "security/sodium.hpp"

namespace carepath::security {
namespace {

// Bumped in a fork()ed child, so every pool filled before the fork is refilled before use.
std::atomic<std::uint64_t> fork_generation{0};

void note_fork_in_child() {
  fork_generation.fetch_add(1, std::memory_order_relaxed);
}

void register_fork_handler() {
  static const bool kRegistered = [] {
    return ::pthread_atfork(nullptr, nullptr, &note_fork_in_child) == 0;
  }();
  if (!kRegistered) {
    // Without the handler a child could repeat its parent's nonces: refuse to pool at all.
    std::abort();
  }
}

class Pool {
 public:
  void take(unsigned char* out, std::size_t size) {
    const auto generation = fork_generation.load(std::memory_order_relaxed);
    if (generation != generation_) {
      sodium_memzero(bytes_.data(), bytes_.size());
      next_ = bytes_.size();
      generation_ = generation;
    }
    while (size > 0) {
      if (next_ == bytes_.size()) {
        randombytes_buf(bytes_.data(), bytes_.size());
        next_ = 0;
      }
      const std::size_t n = std::min(size, bytes_.size() - next_);
      std::memcpy(out, bytes_.data() + next_, n);
      sodium_memzero(bytes_.data() + next_, n);
      next_ += n;
      out += n;
      size -= n;
    }
  }

 private:
  std::array<unsigned char, 512> bytes_{};
  std::size_t next_ = bytes_.size();  // empty until the first use
  std::uint64_t generation_ = 0;
};

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  std::string hex(size * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), bytes, size);
  hex.pop_back();  // sodium_bin2hex writes a terminating NUL
  return hex;
}

}  // namespace

void public_random(unsigned char* out, std::size_t size) {
  if (size == 0) {
    return;
  }
  ensure_sodium();
  register_fork_handler();
  thread_local Pool pool;
  pool.take(out, size);
}

std::string random_hex(std::size_t bytes) {
  if (bytes == 0) {
    return {};  // libsodium's functions must not see the null data() of an empty vector
  }
  ensure_sodium();
  std::vector<unsigned char> buffer(bytes);
  randombytes_buf(buffer.data(), buffer.size());
  std::string hex = to_hex(buffer.data(), buffer.size());
  sodium_memzero(buffer.data(), buffer.size());
  return hex;
}

std::string random_id_hex(std::size_t bytes) {
  if (bytes == 0) {
    return {};
  }
  std::vector<unsigned char> buffer(bytes);
  public_random(buffer.data(), buffer.size());
  return to_hex(buffer.data(), buffer.size());
}

std::string new_case_id() {
  // The process's prefix; a forked child draws its own (see Pool: a child refills its pool).
  struct Run {
    std::uint64_t generation = 0;
    std::array<unsigned char, 3> prefix{};
  };
  static std::mutex mutex;
  static Run run{~std::uint64_t{0}, {}};
  static std::atomic<std::uint32_t> counter{0};
  std::array<unsigned char, 16> id{};
  {
    std::lock_guard lock(mutex);
    const auto generation = fork_generation.load(std::memory_order_relaxed);
    if (run.generation != generation) {
      public_random(run.prefix.data(), run.prefix.size());
      run.generation = generation;
    }
    std::copy(run.prefix.begin(), run.prefix.end(), id.begin());
  }
  const std::uint32_t n = counter.fetch_add(1, std::memory_order_relaxed);
  id[3] = static_cast<unsigned char>(n >> 16U);
  id[4] = static_cast<unsigned char>(n >> 8U);
  id[5] = static_cast<unsigned char>(n);
  public_random(id.data() + 6, id.size() - 6);
  return to_hex(id.data(), id.size());
}

std::string random_base32(std::size_t chars) {
  static_assert(kCrockfordAlphabet.size() == 32, "five bits per character");
  std::string text(chars, '\0');
  public_random(reinterpret_cast<unsigned char*>(text.data()), text.size());
  for (char& c : text) {
    c = kCrockfordAlphabet[static_cast<unsigned char>(c) & 31U];
  }
  return text;
}

}  // namespace carepath::security
