// The loop shared by the outbox workers and the timer scheduler: threads that run what is due,
// then sleep until the next due time, a wake-up, or the poll interval, whichever comes first.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "core/time.hpp"

namespace carepath::runtime {

// Thread-safety: start(), stop() and wake() may be called from any thread.
class DueLoop {
 public:
  struct Hooks {
    // Runs what is due now; returns how much ran.
    std::function<std::size_t()> run_due;
    // When the next piece of work falls due, whoever holds it; nullopt when none (or unknown).
    std::function<std::optional<Timestamp>()> next_due;
  };

  // `poll_ms`: the longest a thread sleeps without looking, since another engine on the same
  // database may have scheduled work this one was not woken for, and a test clock does not move
  // by itself.
  DueLoop(const Clock& clock, std::int64_t poll_ms, Hooks hooks);
  ~DueLoop();
  DueLoop(const DueLoop&) = delete;
  DueLoop& operator=(const DueLoop&) = delete;
  DueLoop(DueLoop&&) = delete;
  DueLoop& operator=(DueLoop&&) = delete;

  // Starts `threads` threads (at least one), named `name` (core/thread_name.hpp); no-op when
  // running.
  void start(int threads, std::string_view name);
  // Lets the work in progress finish, then joins the threads.
  void stop();
  // Something was scheduled, or the clock moved: look now.
  void wake();

 private:
  void loop();

  const Clock& clock_;
  std::int64_t poll_ms_;
  Hooks hooks_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;    // GUARDED_BY(mutex_)
  std::uint64_t wakes_ = 0;  // GUARDED_BY(mutex_)
  std::vector<std::thread> threads_;
};

}  // namespace carepath::runtime
