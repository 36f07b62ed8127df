#include "runtime/due_loop.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "core/thread_name.hpp"

namespace carepath::runtime {
namespace {

// Work that is due but did not run is held by another engine (its lease has not run out): look
// again a little later rather than at once, which would spin.
constexpr std::int64_t kHeldElsewhereRetryMs = 250;

}  // namespace

DueLoop::DueLoop(const Clock& clock, std::int64_t poll_ms, Hooks hooks)
    : clock_(clock), poll_ms_(poll_ms), hooks_(std::move(hooks)) {
}

DueLoop::~DueLoop() {
  stop();
}

void DueLoop::start(int threads, std::string_view name) {
  std::lock_guard lock(mutex_);
  if (!threads_.empty()) {
    return;
  }
  stopping_ = false;
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this, name = std::string(name)] {
      name_this_thread(name);
      loop();
    });
  }
}

void DueLoop::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& t : threads) {
    t.join();
  }
}

void DueLoop::wake() {
  {
    std::lock_guard lock(mutex_);
    ++wakes_;
  }
  wake_.notify_all();
}

void DueLoop::loop() {
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
      seen = wakes_;
    }
    const std::size_t ran = hooks_.run_due();
    std::int64_t wait_ms = poll_ms_;
    if (const auto next = hooks_.next_due()) {
      wait_ms = std::clamp<std::int64_t>(*next - clock_.now(), 0, poll_ms_);
      if (wait_ms == 0 && ran == 0) {
        wait_ms = std::min(poll_ms_, kHeldElsewhereRetryMs);
      }
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_ || wakes_ != seen; });
  }
}

}  // namespace carepath::runtime
