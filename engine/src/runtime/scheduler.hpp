// The timer scheduler: fires state timers and statutory clock deadlines when they fall due, on
// its own thread. It sleeps until the next timer is due (one indexed query), not by scanning
// rows, so a hundred thousand pending timers cost nothing while they wait.
#pragma once

#include <cstdint>
#include <string>

#include "core/store.hpp"
#include "core/time.hpp"
#include "runtime/due_loop.hpp"
#include "runtime/runtime.hpp"

namespace carepath::runtime {

struct SchedulerOptions {
  // How long a claimed timer is reserved for this engine; an engine that dies mid-fire leaves it
  // to another after this.
  std::int64_t lease_ms = 60'000;
  // The longest the scheduler sleeps without looking: another engine on the same database may
  // have scheduled an earlier timer, and a test clock does not move by itself.
  std::int64_t poll_ms = 1'000;
  // Timers claimed per round; they fire in the order they fall due.
  std::size_t batch = 64;
};

// Thread-safety: start(), stop() and wake() may be called from any thread.
class TimerScheduler {
 public:
  TimerScheduler(Runtime& runtime, Store& store, const Clock& clock, SchedulerOptions options);
  ~TimerScheduler();
  TimerScheduler(const TimerScheduler&) = delete;
  TimerScheduler& operator=(const TimerScheduler&) = delete;
  TimerScheduler(TimerScheduler&&) = delete;
  TimerScheduler& operator=(TimerScheduler&&) = delete;

  void start();
  void stop();
  // A timer was scheduled, or the clock moved: look now.
  void wake();

  // Claims and fires every timer due now on the calling thread, including those that fall due
  // because an earlier one fired; returns how many fired or were skipped. For tests and tools.
  std::size_t run_due();

  // This engine's claim owner name (random per process).
  const std::string& owner() const { return owner_; }

 private:
  Runtime& runtime_;
  Store& store_;
  const Clock& clock_;
  SchedulerOptions options_;
  std::string owner_;
  DueLoop loop_;  // last: its thread uses the members above
};

}  // namespace carepath::runtime
