// The large-database run of issue #7: the engine serving a database of 1,000,000 cases and
// 10,000,000 history entries, beside an empty one, on the same machine in the same run.
//
//   large_bench --dir DIR [--cases N] [--events-per-case K] [--reuse] [--seconds S]
//               [--connections 1,16,64]
//
// 1. Builds DIR/large.db through the product's bulk path, `carepath import`: a JSON lines file of
//    N cases (default 1,000,000) on education_support (the workflow http_bench drives) with K
//    history entries each (default 10), imported with the engine's own code (app::import_file,
//    as the command does) under DIR/master.key, the key the server then opens it with. Prints the
//    build time and events per second. With --reuse, an existing DIR/large.db is opened instead.
//    DIR/empty.db is built the same way from a file of no cases, every run.
// 2. Measures each database in a child process of its own (this program run again with
//    --measure), so that each one's resident memory is its own: start-up (app::Engine::open and
//    start until GET /readyz answers 200), resident memory (VmRSS) after start-up and after the
//    load, then, at each connection count, GET
//    /v1/cases?workflow=education_support&state=S&limit=50 (the list by state and workflow) for a
//    common state and a rarer one, transitions and reads (the requests of http_bench, on 256 cases
//    each child opens and moves to in_school through the API). The load client runs in the child
//    too: its memory is part of the figure.
// 3. Prints each figure for both databases with the ratio, and the targets, met or missed:
//    transitions and reads within 20% of the empty database, list p99 <= 20 ms, start-up <= 2 s,
//    resident memory <= 200 MB. Measured, never asserted: exits 0 whatever the figures, 1 when a
//    step fails or a request errs.
//
// DIR must be on the disk that will hold the database (not a tmpfs). Building the default
// database takes long (bench/README.md, "large_bench"): keep DIR and pass --reuse.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/engine.hpp"
#include "app/import.hpp"
#include "core/log.hpp"
#include "import_lines.hpp"
#include "load_client.hpp"
#include "resident.hpp"
#include "security/crypto.hpp"
#include "security/tokens.hpp"

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using carepath::bench::call;
using carepath::bench::drive_measured;
using carepath::bench::ImportLine;
using carepath::bench::Measured;
using carepath::bench::request_text;

constexpr const char* kWorkflow = "education_support";
constexpr int kSetupCases = 256;  // opened through the API by each child, for the workloads
// Left in school_placement by each child, so that the list of the rarer state gives a full page
// on the empty database too.
constexpr int kWaitingCases = 64;
// The list by state and workflow: a common state (70% of the imported cases) and a rarer one.
constexpr const char* kCommonState = "in_school";
constexpr const char* kRareState = "school_placement";

struct Options {
  fs::path dir;
  std::int64_t cases = 1'000'000;
  int events_per_case = 10;
  bool reuse = false;
  double seconds = 5;
  std::vector<int> connections{1, 16, 64};
  // The child's: which database to measure and where to write the figures.
  std::string measure;
  fs::path result;
};

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

double resident_mb() {
  return static_cast<double>(carepath::bench::resident_kb()) / 1024.0;
}

carepath::app::Config config_for(const fs::path& dir, const std::string& name) {
  carepath::app::Config config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.db = (dir / (name + ".db")).string();
  config.master_key = (dir / "master.key").string();
  config.workflows = CP_SOURCE_DIR "/workflows";
  config.plugins = {CP_BINARY_DIR "/plugins"};
  config.max_connections = 1024;
  config.log_level = carepath::LogLevel::warning;
  return config;
}

// Case i of `cases`, with `k` (>= 4) history entries, on education_support: a tenth waiting for
// a school (school_placement), a fifth at risk after a poor term, the rest in school with termly
// reviews. The cases open over two and a half years from 2024-01-01, one entry a minute.
ImportLine education_case(std::int64_t i, std::int64_t cases, int k) {
  const long long t = i * 1'300'000 / std::max<std::int64_t>(cases, 1);
  const int kind = static_cast<int>(i % 10);
  const char* state = kind == 0 ? kRareState : kind <= 2 ? "at_risk" : "in_school";
  ImportLine line(kWorkflow, 1, "LB-" + std::to_string(i), state);
  line.entry(
      t, "opened",
      R"({"name":"Fake Child )" + std::to_string(i) +
          R"(","date_of_birth":"2014-01-01","mother_consent":true,"residence":"with_mother"})");
  line.entry(t + 1, "enrolled");
  if (kind == 0) {
    for (int e = 2; e < k; ++e) {
      line.entry(t + e, "updated",
                 e % 2 == 0 ? R"({"first_generation_learner":true})"
                            : R"({"residence":"night_care_centre"})");
    }
    return line;
  }
  line.entry(t + 2, "placed_in_school",
             R"({"school":"School )" + std::to_string(i % 50) +
                 R"(","standard":5,"admission_date":"2024-06-01"})");
  for (int e = 3; e < k; ++e) {
    const bool last_poor = kind <= 2 && e == k - 1;
    const std::string attendance = last_poor ? "45" : std::to_string(60 + (i + e) % 40);
    line.entry(t + e, "term_review",
               R"({"term":"term )" + std::to_string(e - 2) + R"(","attendance_percent":)" +
                   attendance + "}",
               {}, last_poor ? "at_risk" : "in_school");
  }
  return line;
}

// Builds DIR/NAME.db from `cases` generated cases through app::import_file; false on failure.
bool build_database(const Options& options, const std::string& name, std::int64_t cases) {
  const carepath::app::Config config = config_for(options.dir, name);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(config.db + suffix);
  }
  const fs::path file = options.dir / (name + ".jsonl");
  auto started = SteadyClock::now();
  const long long events = carepath::bench::write_import_file(file, cases, [&](std::int64_t i) {
    return education_case(i, cases, options.events_per_case);
  });
  std::printf("%s: generated %lld cases, %lld events (%.0f MB) in %.1f s\n", name.c_str(),
              static_cast<long long>(cases), events, static_cast<double>(fs::file_size(file)) / 1e6,
              seconds_since(started));
  std::fflush(stdout);

  auto engine = carepath::app::Engine::open(config);
  if (!engine) {
    std::fprintf(stderr, "large_bench: %s\n", engine.error().message.c_str());
    return false;
  }
  carepath::app::ImportContext context;
  context.find = [registry = &(*engine)->registry()](const std::string& workflow, int version) {
    return registry->find(workflow, version);
  };
  context.zone = (*engine)->runtime().zone();
  context.now = (*engine)->runtime().now();
  carepath::app::ImportOptions import_options;
  import_options.importer = "cli:large_bench";
  int shown = -1;  // the last tenth printed, per phase
  std::string phase;
  import_options.progress = [&](const carepath::app::ImportProgress& p) {
    if (p.total <= 0) {
      return;
    }
    if (p.phase != phase) {
      phase = std::string(p.phase);
      shown = -1;
    }
    const auto tenth = static_cast<int>(p.done * 10 / p.total);
    if (tenth != shown) {
      shown = tenth;
      std::printf("  %s %3d%% at %.0f s\n", phase.c_str(), tenth * 10, seconds_since(started));
      std::fflush(stdout);
    }
  };
  started = SteadyClock::now();
  auto report =
      carepath::app::import_file((*engine)->store(), context, file.string(), import_options);
  const double seconds = seconds_since(started);
  if (!report || report->error_count > 0 || report->events != events) {
    std::fprintf(stderr, "large_bench: import failed: %s\n",
                 !report ? report.error().message.c_str()
                         : (report->errors.empty() ? "wrong count" : report->errors[0].c_str()));
    return false;
  }
  engine->reset();
  fs::remove(file);
  std::error_code ec;
  std::printf(
      "%s: imported %lld cases, %lld events in %.1f s (check %.1f s, write %.1f s): "
      "%.0f events/s; database %.0f MB\n\n",
      name.c_str(), static_cast<long long>(report->cases), static_cast<long long>(report->events),
      seconds, report->check_seconds, report->write_seconds,
      seconds > 0 ? static_cast<double>(events) / seconds : 0.0,
      static_cast<double>(fs::file_size(config.db, ec)) / 1e6);
  std::fflush(stdout);
  return true;
}

// The child: opens and serves DIR/NAME.db, measures, writes "key value" lines to the result file.
int measure(const Options& options) {
  carepath::set_log_level(carepath::LogLevel::warning);  // no access line per request
  const carepath::app::Config config = config_for(options.dir, options.measure);
  std::map<std::string, double> figures;

  const auto started = SteadyClock::now();
  auto engine = carepath::app::Engine::open(config);
  if (!engine) {
    std::fprintf(stderr, "large_bench: %s\n", engine.error().message.c_str());
    return 1;
  }
  figures["open_s"] = seconds_since(started);
  auto port_or = (*engine)->start();
  if (!port_or) {
    std::fprintf(stderr, "large_bench: %s\n", port_or.error().message.c_str());
    return 1;
  }
  const std::uint16_t port = *port_or;
  const std::string readyz = request_text("GET", "/readyz", "");
  for (;;) {
    try {
      if (call(port, readyz).first == 200) {
        break;
      }
    } catch (const std::exception&) {  // not listening yet
    }
    if (seconds_since(started) > 600) {
      std::fprintf(stderr, "large_bench: /readyz did not answer 200 in 10 minutes\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  figures["startup_s"] = seconds_since(started);
  figures["rss_start_mb"] = resident_mb();

  auto issued = carepath::security::issue_token(
      "bench.worker", {"outreach_worker", "education_coordinator"}, 0, {});
  if (!issued || !(*engine)->store().create_token(issued->record)) {
    std::fprintf(stderr, "large_bench: cannot issue a token\n");
    return 1;
  }
  const std::string token = issued->token;

  // The workloads' cases, opened and moved to in_school as http_bench does. Invented values.
  std::vector<std::string> ids(kSetupCases);
  std::atomic<int> next_case{0};
  std::atomic<int> setup_errors{0};
  {
    constexpr int kOpeners = 8;
    std::vector<std::thread> openers;
    openers.reserve(kOpeners);
    for (int t = 0; t < kOpeners; ++t) {
      openers.emplace_back([&] {
        for (int i = next_case++; i < kSetupCases + kWaitingCases; i = next_case++) {
          try {
            const std::string open_body =
                R"({"workflow":"education_support","data":{"name":"Bench Child )" +
                std::to_string(i) +
                R"(","date_of_birth":"2014-01-01","mother_consent":true,"residence":"with_mother"}})";
            auto opened = call(port, request_text("POST", "/v1/cases", token, open_body));
            if (opened.first != 201) {
              ++setup_errors;
              continue;
            }
            const boost::json::value json = boost::json::parse(opened.second);
            const std::string id(json.at("id").as_string());
            const std::string target = "/v1/cases/" + id + "/events";
            auto enrolled =
                call(port, request_text("POST", target, token, R"({"event":"enrolled"})"));
            if (i >= kSetupCases) {
              setup_errors += enrolled.first == 200 ? 0 : 1;
              continue;
            }
            auto placed = call(
                port, request_text("POST", target, token,
                                   R"({"event":"placed_in_school","data":{"school":"School 1",)"
                                   R"("standard":5,"admission_date":"2025-06-01"}})"));
            if (enrolled.first != 200 || placed.first != 200) {
              ++setup_errors;
              continue;
            }
            ids[static_cast<std::size_t>(i)] = id;
          } catch (const std::exception&) {
            ++setup_errors;
          }
        }
      });
    }
    for (auto& opener : openers) {
      opener.join();
    }
  }
  if (setup_errors > 0) {
    std::fprintf(stderr, "large_bench: %d cases could not be set up\n", setup_errors.load());
    return 1;
  }

  std::vector<std::string> transitions;
  std::vector<std::string> reads;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    transitions.push_back(request_text("POST", "/v1/cases/" + ids[i] + "/events", token,
                                       R"({"event":"term_review","data":{"term":"2025-26 term )" +
                                           std::to_string(i % 3) + R"(","attendance_percent":)" +
                                           std::to_string(70 + i % 30) + "}}"));
    reads.push_back(request_text("GET", "/v1/cases/" + ids[i], token));
  }
  const std::string list_common = request_text(
      "GET",
      std::string("/v1/cases?workflow=") + kWorkflow + "&state=" + kCommonState + "&limit=50",
      token);
  const std::string list_rare = request_text(
      "GET", std::string("/v1/cases?workflow=") + kWorkflow + "&state=" + kRareState + "&limit=50",
      token);
  const auto pick = [](const std::vector<std::string>& texts, std::size_t connection,
                       std::uint64_t n, int count) -> const std::string& {
    const std::size_t share = texts.size() / static_cast<std::size_t>(count);
    return texts[connection * share + static_cast<std::size_t>(n % share)];
  };
  double errors = 0;
  const auto record = [&](const std::string& key, Measured m) {
    figures[key + "_rate"] = m.figures.rate();
    figures[key + "_p50"] = m.figures.percentile_ms(0.5);
    figures[key + "_p99"] = m.figures.percentile_ms(0.99);
    figures[key + "_writer"] = m.writer_busy;
    errors += static_cast<double>(m.figures.errors);
  };
  for (const int count : options.connections) {
    const std::string c = std::to_string(count);
    record("list_" + std::string(kCommonState) + "_" + c,
           drive_measured(
               port, count, options.seconds,
               [&](std::size_t, std::uint64_t) -> const std::string& { return list_common; }));
    record("list_" + std::string(kRareState) + "_" + c,
           drive_measured(
               port, count, options.seconds,
               [&](std::size_t, std::uint64_t) -> const std::string& { return list_rare; }));
    record("transitions_" + c,
           drive_measured(port, count, options.seconds,
                          [&](std::size_t conn, std::uint64_t n) -> const std::string& {
                            return pick(transitions, conn, n, count);
                          }));
    record("reads_" + c,
           drive_measured(port, count, options.seconds,
                          [&](std::size_t conn, std::uint64_t n) -> const std::string& {
                            return pick(reads, conn, n, count);
                          }));
  }
  figures["rss_load_mb"] = resident_mb();
  figures["errors"] = errors;
  if (auto gauges = (*engine)->store().gauges()) {
    double cases = 0;
    for (const auto& count : gauges->cases) {
      cases += static_cast<double>(count.count);
    }
    figures["cases"] = cases;
  }
  (*engine)->stop();

  std::ofstream out(options.result);
  for (const auto& [key, value] : figures) {
    out << key << ' ' << value << '\n';
  }
  return out ? 0 : 1;
}

// Runs this program again with --measure NAME; its figures, or nothing when it failed.
std::optional<std::map<std::string, double>> run_child(const Options& options,
                                                       const std::string& name) {
  const fs::path result = options.dir / (name + ".result");
  fs::remove(result);
  std::string connections;
  for (const int c : options.connections) {
    connections += (connections.empty() ? "" : ",") + std::to_string(c);
  }
  const std::string seconds = std::to_string(options.seconds);
  const std::string dir = options.dir.string();
  const std::string result_path = result.string();
  std::vector<std::string> args{"large_bench", "--dir",     dir,        "--measure",
                                name,          "--seconds", seconds,    "--connections",
                                connections,   "--result",  result_path};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid < 0) {
    return std::nullopt;
  }
  if (pid == 0) {
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "large_bench: the %s run failed\n", name.c_str());
    return std::nullopt;
  }
  std::map<std::string, double> figures;
  std::ifstream in(result);
  std::string key;
  double value = 0;
  while (in >> key >> value) {
    figures[key] = value;
  }
  return figures;
}

// One row: the figure on both databases, their ratio, and the target when it has one.
void row(const std::string& label, double large, double empty, const std::string& target = {},
         std::optional<bool> met = std::nullopt) {
  std::printf("%-40s %10.2f %10.2f %7.2f  %-22s %s\n", label.c_str(), large, empty,
              empty > 0 ? large / empty : 0.0, target.c_str(),
              met ? (*met ? "met" : "MISSED") : "");
}

void print_table(const Options& options, std::map<std::string, double>& large,
                 std::map<std::string, double>& empty) {
  std::printf("%-40s %10s %10s %7s  %-22s %s\n", "figure", "large", "empty", "ratio", "target", "");
  row("start-up, s (open + start to /readyz)", large["startup_s"], empty["startup_s"], "<= 2 s",
      large["startup_s"] <= 2.0);
  row("  of which Engine::open, s", large["open_s"], empty["open_s"]);
  row("resident memory after start-up, MB", large["rss_start_mb"], empty["rss_start_mb"],
      "<= 200 MB", large["rss_start_mb"] <= 200.0);
  row("resident memory after the load, MB", large["rss_load_mb"], empty["rss_load_mb"], "<= 200 MB",
      large["rss_load_mb"] <= 200.0);
  for (const int count : options.connections) {
    const std::string c = std::to_string(count);
    for (const char* state : {kCommonState, kRareState}) {
      const std::string key = "list_" + std::string(state) + "_" + c;
      const std::string label = "list " + std::string(state) + ", " + c + " conns";
      row(label + ", p50 ms", large[key + "_p50"], empty[key + "_p50"]);
      row(label + ", p99 ms", large[key + "_p99"], empty[key + "_p99"], "<= 20 ms",
          large[key + "_p99"] <= 20.0);
      row(label + ", per s", large[key + "_rate"], empty[key + "_rate"]);
      row(label + ", writer busy", large[key + "_writer"], empty[key + "_writer"]);
    }
    for (const char* workload : {"transitions", "reads"}) {
      const std::string key = std::string(workload) + "_" + c;
      const std::string label = std::string(workload) + ", " + c + " conns";
      row(label + ", per s", large[key + "_rate"], empty[key + "_rate"], ">= 0.80 of empty",
          empty[key + "_rate"] > 0 && large[key + "_rate"] >= 0.8 * empty[key + "_rate"]);
      row(label + ", p50 ms", large[key + "_p50"], empty[key + "_p50"]);
      row(label + ", p99 ms", large[key + "_p99"], empty[key + "_p99"], "<= 1.20 of empty",
          large[key + "_p99"] <= 1.2 * empty[key + "_p99"]);
      row(label + ", writer busy", large[key + "_writer"], empty[key + "_writer"]);
    }
  }
  std::printf("\nerrors: %.0f on the large database, %.0f on the empty one\n", large["errors"],
              empty["errors"]);
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--dir" && has_value) {
      options.dir = argv[++i];
    } else if (arg == "--cases" && has_value) {
      options.cases = std::stoll(argv[++i]);
    } else if (arg == "--events-per-case" && has_value) {
      options.events_per_case = std::stoi(argv[++i]);
    } else if (arg == "--reuse") {
      options.reuse = true;
    } else if (arg == "--seconds" && has_value) {
      options.seconds = std::stod(argv[++i]);
    } else if (arg == "--connections" && has_value) {
      options.connections.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) {
        options.connections.push_back(std::stoi(item));
      }
    } else if (arg == "--measure" && has_value) {
      options.measure = argv[++i];
    } else if (arg == "--result" && has_value) {
      options.result = argv[++i];
    } else {
      std::cerr << "usage: large_bench --dir DIR [--cases N] [--events-per-case K] [--reuse] "
                   "[--seconds S] [--connections 1,16,64]\n";
      return std::nullopt;
    }
  }
  const bool connections_ok = !options.connections.empty() &&
                              std::all_of(options.connections.begin(), options.connections.end(),
                                          [](int c) { return c >= 1 && c <= kSetupCases; });
  if (options.dir.empty() || options.cases < 0 || options.events_per_case < 4 ||
      options.seconds <= 0 || !connections_ok) {
    std::cerr << "large_bench: --dir is required; --cases must be >= 0, --events-per-case >= 4, "
                 "--seconds positive, --connections between 1 and "
              << kSetupCases << "\n";
    return std::nullopt;
  }
  return options;
}

int run(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed) {
    return 2;
  }
  const Options options = *parsed;
  if (!options.measure.empty()) {
    return measure(options);
  }
  carepath::set_log_level(carepath::LogLevel::warning);
  fs::create_directories(options.dir);
  const fs::path key = options.dir / "master.key";
  if (options.reuse) {
    if (!fs::exists(options.dir / "large.db") || !fs::exists(key)) {
      std::fprintf(stderr, "large_bench: --reuse: no %s with its master.key\n",
                   (options.dir / "large.db").c_str());
      return 2;
    }
    std::printf("large: reusing %s (%.0f MB)\n\n", (options.dir / "large.db").c_str(),
                static_cast<double>(fs::file_size(options.dir / "large.db")) / 1e6);
  } else {
    fs::remove(key);
    if (!carepath::security::create_key_file(key.string())) {
      std::fprintf(stderr, "large_bench: cannot create the master key in %s\n",
                   options.dir.c_str());
      return 1;
    }
    const auto started = SteadyClock::now();
    if (!build_database(options, "large", options.cases)) {
      return 1;
    }
    std::printf("large: built in %.0f s\n\n", seconds_since(started));
  }
  if (!build_database(options, "empty", 0)) {
    return 1;
  }
  // The large database first, each in a fresh process.
  auto large = run_child(options, "large");
  auto empty = run_child(options, "empty");
  if (!large || !empty) {
    return 1;
  }
  std::printf(
      "\n%.0f cases (large%s) against %.0f (empty) at the end; in each, %d cases opened "
      "through the API and moved to %s for the workloads and %d left in %s; %.1f s per figure. "
      "Resident memory is the process's: the engine and the load client.\n\n",
      (*large)["cases"], options.reuse ? ", reused" : "", (*empty)["cases"], kSetupCases,
      kCommonState, kWaitingCases, kRareState, options.seconds);
  print_table(options, *large, *empty);
  return (*large)["errors"] + (*empty)["errors"] == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a malformed number, a refused connection, a full disk
    std::cerr << "large_bench: " << e.what() << "\n";
    return 1;
  }
}
