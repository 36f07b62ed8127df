// Threads for in-process plugin calls that have a time limit. Such a call runs on a thread of its
// own, so that the caller can stop waiting for it (native code cannot be pre-empted). Starting a
// thread per call cost 15-25 us of CPU, 70 to 100 times a small call (bench/README.md); this
// pool hands each call to an idle thread instead and starts one only when none is idle, so a
// call that hangs keeps its thread and never delays the next.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

namespace carepath::plugin_host {

class CallThreads {
 public:
  // Idle threads kept waiting for work; more than this end when their call is done.
  static constexpr int kMaxIdle = 16;

  // The process-wide pool. Never destroyed: threads still running an abandoned call may outlive
  // every other object.
  static CallThreads& shared();

  // Runs `task` on an idle thread, or on a new one when none is idle. Throws std::system_error
  // when a thread is needed and cannot be started.
  void run(std::function<void()> task);

  // Threads started since the process began, and threads waiting for work now; for tests.
  std::uint64_t started() const;
  int idle() const;

 private:
  void serve(std::function<void()> task);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mutex_)
  int idle_ = 0;                             // GUARDED_BY(mutex_)
  std::uint64_t started_ = 0;                // GUARDED_BY(mutex_)
};

}  // namespace carepath::plugin_host
