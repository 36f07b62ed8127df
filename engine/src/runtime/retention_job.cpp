#include "runtime/retention_job.hpp"

#include "core/log.hpp"

namespace carepath::runtime {

RetentionJob::RetentionJob(Runtime& runtime, const Clock& clock, RetentionJobOptions options)
    : runtime_(runtime),
      clock_(clock),
      options_(options),
      loop_(clock, options.poll_ms,
            DueLoop::Hooks{[this] { return run_due(); },
                           [this]() -> std::optional<Timestamp> {
                             std::lock_guard lock(mutex_);
                             return next_at_;
                           }}) {
}

RetentionJob::~RetentionJob() {
  stop();
}

void RetentionJob::start() {
  loop_.start(1, "cp-retention");
}

void RetentionJob::stop() {
  loop_.stop();
}

void RetentionJob::wake() {
  loop_.wake();
}

std::size_t RetentionJob::run_due() {
  const Timestamp now = clock_.now();
  {
    std::lock_guard lock(mutex_);
    if (next_at_ && now < *next_at_) {
      return 0;
    }
    // Set before the run: a run that fails is tried again at the next interval, not in a loop.
    next_at_ = now + options_.interval_ms;
  }
  auto report = runtime_.apply_retention(now);
  if (!report) {
    log(LogLevel::error, "retention job failed", {{"reason", report.error().message}});
    return 1;
  }
  log(LogLevel::info, "retention job ran",
      {{"cases", std::to_string(report->cases)}, {"values", std::to_string(report->values)}});
  return 1;
}

}  // namespace carepath::runtime
