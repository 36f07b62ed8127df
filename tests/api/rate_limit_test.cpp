// FailureLimiter: fixed one-minute windows per key, bounded memory.
#include "api/rate_limit.hpp"

#include <string>

#include <gtest/gtest.h>

namespace carepath::api {
namespace {

using namespace std::chrono_literals;

TEST(FailureLimiter, BlocksAKeyAtItsLimitUntilTheWindowEnds) {
  FailureLimiter limiter(3);
  const auto t0 = FailureLimiter::Clock::time_point{} + 1000s;
  EXPECT_FALSE(limiter.record("a", t0));
  EXPECT_FALSE(limiter.record("a", t0 + 1s));
  EXPECT_EQ(limiter.retry_after("a", t0 + 1s), 0);
  EXPECT_TRUE(limiter.record("a", t0 + 2s));  // the one that reaches the limit
  EXPECT_EQ(limiter.retry_after("a", t0 + 2s), 58);
  EXPECT_EQ(limiter.retry_after("a", t0 + 59500ms), 1);
  EXPECT_EQ(limiter.retry_after("b", t0 + 2s), 0);   // other keys are not affected
  EXPECT_EQ(limiter.retry_after("a", t0 + 60s), 0);  // a new window
  EXPECT_FALSE(limiter.record("a", t0 + 61s));
  EXPECT_EQ(limiter.retry_after("a", t0 + 61s), 0);
}

TEST(FailureLimiter, KeepsAtMostMaxKeysDroppingTheOldestFirst) {
  FailureLimiter limiter(1, 3);
  const auto t0 = FailureLimiter::Clock::time_point{} + 1000s;
  for (int i = 0; i < 3; ++i) {
    limiter.record("k" + std::to_string(i), t0 + std::chrono::seconds(i));
  }
  EXPECT_GT(limiter.retry_after("k0", t0 + 5s), 0);
  limiter.record("k3", t0 + 5s);  // full: k0, the oldest, goes
  EXPECT_EQ(limiter.retry_after("k0", t0 + 5s), 0);
  EXPECT_GT(limiter.retry_after("k1", t0 + 5s), 0);
  EXPECT_GT(limiter.retry_after("k3", t0 + 5s), 0);
}

}  // namespace
}  // namespace carepath::api
