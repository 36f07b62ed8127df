// The daily retention job: runs Runtime::apply_retention at start-up and then once a day, on a
// thread of its own, until stopped.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "core/time.hpp"
#include "runtime/due_loop.hpp"
#include "runtime/runtime.hpp"

namespace carepath::runtime {

struct RetentionJobOptions {
  std::int64_t interval_ms = 24LL * 60 * 60 * 1000;
  // The longest the thread sleeps without looking at the clock (a test clock moves by itself
  // only when told to).
  std::int64_t poll_ms = 60'000;
};

// Thread-safety: start(), stop() and wake() may be called from any thread.
class RetentionJob {
 public:
  RetentionJob(Runtime& runtime, const Clock& clock, RetentionJobOptions options = {});
  ~RetentionJob();
  RetentionJob(const RetentionJob&) = delete;
  RetentionJob& operator=(const RetentionJob&) = delete;
  RetentionJob(RetentionJob&&) = delete;
  RetentionJob& operator=(RetentionJob&&) = delete;

  void start();
  // Lets a run in progress finish its current case, then joins the thread.
  void stop();
  void wake();

  // Runs the job when it is due (at the first call, then every interval); returns 1 when it ran.
  std::size_t run_due();

 private:
  Runtime& runtime_;
  const Clock& clock_;
  RetentionJobOptions options_;
  std::mutex mutex_;
  std::optional<Timestamp> next_at_;  // GUARDED_BY(mutex_): nullopt until the first run
  DueLoop loop_;                      // last: its thread uses the members above
};

}  // namespace carepath::runtime
