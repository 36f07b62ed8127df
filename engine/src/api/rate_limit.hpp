// Counting failed authentications, so that one address (or one token id) guessing tokens is told
// to wait (429 with Retry-After) before the store is asked again and before the audit trail grows.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace carepath::api {

// Fixed one-minute windows per key: a key with `limit` failures in its current window is blocked
// until the window ends. In memory only (a restart forgets), bounded to `max_keys` keys: when
// full, expired windows are dropped first, then the oldest.
//
// Thread-safety: every member may be called concurrently.
class FailureLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kWindow{60};

  explicit FailureLimiter(int limit, std::size_t max_keys = 10'000)
      : limit_(limit), max_keys_(max_keys) {}

  // Seconds until `key` may try again (at least 1), or 0 when it is not blocked.
  long long retry_after(std::string_view key, Clock::time_point now = Clock::now()) const;

  // Counts one failure of `key`. True when this failure is the one that reaches the limit (the
  // caller may then record "rate limited" once per window).
  bool record(std::string_view key, Clock::time_point now = Clock::now());

 private:
  struct Window {
    Clock::time_point start;
    int failures = 0;
  };

  const int limit_;
  const std::size_t max_keys_;
  mutable std::mutex mutex_;
  std::map<std::string, Window, std::less<>> windows_;  // GUARDED_BY(mutex_)
};

}  // namespace carepath::api
