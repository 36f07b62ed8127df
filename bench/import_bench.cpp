// How fast `carepath import` writes cases with their histories (issue #7: >= 50,000 events/s):
// generates CASES cases (default 100,000) of about ten events each (one million events) in a
// JSON lines file, with identifying and sensitive fields to seal and a timer to schedule, then
// imports it as the command does (every line checked, then written 1,000 cases per transaction,
// synchronous=FULL) and prints events per second, with the check and write phases apart, the
// file's size and the resident memory afterwards (nothing holds all the cases).
// Run: build/bench/import_bench [CASES]. Exits 1 when below 50,000 events/s.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

#include "app/engine.hpp"
#include "app/import.hpp"
#include "core/log.hpp"
#include "import_lines.hpp"
#include "resident.hpp"
#include "security/crypto.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kTarget = 50'000;

constexpr const char* kWorkflow = R"(carepath: 1
workflow: bench
version: 1
roles: [caseworker]
fields:
  name: { type: string, sensitivity: identifying, visible_to: [caseworker] }
  age: { type: integer, min: 0, max: 25 }
  home: { type: enum, values: [north, south, east], placement: true }
  notes: { type: text, sensitivity: sensitive, visible_to: [caseworker] }
  visits: { type: integer, min: 0 }
states:
  intake:
    initial: true
    on:
      admit: { to: in_care, roles: [caseworker] }
  in_care:
    after:
      - { in: 90d, event: review }
    on:
      review: { to: in_care }
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";

// User and system CPU seconds of this process so far: on a machine shared with other work the
// wall clock counts their time too.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Cases open seven minutes apart, over at most a million minutes (about 23 months from
// 2024-01-01), so that every entry is in the past however many cases are asked for.
constexpr long long kSpanMinutes = 1'000'000;

// Case i: opened, admitted, seven updates, and closed for every other case: ten events, or nine.
long long write_file(const fs::path& path, int cases) {
  const char* homes[] = {"north", "south", "east"};
  return carepath::bench::write_import_file(path, cases, [&](std::int64_t i) {
    const long long t = (i * 7) % kSpanMinutes;
    carepath::bench::ImportLine line("bench", 1, "BENCH-" + std::to_string(i),
                                     i % 2 == 0 ? "closed" : "in_care");
    line.entry(t, "opened",
               R"({"name":"Fake Person )" + std::to_string(i) + R"(","age":)" +
                   std::to_string(i % 18) + "}");
    line.entry(t + 1, "admit", std::string(R"({"home":")") + homes[i % 3] + R"("})",
               "fake admission comment");
    for (int v = 1; v <= 7; ++v) {
      line.entry(t + 1 + v, "updated",
                 R"({"visits":)" + std::to_string(v) + R"(,"notes":"fake visit note )" +
                     std::to_string(v) + R"("})");
    }
    if (i % 2 == 0) {
      line.entry(t + 10, "close");
    }
    return line;
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? std::atoi(argv[1]) : 100'000;
  carepath::set_log_level(carepath::LogLevel::warning);
  const fs::path dir =
      fs::temp_directory_path() / ("carepath-import-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "workflows");
  std::ofstream(dir / "workflows" / "bench.yaml") << kWorkflow;
  carepath::app::Config config;
  config.db = (dir / "cases.db").string();
  config.master_key = (dir / "master.key").string();
  if (!carepath::security::create_key_file(config.master_key)) {
    std::fprintf(stderr, "cannot create a master key\n");
    return 2;
  }
  config.workflows = (dir / "workflows").string();
  config.timezone = "+05:30";

  const fs::path file = dir / "cases.jsonl";
  auto t = Clock::now();
  const long long events = write_file(file, cases);
  std::printf("generated %d cases, %lld events (%.0f MB) in %.1f s\n\n", cases, events,
              static_cast<double>(fs::file_size(file)) / 1e6, seconds_since(t));

  auto engine = carepath::app::Engine::open(config);
  if (!engine) {
    std::fprintf(stderr, "open: %s\n", engine.error().message.c_str());
    return 2;
  }
  carepath::app::ImportContext context;
  context.find = [registry = &(*engine)->registry()](const std::string& name, int version) {
    return registry->find(name, version);
  };
  context.zone = (*engine)->runtime().zone();
  context.now = (*engine)->runtime().now();
  carepath::app::ImportOptions options;
  options.importer = "bench";
  if (const char* batch = std::getenv("IMPORT_BATCH")) {
    options.batch_size = static_cast<std::size_t>(std::atoi(batch));
  }
  t = Clock::now();
  const double cpu_start = cpu_seconds();
  auto report = carepath::app::import_file((*engine)->store(), context, file.string(), options);
  const double total_s = seconds_since(t);
  const double cpu_s = cpu_seconds() - cpu_start;
  if (!report || report->error_count > 0 || report->events != events) {
    std::fprintf(stderr, "import failed: %s\n",
                 !report ? report.error().message.c_str()
                         : (report->errors.empty() ? "wrong count" : report->errors[0].c_str()));
    return 2;
  }
  const auto per_second_of = static_cast<double>(events);
  std::printf("%-40s %10s %14s\n", "", "seconds", "events/s");
  std::printf("%-40s %10.2f %14.0f\n", "check (parse, validate, replay)", report->check_seconds,
              per_second_of / report->check_seconds);
  std::printf("%-40s %10.2f %14.0f\n", "write (parse, seal, insert, commit)", report->write_seconds,
              per_second_of / report->write_seconds);
  std::printf("%-40s %10.2f %14.0f\n", "import, end to end", total_s, per_second_of / total_s);
  std::printf("%-40s %10.2f %14.0f\n", "the same in CPU time (user + system)", cpu_s,
              per_second_of / cpu_s);
  std::printf("\ntarget %.0f events/s: %s\n", kTarget,
              per_second_of / total_s >= kTarget ? "met" : "MISSED");
  std::printf("resident memory after the run: %.1f MB\n",
              static_cast<double>(carepath::bench::resident_kb()) / 1024.0);
  std::error_code ec;
  std::printf("database: %.0f MB (and %.0f MB of write-ahead log)\n",
              static_cast<double>(fs::file_size(config.db, ec)) / 1e6,
              static_cast<double>(fs::file_size(config.db + "-wal", ec)) / 1e6);
  engine->reset();
  fs::remove_all(dir);
  return per_second_of / total_s >= kTarget ? 0 : 1;
}
