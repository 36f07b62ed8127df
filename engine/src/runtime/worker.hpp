// The outbox worker pool: runs asynchronous step calls after their transition committed, on its
// own threads (never on the HTTP I/O threads), at least once, with retries and backoff.
#pragma once

#include <cstdint>

#include "core/store.hpp"
#include "core/time.hpp"
#include "runtime/due_loop.hpp"
#include "runtime/runtime.hpp"

namespace carepath::runtime {

struct WorkerOptions {
  int threads = 2;
  // How long a claimed job is reserved for this engine. A job whose engine died is taken up again
  // once its lease runs out; a step that takes longer than this may run twice (each time with the
  // same idempotency key).
  std::int64_t lease_ms = 60'000;
  // The longest a worker sleeps without looking at the outbox: another engine on the same
  // database may have scheduled work this one was not woken for.
  std::int64_t poll_ms = 1'000;
};

// Thread-safety: start(), stop() and wake() may be called from any thread.
class StepWorker {
 public:
  StepWorker(Runtime& runtime, Store& store, const Clock& clock, WorkerOptions options);
  ~StepWorker();
  StepWorker(const StepWorker&) = delete;
  StepWorker& operator=(const StepWorker&) = delete;
  StepWorker(StepWorker&&) = delete;
  StepWorker& operator=(StepWorker&&) = delete;

  void start();
  // Lets the calls in progress finish, then joins the threads. Jobs not yet claimed stay in the
  // outbox for the next start.
  void stop();
  // Something was scheduled: look now.
  void wake();

  // Claims and runs every job due now on the calling thread; returns how many ran. For tests and
  // tools; the threads do the same in a loop.
  std::size_t run_due();

 private:
  Runtime& runtime_;
  Store& store_;
  const Clock& clock_;
  WorkerOptions options_;
  DueLoop loop_;  // last: its threads use the members above
};

}  // namespace carepath::runtime
