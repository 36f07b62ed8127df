// How long moving running cases to a new workflow version takes (issue #6): seeds CASES cases
// (default 10,000) on version 1, each with a pending timer and a running statutory clock, then
// times a dry run and the real migration (each case its own commit, synchronous=FULL), and the
// resident memory afterwards: a run reads cases in batches and never holds them all.
// Run: build/bench/migration_bench [CASES]. Prints a table.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "app/engine.hpp"
#include "core/log.hpp"
#include "resident.hpp"
#include "security/crypto.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kVersion1 = R"(carepath: 1
workflow: bench
version: 1
roles: [caseworker]
fields:
  home: { type: string }
clocks:
  deadline: { starts: { on_enter: in_care }, due: 30d, warn_before: 1d, stops: { on_event: close } }
states:
  in_care:
    initial: true
    after:
      - { in: 90d, event: review }
    on:
      review: { to: in_care }
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

constexpr const char* kVersion2 = R"(carepath: 1
workflow: bench
version: 2
roles: [caseworker]
fields:
  placement_home: { type: string }
  track: { type: enum, values: [school, vocational], required: true }
clocks:
  deadline: { starts: { on_enter: care }, due: 30d, warn_before: 1d, stops: { on_event: close } }
states:
  care:
    initial: true
    after:
      - { in: 90d, event: review }
    on:
      review: { to: care }
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

constexpr const char* kPlan = R"(migrate: { workflow: bench, from: 1, to: 2 }
states: { in_care: care }
fields: { home: { rename: placement_home } }
set: { track: school }
)";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<carepath::app::Engine> open(const carepath::app::Config& config) {
  auto engine = carepath::app::Engine::open(config);
  if (!engine) {
    std::fprintf(stderr, "open: %s\n", engine.error().message.c_str());
    std::exit(2);
  }
  return std::move(*engine);
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? std::atoi(argv[1]) : 10'000;
  carepath::set_log_level(carepath::LogLevel::warning);
  const fs::path dir =
      fs::temp_directory_path() / ("carepath-migration-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "v1");
  fs::create_directories(dir / "v2");
  std::ofstream(dir / "v1" / "bench.yaml") << kVersion1;
  std::ofstream(dir / "v2" / "bench.yaml") << kVersion2;
  carepath::app::Config config;
  config.db = (dir / "cases.db").string();
  config.master_key = (dir / "master.key").string();
  if (!carepath::security::create_key_file(config.master_key)) {
    std::fprintf(stderr, "cannot create a master key\n");
    return 2;
  }
  config.workflows = (dir / "v1").string();
  config.timezone = "+05:30";

  const auto seeding = Clock::now();
  {
    auto engine = open(config);
    const carepath::Actor actor{"bench", {"caseworker"}};
    for (int i = 0; i < cases; ++i) {
      if (!engine->runtime().open_case(actor, "bench", {{"home", "Umang"}})) {
        std::fprintf(stderr, "open_case failed\n");
        return 2;
      }
    }
  }
  std::printf("seeded %d cases (a timer and a clock each) in %.1f s\n\n", cases,
              seconds_since(seeding));

  config.workflows = (dir / "v2").string();
  auto engine = open(config);
  auto plan = engine->read_plan(kPlan, "plan.yaml");
  if (!plan) {
    std::fprintf(stderr, "plan: %s\n", plan.error().message.c_str());
    return 2;
  }
  carepath::runtime::MigrationOptions dry;
  dry.dry_run = true;
  auto t = Clock::now();
  auto report = engine->migrate(*plan, dry);
  const double dry_s = seconds_since(t);
  if (!report || report->moved != cases) {
    std::fprintf(stderr, "dry run failed\n");
    return 2;
  }
  t = Clock::now();
  report = engine->migrate(*plan, {});
  const double real_s = seconds_since(t);
  if (!report || report->moved != cases) {
    std::fprintf(stderr, "migration failed\n");
    return 2;
  }
  std::printf("%-44s %10s %12s\n", "", "seconds", "cases/s");
  std::printf("%-44s %10.2f %12.0f\n", "dry run (reads case, timers, clocks)", dry_s,
              cases / dry_s);
  std::printf("%-44s %10.2f %12.0f\n", "migration (one commit per case)", real_s, cases / real_s);
  std::printf("\nresident memory after the run: %.1f MB\n",
              static_cast<double>(carepath::bench::resident_kb()) / 1024.0);
  engine.reset();
  fs::remove_all(dir);
  return 0;
}
