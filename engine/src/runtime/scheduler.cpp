#include "runtime/scheduler.hpp"

#include <algorithm>
#include <chrono>

#include "core/log.hpp"
#include "security/random.hpp"

namespace carepath::runtime {
namespace {

constexpr std::int64_t kLeasedRetryMs = 250;

}  // namespace

TimerScheduler::TimerScheduler(Runtime& runtime, Store& store, const Clock& clock,
                               SchedulerOptions options)
    : runtime_(runtime),
      store_(store),
      clock_(clock),
      options_(options),
      owner_("engine-" + security::random_hex(8)) {
}

TimerScheduler::~TimerScheduler() {
  stop();
}

void TimerScheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void TimerScheduler::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    thread.swap(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) {
    thread.join();
  }
}

void TimerScheduler::wake() {
  {
    std::lock_guard lock(mutex_);
    ++wakes_;
  }
  wake_.notify_all();
}

std::size_t TimerScheduler::run_due() {
  std::size_t fired = 0;
  for (;;) {
    auto timers = store_.claim_timers(clock_.now(), options_.lease_ms, options_.batch, owner_);
    if (!timers) {
      log(LogLevel::error, "cannot claim timers", {{"reason", timers.error().message}});
      return fired;
    }
    if (timers->empty()) {
      return fired;
    }
    for (const TimerRecord& timer : *timers) {
      if (auto r = runtime_.fire_timer(timer, owner_); !r) {
        // The timer stays claimed and is taken up again when the lease runs out.
        log(LogLevel::error, "cannot record a timer",
            {{"case", timer.case_id}, {"timer", timer.name}, {"reason", r.error().message}});
      }
      ++fired;
    }
  }
}

void TimerScheduler::loop() {
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
      seen = wakes_;
    }
    const std::size_t fired = run_due();
    // Sleep until the next timer falls due, a wake-up, or the poll interval. A timer that is
    // due but was not fired is leased to another engine: look again a little later, not at once.
    std::int64_t wait_ms = options_.poll_ms;
    if (auto next = store_.next_timer_at(); next && *next) {
      wait_ms = std::clamp<std::int64_t>(**next - clock_.now(), 0, options_.poll_ms);
      if (wait_ms == 0 && fired == 0) {
        wait_ms = std::min<std::int64_t>(options_.poll_ms, kLeasedRetryMs);
      }
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_ || wakes_ != seen; });
  }
}

}  // namespace carepath::runtime
