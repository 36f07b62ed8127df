#include "plugin_host/call_threads.hpp"

#include <chrono>
#include <thread>
#include <utility>

#include "core/thread_name.hpp"

namespace carepath::plugin_host {
namespace {

// An idle thread beyond the first kMaxIdle, or one idle this long, ends.
constexpr auto kIdleLifetime = std::chrono::seconds(60);

}  // namespace

CallThreads& CallThreads::shared() {
  static auto* pool = new CallThreads();  // NOLINT(cppcoreguidelines-owning-memory): see header
  return *pool;
}

void CallThreads::run(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    // Every queued task is already promised to one idle thread.
    if (idle_ > static_cast<int>(queue_.size())) {
      queue_.push_back(std::move(task));
      wake_.notify_one();
      return;
    }
    ++started_;
  }
  try {
    std::thread([this, first = std::move(task)]() mutable {
      name_this_thread("cp-plugin-call");
      serve(std::move(first));
    }).detach();
  } catch (...) {
    std::lock_guard lock(mutex_);
    --started_;
    throw;
  }
}

std::uint64_t CallThreads::started() const {
  std::lock_guard lock(mutex_);
  return started_;
}

int CallThreads::idle() const {
  std::lock_guard lock(mutex_);
  return idle_;
}

void CallThreads::serve(std::function<void()> task) {
  for (;;) {
    task();
    task = nullptr;  // what the call held goes now, not when the next one comes
    std::unique_lock lock(mutex_);
    if (idle_ >= kMaxIdle) {
      return;
    }
    ++idle_;
    const bool woken = wake_.wait_for(lock, kIdleLifetime, [this] { return !queue_.empty(); });
    --idle_;
    if (!woken) {
      return;
    }
    task = std::move(queue_.front());
    queue_.pop_front();
  }
}

}  // namespace carepath::plugin_host
