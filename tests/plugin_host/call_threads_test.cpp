#include "plugin_host/call_threads.hpp"

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace carepath::plugin_host {
namespace {

void wait_for_idle(const CallThreads& pool) {
  for (int i = 0; i < 5000 && pool.idle() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Calls one after another reuse the thread that ran the last one instead of starting one each.
TEST(CallThreads, ReusesAnIdleThread) {
  CallThreads& pool = CallThreads::shared();
  const auto started_before = pool.started();
  for (int i = 0; i < 50; ++i) {
    auto ran = std::make_shared<std::promise<std::thread::id>>();
    auto ran_on = ran->get_future();
    pool.run([ran] { ran->set_value(std::this_thread::get_id()); });
    EXPECT_NE(ran_on.get(), std::this_thread::get_id());
    wait_for_idle(pool);
  }
  EXPECT_LE(pool.started() - started_before, 1U) << "a thread per call";
}

// A call that does not return keeps its thread; the next call gets another and is not delayed.
TEST(CallThreads, AHungCallDoesNotHoldUpTheNext) {
  CallThreads& pool = CallThreads::shared();
  // Shared with the hung call, which may still be unwinding when the test ends.
  struct Gate {
    std::mutex mutex;
    std::condition_variable released;
    bool release = false;
    std::promise<void> started;
  };
  auto gate = std::make_shared<Gate>();
  auto started = gate->started.get_future();
  pool.run([gate] {
    gate->started.set_value();
    std::unique_lock lock(gate->mutex);
    gate->released.wait(lock, [&gate] { return gate->release; });
  });
  started.wait();

  auto next_ran = std::make_shared<std::promise<void>>();
  auto next = next_ran->get_future();
  pool.run([next_ran] { next_ran->set_value(); });
  EXPECT_EQ(next.wait_for(std::chrono::seconds(10)), std::future_status::ready);

  {
    std::lock_guard lock(gate->mutex);
    gate->release = true;
  }
  gate->released.notify_all();
}

}  // namespace
}  // namespace carepath::plugin_host
