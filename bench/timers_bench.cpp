// 100,000 pending timers must not slow start-up or transitions (issue #4).
//
// Seeds a database whose cases hold four pending timers each (a reminder, a repeating check, and
// a statutory clock's warning and breach), then measures, against a database of 2,000 such cases:
//   - start-up: Engine::open and start (store, workflows, runtime, scheduler, HTTP server);
//   - the scheduler's wake-up query (next_timer_at) and an idle claim;
//   - durable transitions through the runtime (each a commit with synchronous=FULL);
//   - firing timers that fell due.
// Run: build/bench/timers_bench [CASES] (default 25000, i.e. 100,000 timers). Prints a table and
// exits 1 when a target is missed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "app/engine.hpp"
#include "core/log.hpp"
#include "runtime/runtime.hpp"
#include "security/crypto.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using carepath::Timestamp;

constexpr const char* kWorkflow = R"(carepath: 1
workflow: bench
version: 1
roles: [caseworker]
fields:
  n: { type: integer }
clocks:
  deadline:
    starts: { on_enter: open }
    due: 30d
    warn_before: 1d
    stops: { on_event: close }
states:
  open:
    initial: true
    after:
      - { in: 365d, event: reminder }
    every:
      - { interval: 30d, event: check }
    on:
      note: { to: open, roles: [caseworker], requires: [n] }
      reminder: { to: open }
      check: { to: open }
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

constexpr Timestamp kStart = 1'795'321'800'000;  // 2026-11-22T04:30:00Z
constexpr std::int64_t kMinute = 60'000;
constexpr int kTransitions = 2'000;
constexpr int kWakeQueries = 2'000;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Setup {
  fs::path dir;
  carepath::app::Config config;
};

Setup make_setup(const std::string& name) {
  Setup s;
  s.dir = fs::temp_directory_path() / ("carepath-bench-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(s.dir);
  fs::create_directories(s.dir / "workflows");
  std::ofstream(s.dir / "workflows" / "bench.yaml") << kWorkflow;
  s.config.db = (s.dir / "cases.db").string();
  s.config.master_key = (s.dir / "master.key").string();
  if (!carepath::security::create_key_file(s.config.master_key)) {
    std::fprintf(stderr, "cannot create a master key\n");
    std::exit(2);
  }
  s.config.workflows = (s.dir / "workflows").string();
  s.config.port = 0;
  s.config.timezone = "+05:30";
  return s;
}

// Opens `cases` cases one minute apart; each schedules four timers.
std::vector<std::string> seed(const Setup& s, carepath::ManualClock& clock, int cases) {
  auto engine = carepath::app::Engine::open(s.config, &clock);
  if (!engine) {
    std::fprintf(stderr, "open: %s\n", engine.error().message.c_str());
    std::exit(2);
  }
  const carepath::Actor actor{"bench", {"caseworker"}};
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(cases));
  for (int i = 0; i < cases; ++i) {
    auto opened = (*engine)->runtime().open_case(actor, "bench", {});
    if (!opened) {
      std::fprintf(stderr, "open_case: %s\n", opened.error().message.c_str());
      std::exit(2);
    }
    ids.push_back(opened->id);
    clock.advance_ms(kMinute);
  }
  return ids;
}

struct Figures {
  double startup_ms = 0;
  double wake_us = 0;
  double idle_claim_us = 0;
  double transition_mean_ms = 0;
  double transition_p99_ms = 0;
  double transitions_per_s = 0;
};

Figures measure(const Setup& s, carepath::ManualClock& clock, const std::vector<std::string>& ids) {
  Figures f;
  const auto start = Clock::now();
  auto engine = carepath::app::Engine::open(s.config, &clock);
  if (!engine || !(*engine)->start()) {
    std::fprintf(stderr, "start failed\n");
    std::exit(2);
  }
  f.startup_ms = ms_since(start);
  (*engine)->scheduler().stop();  // measured by hand below, so that it does not compete

  carepath::Store& store = (*engine)->store();
  auto t = Clock::now();
  for (int i = 0; i < kWakeQueries; ++i) {
    (void)store.next_timer_at();
  }
  f.wake_us = ms_since(t) * 1000.0 / kWakeQueries;
  t = Clock::now();
  for (int i = 0; i < kWakeQueries; ++i) {
    (void)store.claim_timers(clock.now(), 60'000, 64, "bench");  // nothing is due yet
  }
  f.idle_claim_us = ms_since(t) * 1000.0 / kWakeQueries;

  const carepath::Actor actor{"bench", {"caseworker"}};
  std::vector<double> latencies;
  latencies.reserve(kTransitions);
  t = Clock::now();
  for (int i = 0; i < kTransitions; ++i) {
    carepath::runtime::FireRequest request;
    request.event = "note";
    request.data = boost::json::object{{"n", i}};
    const auto one = Clock::now();
    auto fired =
        (*engine)->runtime().fire(actor, ids[static_cast<std::size_t>(i) % ids.size()], request);
    latencies.push_back(ms_since(one));
    if (!fired) {
      std::fprintf(stderr, "fire: %s\n", fired.error().message.c_str());
      std::exit(2);
    }
  }
  const double total = ms_since(t);
  std::sort(latencies.begin(), latencies.end());
  f.transition_mean_ms = total / kTransitions;
  f.transition_p99_ms = latencies[latencies.size() * 99 / 100];
  f.transitions_per_s = kTransitions * 1000.0 / total;
  (*engine)->stop();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? std::max(1, std::atoi(argv[1])) : 25'000;
  carepath::set_log_level(carepath::LogLevel::error);

  // A database with only the cases the transitions use, and one with `cases` cases.
  Setup empty = make_setup("empty");
  carepath::ManualClock empty_clock(kStart);
  const auto few = seed(empty, empty_clock, std::min(cases, kTransitions));

  Setup full = make_setup("full");
  carepath::ManualClock full_clock(kStart);
  const auto seed_start = Clock::now();
  const auto ids = seed(full, full_clock, cases);
  const double seed_ms = ms_since(seed_start);
  std::printf("seeded %d cases (%d pending timers) in %.1f s\n", cases, cases * 4,
              seed_ms / 1000.0);

  const Figures base = measure(empty, empty_clock, few);
  const Figures loaded = measure(full, full_clock, ids);

  // Firing: the clock moves to where the first 2,000 cases' checks, warnings and breaches are due.
  auto engine = carepath::app::Engine::open(full.config, &full_clock);
  if (!engine) {
    return 2;
  }
  full_clock.set(kStart + 30LL * 24 * 60 * kMinute + 2'000 * kMinute);
  const auto fire_start = Clock::now();
  const std::size_t fired = (*engine)->scheduler().run_due();
  const double fire_ms = ms_since(fire_start);
  auto next = (*engine)->store().next_timer_at();

  std::printf("\n%-44s %14s %14s\n", "", "small database", "full database");
  std::printf("%-44s %14d %14d\n", "pending timers", std::min(cases, kTransitions) * 4, cases * 4);
  std::printf("%-44s %14.1f %14.1f\n", "start-up: open + start (ms)", base.startup_ms,
              loaded.startup_ms);
  std::printf("%-44s %14.1f %14.1f\n", "scheduler wake-up query (us)", base.wake_us,
              loaded.wake_us);
  std::printf("%-44s %14.1f %14.1f\n", "idle claim, nothing due (us)", base.idle_claim_us,
              loaded.idle_claim_us);
  std::printf("%-44s %14.2f %14.2f\n", "durable transition, mean (ms)", base.transition_mean_ms,
              loaded.transition_mean_ms);
  std::printf("%-44s %14.2f %14.2f\n", "durable transition, p99 (ms)", base.transition_p99_ms,
              loaded.transition_p99_ms);
  std::printf("%-44s %14.0f %14.0f\n", "durable transitions per second", base.transitions_per_s,
              loaded.transitions_per_s);
  std::printf("\nfired %zu due timers in %.1f s: %.0f timers/s (each its own commit)\n", fired,
              fire_ms / 1000.0, fired * 1000.0 / std::max(fire_ms, 1.0));
  std::printf("next pending timer after firing: %s\n",
              next && *next ? carepath::format_timestamp(**next).c_str() : "none");

  // Targets: start-up stays well under a second and transitions within 25% of the baseline
  // (fsync noise on a shared disk is larger than any effect of the timers table).
  bool ok = true;
  if (loaded.startup_ms > 1'000) {
    std::printf("MISSED: start-up with %d timers took %.0f ms (target < 1000 ms)\n", cases * 4,
                loaded.startup_ms);
    ok = false;
  }
  if (loaded.transition_mean_ms > base.transition_mean_ms * 1.25 + 0.2) {
    std::printf("MISSED: transitions slowed from %.2f to %.2f ms\n", base.transition_mean_ms,
                loaded.transition_mean_ms);
    ok = false;
  }
  if (loaded.wake_us > 1'000) {
    std::printf("MISSED: the wake-up query takes %.0f us (target < 1000 us)\n", loaded.wake_us);
    ok = false;
  }
  std::printf("%s\n", ok ? "targets met" : "targets missed");
  engine->reset();
  fs::remove_all(empty.dir);
  fs::remove_all(full.dir);
  return ok ? 0 : 1;
}
