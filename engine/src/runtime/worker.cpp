#include "runtime/worker.hpp"

#include <algorithm>
#include <chrono>

#include "core/log.hpp"

namespace carepath::runtime {

StepWorker::StepWorker(Runtime& runtime, Store& store, const Clock& clock, WorkerOptions options)
    : runtime_(runtime), store_(store), clock_(clock), options_(options) {
}

StepWorker::~StepWorker() {
  stop();
}

void StepWorker::start() {
  std::lock_guard lock(mutex_);
  if (!threads_.empty()) {
    return;
  }
  stopping_ = false;
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { loop(); });
  }
}

void StepWorker::stop() {
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

void StepWorker::wake() {
  {
    std::lock_guard lock(mutex_);
    ++wakes_;
  }
  wake_.notify_all();
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

void StepWorker::loop() {
  for (;;) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
      seen = wakes_;
    }
    run_due();
    // Sleep until the next job falls due, a wake-up, or the poll interval.
    std::int64_t wait_ms = options_.poll_ms;
    if (auto next = store_.next_job_at(); next && *next) {
      wait_ms = std::clamp<std::int64_t>(**next - clock_.now(), 0, options_.poll_ms);
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                   [&] { return stopping_ || wakes_ != seen; });
  }
}

}  // namespace carepath::runtime
