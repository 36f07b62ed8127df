#include "runtime/scheduler.hpp"

#include "core/log.hpp"
#include "security/random.hpp"

namespace carepath::runtime {

TimerScheduler::TimerScheduler(Runtime& runtime, Store& store, const Clock& clock,
                               SchedulerOptions options)
    : runtime_(runtime),
      store_(store),
      clock_(clock),
      options_(options),
      owner_("engine-" + security::random_id_hex(8)),
      loop_(clock, options.poll_ms,
            DueLoop::Hooks{[this] { return run_due(); },
                           [this]() -> std::optional<Timestamp> {
                             auto next = store_.next_timer_at();
                             return next ? *next : std::nullopt;
                           }}) {
}

TimerScheduler::~TimerScheduler() {
  stop();
}

// One thread: timers fire in the order they fall due.
void TimerScheduler::start() {
  loop_.start(1, "cp-timers");
}

void TimerScheduler::stop() {
  loop_.stop();
}

void TimerScheduler::wake() {
  loop_.wake();
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

}  // namespace carepath::runtime
