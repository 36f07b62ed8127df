// The load run of docs/performance.md: the real engine (app::Engine, the shipped workflows and
// plugins, an encrypted SQLite file with synchronous=FULL) answering over loopback, driven by an
// asynchronous Beast client at 1, 16, 64 and 256 connections.
//
//   http_bench [--dir DIR] [--seconds S] [--connections 1,16,64,256] [--cases N] [--threads N]
//              [--io-threads N] [--workloads transitions,reads,mixed] [--csv FILE]
//
// --threads and --io-threads set the engine's request threads and I/O threads (default: the
// engine's defaults, 64 and 2). --workloads runs only the named ones (the anchors always run), for
// a profile of one of them.
//
// Workloads: `transitions` (POST /v1/cases/{id}/events, term_review on an education_support case,
// a guarded transition with required fields and a sensitive field in the case), `reads`
// (GET /v1/cases/{id}), `mixed` (four reads to one transition) and the anchors:
//   - `healthz`: GET /healthz on the same server, the smallest answer the HTTP stack gives;
//   - `sqlite`: one-row transactions on a file of its own with the engine's pragmas (WAL,
//     synchronous=FULL), one after another: the single-commit rate the disk allows.
// Each figure is printed beside the ratio to its anchor, because absolute numbers on a shared
// machine drift. DIR must be on the disk that will hold the database (not a tmpfs): the default is
// ./bench-data under the current directory.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <sqlite3.h>

#include "app/engine.hpp"
#include "core/log.hpp"
#include "load_client.hpp"
#include "security/crypto.hpp"
#include "security/tokens.hpp"

namespace {

using carepath::bench::call;
using carepath::bench::drive_measured;
using carepath::bench::Figures;
using carepath::bench::NextRequest;
using carepath::bench::request_text;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::filesystem::path dir = "bench-data";
  double seconds = 5;
  std::vector<int> connections{1, 16, 64, 256};
  int cases = 2048;
  int threads = 0;     // 0: the engine's default
  int io_threads = 0;  // 0: the engine's default
  std::string csv;
  std::vector<std::string> workloads{"transitions", "reads", "mixed"};

  bool runs(std::string_view workload) const {
    return std::find(workloads.begin(), workloads.end(), workload) != workloads.end();
  }
};

// Single-row transactions, one after another, on a file of their own with the engine's pragmas.
Figures sqlite_commits(const std::filesystem::path& path, double seconds) {
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
               "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES ('a value of about the size of a history row')",
                     -1, &insert, nullptr);
  Figures figures;
  const auto started = SteadyClock::now();
  const auto until = started + std::chrono::duration_cast<SteadyClock::duration>(
                                   std::chrono::duration<double>(seconds));
  for (auto now = started; now < until; now = SteadyClock::now()) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_step(insert);
    sqlite3_reset(insert);
    const int rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    ++figures.requests;
    if (rc != SQLITE_OK) {
      ++figures.errors;
    }
    figures.latencies_us.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - now).count()));
  }
  figures.seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return figures;
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--dir" && has_value) {
      options.dir = argv[++i];
    } else if (arg == "--seconds" && has_value) {
      options.seconds = std::stod(argv[++i]);
    } else if (arg == "--cases" && has_value) {
      options.cases = std::stoi(argv[++i]);
    } else if (arg == "--threads" && has_value) {
      options.threads = std::stoi(argv[++i]);
    } else if (arg == "--io-threads" && has_value) {
      options.io_threads = std::stoi(argv[++i]);
    } else if (arg == "--csv" && has_value) {
      options.csv = argv[++i];
    } else if (arg == "--connections" && has_value) {
      options.connections.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) {
        options.connections.push_back(std::stoi(item));
      }
    } else if (arg == "--workloads" && has_value) {
      options.workloads.clear();
      std::stringstream list(argv[++i]);
      for (std::string item; std::getline(list, item, ',');) {
        if (item != "transitions" && item != "reads" && item != "mixed") {
          std::cerr << "http_bench: unknown workload '" << item
                    << "' (expected transitions, reads or mixed)\n";
          return std::nullopt;
        }
        options.workloads.push_back(item);
      }
    } else {
      std::cerr << "usage: http_bench [--dir DIR] [--seconds S] [--connections 1,16,64,256] "
                   "[--cases N] [--threads N] [--io-threads N] "
                   "[--workloads transitions,reads,mixed] [--csv FILE]\n";
      return std::nullopt;
    }
  }
  if (options.seconds <= 0 || options.cases < 1 || options.connections.empty()) {
    std::cerr << "http_bench: --seconds, --cases and --connections must be positive\n";
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
  std::filesystem::remove_all(options.dir);
  std::filesystem::create_directories(options.dir);
  carepath::set_log_level(carepath::LogLevel::warning);  // no access line per request

  carepath::app::Config config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.db = (options.dir / "carepath.db").string();
  config.master_key = (options.dir / "master.key").string();
  config.workflows = CP_SOURCE_DIR "/workflows";
  config.plugins = {CP_BINARY_DIR "/plugins"};
  config.max_connections = 1024;
  if (options.threads > 0) {
    config.threads = options.threads;
  }
  if (options.io_threads > 0) {
    config.io_threads = options.io_threads;
  }
  config.log_level = carepath::LogLevel::warning;
  if (!carepath::security::create_key_file(config.master_key)) {
    std::cerr << "http_bench: cannot create the master key in " << options.dir << "\n";
    return 1;
  }
  auto engine = carepath::app::Engine::open(config);
  if (!engine) {
    std::cerr << "http_bench: " << engine.error().message << "\n";
    return 1;
  }
  auto port_or = (*engine)->start();
  if (!port_or) {
    std::cerr << "http_bench: " << port_or.error().message << "\n";
    return 1;
  }
  const std::uint16_t port = *port_or;
  auto issued = carepath::security::issue_token(
      "bench.worker", {"outreach_worker", "education_coordinator"}, 0, {});
  if (!issued || !(*engine)->store().create_token(issued->record)) {
    std::cerr << "http_bench: cannot issue a token\n";
    return 1;
  }
  const std::string token = issued->token;

  // Cases on education_support, moved to in_school, where term_review loops (a guarded choice
  // between at_risk and in_school, with required fields). Invented values only.
  std::vector<std::string> ids(static_cast<std::size_t>(options.cases));
  std::atomic<int> next_case{0};
  std::atomic<int> setup_errors{0};
  const auto setup_started = SteadyClock::now();
  {
    std::vector<std::thread> openers;
    for (int t = 0; t < 32; ++t) {
      openers.emplace_back([&] {
        for (int i = next_case++; i < options.cases; i = next_case++) {
          const std::string open_body =
              R"({"workflow":"education_support","data":{"name":"Bench Child )" +
              std::to_string(i) +
              R"(","date_of_birth":"2014-01-01","mother_consent":true,"residence":"with_mother"}})";
          auto [status, body] = call(port, request_text("POST", "/v1/cases", token, open_body));
          if (status != 201) {
            ++setup_errors;
            continue;
          }
          const std::string id(boost::json::parse(body).at("id").as_string());
          const std::string target = "/v1/cases/" + id + "/events";
          auto enrolled =
              call(port, request_text("POST", target, token, R"({"event":"enrolled"})"));
          auto placed =
              call(port, request_text("POST", target, token,
                                      R"({"event":"placed_in_school","data":{"school":"School 1",)"
                                      R"("standard":5,"admission_date":"2025-06-01"}})"));
          if (enrolled.first != 200 || placed.first != 200) {
            ++setup_errors;
            continue;
          }
          ids[static_cast<std::size_t>(i)] = id;
        }
      });
    }
    for (auto& opener : openers) {
      opener.join();
    }
  }
  if (setup_errors > 0) {
    std::cerr << "http_bench: " << setup_errors << " cases could not be set up\n";
    return 1;
  }
  std::printf("request threads %d, I/O threads %d\n", config.threads, config.io_threads);
  std::printf("set up %d cases (each opened and moved twice) in %.1f s\n\n", options.cases,
              std::chrono::duration<double>(SteadyClock::now() - setup_started).count());

  // The requests, built once: each connection walks its own share of the cases, so that two
  // connections never change one case at once (the engine would serialise them anyway).
  std::vector<std::string> transitions;
  std::vector<std::string> reads;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    transitions.push_back(request_text("POST", "/v1/cases/" + ids[i] + "/events", token,
                                       R"({"event":"term_review","data":{"term":"2025-26 term )" +
                                           std::to_string(i % 3) + R"(","attendance_percent":)" +
                                           std::to_string(70 + i % 30) + "}}"));
    reads.push_back(request_text("GET", "/v1/cases/" + ids[i], token));
  }
  const std::string healthz = request_text("GET", "/healthz", "");
  const auto pick = [&](const std::vector<std::string>& texts, std::size_t connection,
                        std::uint64_t n, int count) -> const std::string& {
    const std::size_t share = texts.size() / static_cast<std::size_t>(count);
    return texts[connection * share + static_cast<std::size_t>(n % share)];
  };

  struct Row {
    std::string workload;
    int connections;
    double rate, p50, p99, p999;
    std::uint64_t errors;
    double anchor;
    double writer_busy;  // < 0: not measured (the SQLite anchor)
  };
  std::vector<Row> rows;
  const auto add_row = [&rows](const char* workload, int count, Figures& figures, double anchor,
                               double writer_busy) {
    rows.push_back({workload, count, figures.rate(), figures.percentile_ms(0.5),
                    figures.percentile_ms(0.99), figures.percentile_ms(0.999), figures.errors,
                    anchor, writer_busy});
  };
  const auto measure = [&](int count, const NextRequest& next) {
    return drive_measured(port, count, options.seconds, next);
  };
  auto sqlite = sqlite_commits(options.dir / "anchor.db", std::min(options.seconds, 3.0));
  const double commit_rate = sqlite.rate();
  add_row("sqlite", 1, sqlite, commit_rate, /*writer_busy=*/-1);

  for (const int count : options.connections) {
    if (static_cast<std::size_t>(count) > ids.size()) {
      std::cerr << "http_bench: " << count << " connections need at least as many cases\n";
      return 2;
    }
    auto health =
        measure(count, [&](std::size_t, std::uint64_t) -> const std::string& { return healthz; });
    const double health_rate = health.figures.rate();
    add_row("healthz", count, health.figures, health_rate, health.writer_busy);
    if (options.runs("transitions")) {
      auto writes = measure(count, [&](std::size_t c, std::uint64_t n) -> const std::string& {
        return pick(transitions, c, n, count);
      });
      add_row("transitions", count, writes.figures, commit_rate, writes.writer_busy);
    }
    if (options.runs("reads")) {
      auto gets = measure(count, [&](std::size_t c, std::uint64_t n) -> const std::string& {
        return pick(reads, c, n, count);
      });
      add_row("reads", count, gets.figures, health_rate, gets.writer_busy);
    }
    if (options.runs("mixed")) {
      auto mixed = measure(count, [&](std::size_t c, std::uint64_t n) -> const std::string& {
        return n % 5 == 4 ? pick(transitions, c, n / 5, count) : pick(reads, c, n, count);
      });
      add_row("mixed", count, mixed.figures, health_rate, mixed.writer_busy);
    }
  }

  std::printf("%-12s %5s %10s %8s %8s %9s %7s %8s %7s  %s\n", "workload", "conns", "per second",
              "p50 ms", "p99 ms", "p99.9 ms", "errors", "ratio", "writer", "anchor");
  for (const Row& row : rows) {
    const char* anchor = row.workload == "transitions" ? "single commits"
                         : row.workload == "sqlite"    ? "-"
                                                       : "healthz";
    const std::string busy =
        row.writer_busy < 0 ? "-" : std::to_string(std::lround(row.writer_busy * 100)) + "%";
    std::printf("%-12s %5d %10.0f %8.2f %8.2f %9.2f %7llu %8.2f %7s  %s\n", row.workload.c_str(),
                row.connections, row.rate, row.p50, row.p99, row.p999,
                static_cast<unsigned long long>(row.errors),
                row.anchor > 0 ? row.rate / row.anchor : 0.0, busy.c_str(), anchor);
  }
  if (!options.csv.empty()) {
    std::ofstream csv(options.csv);
    csv << "workload,connections,per_second,p50_ms,p99_ms,p999_ms,errors,anchor_per_second,"
           "writer_busy\n";
    for (const Row& row : rows) {
      csv << row.workload << ',' << row.connections << ',' << row.rate << ',' << row.p50 << ','
          << row.p99 << ',' << row.p999 << ',' << row.errors << ',' << row.anchor << ',';
      if (row.writer_busy >= 0) {
        csv << row.writer_busy;
      }
      csv << '\n';
    }
  }
  (*engine)->stop();
  std::uint64_t errors = 0;
  for (const Row& row : rows) {
    errors += row.errors;
  }
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a malformed number, a refused connection, a full disk
    std::cerr << "http_bench: " << e.what() << "\n";
    return 1;
  }
}
