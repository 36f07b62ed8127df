// How long the reports of docs/reports.md take on a large network's database (issue #9: "under a
// second on a million cases"). Builds a database of CASES cases (default 1,000,000) with the
// histories such a network records, then computes each report the way GET /v1/reports/{name}
// does (api::build_report over the Store, then the JSON answer) several times and prints the
// median and the slowest run per report against the target. Exits 1 when a median misses it.
//
// The network: CASES cases opened evenly over the 8 years before 2026-11-15 (125,000 a year at
// a million: some 10,400 new cases a month, a national network's intake), each following the
// life of a girl in care — intake, production before the committee, hearings, placement in one
// of 40 homes, 3 to 18 months in care, then restoration and two years of quarterly follow-up
// visits, ageing out, transfer, repatriation, running away (some found again), rarely death.
// That makes about 14 history entries per case and some 150,000 a month, a third of them
// changes of state; cases still running at the end are open (about a quarter).
//
// Run: build/bench/reports_bench [CASES] [--runs N] [--db PATH [--keep] [--reuse]]
//   --db PATH  build the database at PATH (default: a temporary directory, removed after)
//   --keep     leave the database in place afterwards
//   --reuse    measure an existing database at PATH (opened, and so migrated, by SqliteStore)
//   --runs N   runs per report (default 5)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <sqlite3.h>
#include <unistd.h>

#include "api/reports.hpp"
#include "core/log.hpp"
#include "core/report.hpp"
#include "core/timezone.hpp"
#include "store/sqlite_store.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using carepath::Timestamp;

constexpr double kTargetSeconds = 1.0;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr Timestamp kNow = 1'794'700'800'000;  // 2026-11-15T00:00:00Z
constexpr int kYears = 8;
constexpr int kHomes = 40;
constexpr int kCaseworkers = 400;

// A workflow of the reference workflow's shape, with its outcome words.
std::string workflow_source() {
  std::string homes;
  for (int i = 1; i <= kHomes; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%shome_%02d", i == 1 ? "" : ", ", i);
    homes += name;
  }
  return R"(carepath: 1
workflow: care
version: 1
roles: [caseworker, supervisor]
fields:
  home: { type: enum, values: [)" +
         homes + R"(], placement: true }
  age: { type: integer, min: 0, max: 25 }
states:
  intake:
    initial: true
    on:
      update: { to: intake }
      produced_before_cwc: { to: assessment }
      died: { to: died, roles: [supervisor], counts_as: died }
  assessment:
    on:
      hearing: { to: assessment }
      placed: { to: in_care }
      died: { to: died, roles: [supervisor], counts_as: died }
  in_care:
    on:
      hearing: { to: in_care }
      plan_restoration: { to: reintegration }
      aged_out: { to: follow_up, counts_as: aged_out }
      transferred: { to: transferred, counts_as: transferred }
      repatriated: { to: repatriated, counts_as: repatriated }
      went_missing: { to: missing, counts_as: ran_away }
      died: { to: died, roles: [supervisor], counts_as: died }
  reintegration:
    on:
      restored: { to: follow_up, counts_as: restored }
      went_missing: { to: missing, counts_as: ran_away }
      died: { to: died, roles: [supervisor], counts_as: died }
  follow_up:
    on:
      visit: { to: follow_up }
      aftercare_completed: { to: aftercare_complete }
      died: { to: died, roles: [supervisor], counts_as: died }
  missing:
    on:
      found: { to: in_care }
      closed_missing: { to: closed_missing }
      died: { to: died, roles: [supervisor], counts_as: died }
  aftercare_complete: { final: true, outcome: restored }
  transferred: { final: true, outcome: transferred }
  repatriated: { final: true, outcome: repatriated }
  closed_missing: { final: true, outcome: ran_away }
  died: { final: true, outcome: died }
)";
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "reports_bench: %s\n", what.c_str());
  std::exit(2);
}

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message != nullptr ? message : "?";
    sqlite3_free(message);
    die(std::string("sqlite: ") + text + " in " + sql);
  }
}

sqlite3_stmt* prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    die(std::string("prepare: ") + sqlite3_errmsg(db));
  }
  return statement;
}

void step_done(sqlite3* db, sqlite3_stmt* statement) {
  if (sqlite3_step(statement) != SQLITE_DONE) {
    die(std::string("insert: ") + sqlite3_errmsg(db));
  }
  sqlite3_reset(statement);
  sqlite3_clear_bindings(statement);
}

void bind_text(sqlite3_stmt* s, int i, const std::string& text) {
  sqlite3_bind_text(s, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}
void bind_text(sqlite3_stmt* s, int i, const char* text) {
  if (text == nullptr) {
    sqlite3_bind_null(s, i);
  } else {
    sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
  }
}

bool has_column(sqlite3* db, const char* table, const char* column) {
  sqlite3_stmt* s = prepare(db, std::string("SELECT 1 FROM pragma_table_info('") + table +
                                    "') WHERE name = '" + column + "'");
  const bool found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return found;
}

struct Entry {
  Timestamp at = 0;
  const char* event = nullptr;
  const char* from = nullptr;
  const char* to = nullptr;
  const char* payload = "{}";
  const char* changed = "[]";
};

bool is_final(const char* state) {
  for (const char* f :
       {"aftercare_complete", "transferred", "repatriated", "closed_missing", "died"}) {
    if (std::strcmp(state, f) == 0) {
      return true;
    }
  }
  return false;
}

// One case's history, cut at kNow.
class Life {
 public:
  Life(std::mt19937_64& rng, Timestamp opened) : rng_(rng), t_(opened) {}

  std::vector<Entry> entries;
  int home = 0;

  void live(const char* placed_payload) {
    if (!add("opened", nullptr, "intake", R"({"age":15})", R"(["age"])")) {
      return;
    }
    if (!after(1, 3, "update", "intake", "intake", "{}", "[]") ||
        !after(3, 10, "produced_before_cwc", "intake", "assessment", "{}", "[]") ||
        !after(10, 20, "hearing", "assessment", "assessment", "{}", "[]") ||
        !after(5, 25, "placed", "assessment", "in_care", placed_payload, R"(["home"])")) {
      return;
    }
    bool found_once = false;
    for (;;) {
      // 3 to 18 months in care, a hearing every 90 days.
      const Timestamp stay = days(90, 540);
      for (Timestamp h = 90 * kDayMs; h < stay; h += 90 * kDayMs) {
        if (!add_at(t_ + h, "hearing", "in_care", "in_care")) {
          return;
        }
      }
      t_ += stay;
      const double r = uniform();
      if (r < 0.60) {
        if (!add("plan_restoration", "in_care", "reintegration") ||
            !after(20, 60, "restored", "reintegration", "follow_up", "{}", "[]")) {
          return;
        }
        break;
      }
      if (r < 0.70) {
        if (!add("aged_out", "in_care", "follow_up")) {
          return;
        }
        break;
      }
      if (r < 0.80) {
        add("transferred", "in_care", "transferred");
        return;
      }
      if (r < 0.87) {
        add("repatriated", "in_care", "repatriated");
        return;
      }
      if (r < 0.995) {
        if (!add("went_missing", "in_care", "missing")) {
          return;
        }
        if (!found_once && uniform() < 0.4) {
          found_once = true;
          if (!after(10, 60, "found", "missing", "in_care", "{}", "[]")) {
            return;
          }
          continue;
        }
        after(120, 120, "closed_missing", "missing", "closed_missing", "{}", "[]");
        return;
      }
      add("died", "in_care", "died", R"({"date_of_death":"2020-01-01"})", R"(["date_of_death"])");
      return;
    }
    // Two years of quarterly follow-up visits, then the case closes.
    for (int visit = 0; visit < 8; ++visit) {
      if (!after(
              80, 100, "visit", "follow_up", "follow_up",
              R"({"visit_notes":{"enc":"bm90IGEgcmVhbCBub3RlOyBhIGJlbmNobWFyayBmaWxsZXIgb2YgYSB0eXBpY2FsIHNpemU="}})",
              R"(["visit_notes"])")) {
        return;
      }
    }
    after(10, 30, "aftercare_completed", "follow_up", "aftercare_complete", "{}", "[]");
  }

 private:
  std::mt19937_64& rng_;
  Timestamp t_;

  double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  Timestamp days(int low, int high) {
    return std::uniform_int_distribution<Timestamp>(low * kDayMs, high * kDayMs)(rng_);
  }
  bool add_at(Timestamp at, const char* event, const char* from, const char* to,
              const char* payload = "{}", const char* changed = "[]") {
    if (at >= kNow) {
      return false;
    }
    entries.push_back(Entry{at, event, from, to, payload, changed});
    return true;
  }
  bool add(const char* event, const char* from, const char* to, const char* payload = "{}",
           const char* changed = "[]") {
    return add_at(t_, event, from, to, payload, changed);
  }
  bool after(int low, int high, const char* event, const char* from, const char* to,
             const char* payload, const char* changed) {
    t_ += days(low, high);
    return add(event, from, to, payload, changed);
  }
};

struct Built {
  std::int64_t cases = 0;
  std::int64_t open = 0;
  std::int64_t entries = 0;
};

// Cases are written in the order of their (random) ids, as the primary keys want them; their
// opening times are random, so the history's time index fills as it would over the years.
Built build(const std::string& path, std::int64_t cases) {
  {
    auto store = carepath::store::SqliteStore::open(path);
    if (!store) {
      die("open: " + store.error().message);
    }
    carepath::WorkflowSource source;
    source.name = "care";
    source.version = 1;
    source.source = workflow_source();
    source.sha256 = "bench";
    source.loaded_at = kNow - static_cast<Timestamp>(kYears) * 365 * kDayMs;
    if (auto put = (*store)->put_workflow(source); !put) {
      die("put_workflow: " + put.error().message);
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    die("sqlite3_open");
  }
  exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2000000;");

  // Columns schema version 11 copies from the case when the store inserts an entry (a database
  // of version 10 has none of them).
  const bool v11 = has_column(db, "events", "entered_at");
  std::string event_sql =
      "INSERT INTO events (case_id, seq, at, actor, event, from_state, to_state, version, "
      "changed_json, comment, payload_json, trigger_json";
  event_sql += v11 ? ", workflow, workflow_version, placement, entered_at" : "";
  event_sql += ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10, NULL";
  event_sql += v11 ? ", 'care', 1, ?12, ?11" : "";
  event_sql += ")";
  sqlite3_stmt* insert_case = prepare(
      db,
      "INSERT INTO cases (id, code, workflow, workflow_version, state, data_json, version, "
      "created_at, updated_at, data_key, assignee, placement, consents_json, closed_at, "
      "erased_at) VALUES (?1, ?2, 'care', 1, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, '[]', ?10, NULL)");
  sqlite3_stmt* insert_event = prepare(db, event_sql);

  std::mt19937_64 rng(20261115);
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(cases));
  for (std::int64_t i = 0; i < cases; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    ids.emplace_back(id);
  }
  std::sort(ids.begin(), ids.end());

  // A case's data as the store keeps it: sensitive fields sealed (about a kilobyte of
  // ciphertext in base64), the rest in clear. Obviously fake.
  const std::string sealed(900, 'Q');
  std::string placed_payloads[kHomes];
  for (int h = 0; h < kHomes; ++h) {
    char text[64];
    std::snprintf(text, sizeof text, R"({"home":"home_%02d"})", h + 1);
    placed_payloads[h] = text;
  }

  Built built;
  const Timestamp span = static_cast<Timestamp>(kYears) * 365 * kDayMs;
  exec(db, "BEGIN");
  for (std::int64_t i = 0; i < cases; ++i) {
    const Timestamp opened = kNow - std::uniform_int_distribution<Timestamp>(1, span)(rng);
    const int home = static_cast<int>(rng() % kHomes);
    const int caseworker = static_cast<int>(rng() % kCaseworkers) + 1;
    Life life(rng, opened);
    life.live(placed_payloads[home].c_str());
    const auto& entries = life.entries;
    const Entry& last = entries.back();
    const bool placed = std::any_of(entries.begin(), entries.end(), [](const Entry& e) {
      return std::strcmp(e.event, "placed") == 0;
    });
    char actor[16];
    std::snprintf(actor, sizeof actor, "cw%03d", caseworker);
    char code[24];
    std::snprintf(code, sizeof code, "CARE-%07lld", static_cast<long long>(i) + 1);
    std::string data =
        R"({"name":{"enc":")" + sealed + R"("},"age":15,"assigned_to":")" + actor + "\"";
    if (placed) {
      data += R"(,"home":"home_)" + std::string(placed_payloads[home].c_str() + 14, 2) + "\"";
    }
    data += "}";
    const bool closed = is_final(last.to);

    bind_text(insert_case, 1, ids[static_cast<std::size_t>(i)]);
    bind_text(insert_case, 2, std::string(code));
    bind_text(insert_case, 3, last.to);
    bind_text(insert_case, 4, data);
    sqlite3_bind_int64(insert_case, 5, static_cast<sqlite3_int64>(entries.size()));
    sqlite3_bind_int64(insert_case, 6, opened);
    sqlite3_bind_int64(insert_case, 7, last.at);
    bind_text(insert_case, 8, std::string(actor));
    if (placed) {
      bind_text(insert_case, 9, std::string(placed_payloads[home].c_str() + 9, 7));
    }
    if (closed) {
      sqlite3_bind_int64(insert_case, 10, last.at);
    }
    step_done(db, insert_case);

    Timestamp entered = 0;
    bool home_set = false;
    for (std::size_t seq = 0; seq < entries.size(); ++seq) {
      const Entry& e = entries[seq];
      const bool moved = e.from == nullptr || std::strcmp(e.from, e.to) != 0;
      bind_text(insert_event, 1, ids[static_cast<std::size_t>(i)]);
      sqlite3_bind_int64(insert_event, 2, static_cast<sqlite3_int64>(seq) + 1);
      sqlite3_bind_int64(insert_event, 3, e.at);
      bind_text(insert_event, 4, std::string(actor));
      bind_text(insert_event, 5, e.event);
      bind_text(insert_event, 6, e.from);
      bind_text(insert_event, 7, e.to);
      sqlite3_bind_int64(insert_event, 8, static_cast<sqlite3_int64>(seq) + 1);
      bind_text(insert_event, 9, e.changed);
      bind_text(insert_event, 10, e.payload);
      home_set = home_set || std::strcmp(e.event, "placed") == 0;
      if (v11 && moved && e.from != nullptr) {
        sqlite3_bind_int64(insert_event, 11, entered);
      }
      if (v11 && home_set) {
        bind_text(insert_event, 12, std::string(placed_payloads[home].c_str() + 9, 7));
      }
      step_done(db, insert_event);
      if (moved) {
        entered = e.at;
      }
    }
    built.entries += static_cast<std::int64_t>(entries.size());
    built.open += closed ? 0 : 1;
    ++built.cases;
    if ((i + 1) % 100'000 == 0) {
      exec(db, "COMMIT; BEGIN");
      std::fprintf(stderr, "  %lld cases\r", static_cast<long long>(i) + 1);
    }
  }
  exec(db, "COMMIT");
  sqlite3_finalize(insert_case);
  sqlite3_finalize(insert_event);
  sqlite3_close(db);
  return built;
}

std::int64_t count(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    die("sqlite3_open");
  }
  sqlite3_stmt* s = prepare(db, sql);
  std::int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

struct Runs {
  std::vector<double> seconds;
  double median() const {
    auto sorted = seconds;
    std::sort(sorted.begin(), sorted.end());
    return sorted[(sorted.size() - 1) / 2];
  }
  double max() const { return *std::max_element(seconds.begin(), seconds.end()); }
};

}  // namespace

int main(int argc, char** argv) {
  std::int64_t cases = 1'000'000;
  int runs = 5;
  std::string db_path;
  bool keep = false;
  bool reuse = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--db" && i + 1 < argc) {
      db_path = argv[++i];
    } else if (arg == "--keep") {
      keep = true;
    } else if (arg == "--reuse") {
      reuse = true;
    } else if (!arg.empty() && arg[0] != '-') {
      cases = std::atoll(arg.c_str());
    } else {
      std::fprintf(stderr,
                   "usage: reports_bench [CASES] [--runs N] [--db PATH [--keep] [--reuse]]\n");
      return 2;
    }
  }
  if (cases < 1) {
    die("CASES must be at least 1");
  }
  carepath::set_log_level(carepath::LogLevel::warning);

  fs::path temporary;
  if (db_path.empty()) {
    if (reuse) {
      die("--reuse needs --db PATH");
    }
    const char* tmp = std::getenv("TMPDIR");
    temporary = fs::path(tmp != nullptr ? tmp : "/tmp") /
                ("carepath-reports-bench-" + std::to_string(::getpid()));
    fs::create_directories(temporary);
    db_path = (temporary / "carepath.db").string();
  } else if (!reuse && fs::exists(db_path)) {
    die(db_path + " exists; remove it or pass --reuse");
  } else if (reuse && !fs::exists(db_path)) {
    die("no database at " + db_path);
  }

  if (!reuse) {
    const auto start = Clock::now();
    const Built built = build(db_path, cases);
    std::printf("built %lld cases (%lld open) with %lld history entries in %.1f s\n",
                static_cast<long long>(built.cases), static_cast<long long>(built.open),
                static_cast<long long>(built.entries), seconds_since(start));
  }

  const auto opening = Clock::now();
  auto opened = carepath::store::SqliteStore::open(db_path);
  if (!opened) {
    die("open: " + opened.error().message);
  }
  std::printf("opened the database in %.1f s (schema version %d; a migration happens here)\n",
              seconds_since(opening), carepath::store::SqliteStore::kSchemaVersion);
  carepath::store::SqliteStore& store = **opened;
  // make bench and the service run with huge pages for malloc (docs/operations.md); say which.
  const char* tunables = std::getenv("GLIBC_TUNABLES");  // NOLINT(concurrency-mt-unsafe)
  std::printf("GLIBC_TUNABLES=%s\n", tunables != nullptr ? tunables : "(unset)");

  const auto zone = carepath::TimeZone::with_offset("Asia/Kolkata", 19'800);
  const auto day = [&](const char* date, bool end) {
    return *carepath::parse_report_instant(date, zone, end);
  };
  const Timestamp month_from = day("2026-10-01", false);
  const Timestamp month_to = day("2026-10-31", true);
  const Timestamp quarter_from = day("2026-07-01", false);
  const Timestamp quarter_to = day("2026-09-30", true);
  std::printf(
      "database: %.2f GB; %lld cases, %lld open; %lld history entries, %lld in October 2026 "
      "(%lld of them changes of state), %lld in 2026-Q3\n\n",
      static_cast<double>(fs::file_size(db_path)) / 1e9,
      static_cast<long long>(count(db_path, "SELECT COUNT(*) FROM cases")),
      static_cast<long long>(count(db_path, "SELECT COUNT(*) FROM cases WHERE closed_at IS NULL")),
      static_cast<long long>(count(db_path, "SELECT COUNT(*) FROM events")),
      static_cast<long long>(
          count(db_path, "SELECT COUNT(*) FROM events WHERE at >= " + std::to_string(month_from) +
                             " AND at < " + std::to_string(month_to))),
      static_cast<long long>(
          count(db_path, "SELECT COUNT(*) FROM events WHERE at >= " + std::to_string(month_from) +
                             " AND at < " + std::to_string(month_to) +
                             " AND from_state IS NOT to_state")),
      static_cast<long long>(
          count(db_path, "SELECT COUNT(*) FROM events WHERE at >= " + std::to_string(quarter_from) +
                             " AND at < " + std::to_string(quarter_to))));

  struct Case {
    const char* name;
    carepath::api::ReportRequest request;
  };
  using carepath::api::ReportKind;
  std::vector<Case> reports;
  reports.push_back({"caseload", {ReportKind::caseload}});
  reports.push_back({"flow, October 2026", {ReportKind::flow, {}, month_from, month_to}});
  reports.push_back({"flow, 2026-Q3", {ReportKind::flow, {}, quarter_from, quarter_to}});
  reports.push_back({"outcomes, every closed case", {ReportKind::outcomes}});
  reports.push_back({"outcomes, 2026-Q3", {ReportKind::outcomes, {}, quarter_from, quarter_to}});
  reports.push_back({"cwc-quarterly 2026-Q3", {ReportKind::cwc_quarterly, {}, {}, {}, "2026-Q3"}});
  reports.push_back(
      {"aftercare-list 2026-H1", {ReportKind::aftercare_list, {}, {}, {}, "2026-H1"}});

  std::printf("%-30s %8s %9s %9s %10s %10s  %s\n", "report", "rows", "median s", "max s", "query s",
              "JSON s", "target");
  bool missed = false;
  for (const auto& report : reports) {
    Runs total;
    Runs built_only;
    std::size_t rows = 0;
    for (int run = 0; run < runs; ++run) {
      const auto start = Clock::now();
      auto table = carepath::api::build_report(store, report.request, zone, kNow);
      if (!table) {
        die(std::string(report.name) + ": " + table.error().message);
      }
      const double built_seconds = seconds_since(start);
      const std::string json = carepath::report_to_json(*table);
      total.seconds.push_back(seconds_since(start));
      built_only.seconds.push_back(built_seconds);
      rows = table->rows.size();
    }
    const bool ok = total.median() < kTargetSeconds;
    missed = missed || !ok;
    std::printf("%-30s %8zu %9.3f %9.3f %10.3f %10.3f  %s\n", report.name, rows, total.median(),
                total.max(), built_only.median(), total.median() - built_only.median(),
                ok ? "< 1 s" : "MISSED");
  }

  // The aftercare list's store query alone, without the report's assembly and its answer.
  {
    carepath::LeftCareQuery query;
    query.workflow = "care";
    query.events = {{"restored", "reintegration"}, {"aged_out", "in_care"}};
    auto period = carepath::half_year_period("2026-H1", zone);
    query.since = period->from;
    query.until = period->to;
    Runs alone;
    std::size_t rows = 0;
    for (int run = 0; run < runs; ++run) {
      const auto start = Clock::now();
      auto records = store.report_left_care(query);
      if (!records) {
        die("report_left_care: " + records.error().message);
      }
      alone.seconds.push_back(seconds_since(start));
      rows = records->size();
    }
    std::printf("%-30s %8zu %9.3f %9.3f\n", "  its store query alone", rows, alone.median(),
                alone.max());
  }
  std::printf("\n(%d runs each; a report misses the target when its median reaches %.0f s)\n", runs,
              kTargetSeconds);

  opened->reset();
  if (!temporary.empty() && !keep) {
    fs::remove_all(temporary);
  }
  return missed ? 1 : 0;
}
