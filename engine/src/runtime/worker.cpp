#include "runtime/worker.hpp"

#include "core/log.hpp"

namespace carepath::runtime {

StepWorker::StepWorker(Runtime& runtime, Store& store, const Clock& clock, WorkerOptions options)
    : runtime_(runtime),
      store_(store),
      clock_(clock),
      options_(options),
      loop_(clock, options.poll_ms,
            DueLoop::Hooks{[this] { return run_due(); },
                           [this]() -> std::optional<Timestamp> {
                             auto next = store_.next_job_at();
                             return next ? *next : std::nullopt;
                           }}) {
}

StepWorker::~StepWorker() {
  stop();
}

void StepWorker::start() {
  loop_.start(options_.threads, "cp-worker");
}

void StepWorker::stop() {
  loop_.stop();
}

void StepWorker::wake() {
  loop_.wake();
}

std::size_t StepWorker::run_due() {
  std::size_t ran = 0;
  for (;;) {
    auto jobs = store_.claim_jobs(clock_.now(), options_.lease_ms, 1);
    if (!jobs) {
      log(LogLevel::error, "cannot claim outbox jobs", {{"reason", jobs.error().message}});
      return ran;
    }
    if (jobs->empty()) {
      return ran;
    }
    for (const auto& job : *jobs) {
      if (auto r = runtime_.run_job(job); !r) {
        // The job stays leased and is taken up again when the lease runs out.
        log(LogLevel::error, "cannot record the outcome of a step",
            {{"case", job.case_id}, {"step", job.step_type}, {"reason", r.error().message}});
      }
      ++ran;
    }
  }
}

}  // namespace carepath::runtime
