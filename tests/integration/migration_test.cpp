// Migrating running cases to a new workflow version on a real SQLite file: the dry run's counts,
// a real migration with its history entries, timers and clocks, a case that cannot move left
// untouched, 10,000 cases interrupted and resumed, POST /v1/admin/migrations, and the
// `carepath migrate` command (killed mid-run and run again).
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/engine.hpp"
#include "core/time.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/keys.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr Timestamp kStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kDay = 86'400'000;

std::string plan_text() {
  return test::read_file(test::source_path("tests/migration/plan.yaml"));
}

class Migration : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "v1");
    fs::create_directories(dir_ / "v2");
    fs::copy_file(test::source_path("tests/migration/v1/home.yaml"), dir_ / "v1/home.yaml");
    fs::copy_file(test::source_path("tests/migration/v2/home.yaml"), dir_ / "v2/home.yaml");
    config_.host = "127.0.0.1";
    config_.port = test::listen_port();  // through Prism in the openapi.prism run
    config_.db = (dir_ / "carepath.db").string();
    config_.master_key = test::master_key_file();
    config_.workflows = (dir_ / "v1").string();
    config_.timezone = "UTC";
  }

  // Opens the engine on `workflows` ("v1" or "v2"); version 1 stays known from the database.
  void open(const std::string& workflows) {
    engine_.reset();
    config_.workflows = (dir_ / workflows).string();
    auto engine = app::Engine::open(config_, &clock_);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
  }

  Actor caseworker() const { return {"asha", {"caseworker"}}; }

  std::string open_case(const boost::json::object& data, const std::vector<std::string>& events) {
    auto record = engine_->runtime().open_case(caseworker(), "home", data);
    EXPECT_TRUE(record) << record.error().message;
    if (!record) {
      return {};
    }
    for (const auto& event : events) {
      runtime::FireRequest fire;
      fire.event = event;
      auto fired = engine_->runtime().fire(caseworker(), record->id, fire);
      EXPECT_TRUE(fired) << event << ": " << fired.error().message;
    }
    return record->id;
  }

  CaseRecord get(const std::string& id) {
    auto record = engine_->store().get_case(id);
    EXPECT_TRUE(record) << record.error().message;
    return record ? *record : CaseRecord{};
  }

  std::vector<HistoryEntry> history(const std::string& id) {
    auto page = engine_->store().history(id, 500, std::nullopt);
    EXPECT_TRUE(page) << page.error().message;
    return page ? page->items : std::vector<HistoryEntry>{};
  }

  std::vector<TimerRecord> pending_timers(const std::string& id) {
    auto timers = engine_->store().timers(id);
    EXPECT_TRUE(timers);
    std::vector<TimerRecord> out;
    for (auto& t : *timers) {
      if (t.status == "pending") {
        out.push_back(t);
      }
    }
    return out;
  }

  MigrationPlan plan(std::vector<std::string>* warnings = nullptr) {
    auto plan = engine_->read_plan(plan_text(), "plan.yaml", warnings);
    EXPECT_TRUE(plan) << plan.error().message;
    return plan ? *plan : MigrationPlan{};
  }

  // The standard mix: 2 in intake, 3 in care, 2 on medical hold, 1 on hold (no mapping),
  // 1 in care aged 22 (version 2 caps age at 18). Ids by kind.
  struct Mix {
    std::vector<std::string> intake, in_care, medical, on_hold, too_old;
  };
  Mix open_mix() {
    Mix mix;
    for (int i = 0; i < 2; ++i) {
      mix.intake.push_back(open_case({{"name", "Child I" + std::to_string(i)}, {"age", 12}}, {}));
    }
    for (int i = 0; i < 3; ++i) {
      mix.in_care.push_back(open_case(
          {{"name", "Child C" + std::to_string(i)}, {"home", "Umang"}, {"age", 14}}, {"admit"}));
    }
    for (int i = 0; i < 2; ++i) {
      mix.medical.push_back(
          open_case({{"name", "Child M" + std::to_string(i)}, {"age", 9}}, {"refer_medical"}));
    }
    mix.on_hold.push_back(open_case({{"name", "Child H"}, {"age", 10}}, {"hold"}));
    mix.too_old.push_back(open_case({{"name", "Child O"}, {"age", 22}}, {"admit"}));
    return mix;
  }

  test::TempDir dir_;
  app::Config config_;
  ManualClock clock_{kStart};
  std::unique_ptr<app::Engine> engine_;
};

TEST_F(Migration, PlanIsCheckedAgainstBothVersionsWithPositions) {
  open("v1");
  open("v2");
  std::vector<std::string> warnings;
  plan(&warnings);
  // on_hold has no counterpart in version 2: the plan loads, with a warning naming the state.
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_NE(warnings[0].find("'on_hold' cannot move"), std::string::npos) << warnings[0];

  const std::string broken =
      "migrate: { workflow: home, from: 1, to: 2 }\n"
      "states: { in_car: care_and_education, medical_hold: asessment }\n"
      "fields: { home: { rename: placement } }\n"
      "set: { education_track: university }\n"
      "sets: {}\n";
  auto refused = engine_->read_plan(broken, "broken.yaml");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().type, "invalid-migration-plan");
  const auto errors = refused.error().details.at("errors").as_array();
  std::vector<std::string> lines;
  for (const auto& e : errors) {
    lines.emplace_back(e.as_string().c_str());
  }
  ASSERT_EQ(lines.size(), 5U) << refused.error().message;
  EXPECT_EQ(lines[0].rfind("broken.yaml:2:11: error: version 1 has no state 'in_car'", 0), 0U)
      << lines[0];
  EXPECT_NE(lines[0].find("did you mean 'in_care'?"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1].rfind("broken.yaml:2:53: error: version 2 has no state 'asessment'", 0), 0U)
      << lines[1];
  EXPECT_EQ(lines[2].rfind("broken.yaml:3:27: error: version 2 has no field 'placement'", 0), 0U)
      << lines[2];
  EXPECT_EQ(lines[3].rfind("broken.yaml:4:25: error: the value for 'education_track' is not valid "
                           "in version 2: ",
                           0),
            0U)
      << lines[3];
  EXPECT_EQ(lines[4].rfind("broken.yaml:5:1: error: unknown key 'sets'", 0), 0U) << lines[4];

  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"migrate: { workflow: nursery, from: 1, to: 2 }\n", "unknown workflow 'nursery'"},
           {"migrate: { workflow: home, from: 1, to: 3 }\n", "has no version 3"},
           {"migrate: { workflow: home, from: 2, to: 2 }\n", "the same version"},
           {"migrate: { workflow: home, from: one, to: 2 }\n", "expected a version number"},
           {"states: {}\n", "has no 'migrate'"},
           {"- a list\n", "expected a migration plan"},
           {"migrate: [\n", "invalid YAML"},
           {"migrate: { workflow: home, from: 1, to: 2 }\nfields: { home: { drop: yes } }\n",
            "expected drop: true"},
           {"migrate: { workflow: home, from: 1, to: 2 }\nfields: { home: {} }\n",
            "exactly one of 'rename' or 'drop'"},
           {"migrate: { workflow: home, from: 1, to: 2 }\nset: { age: 40 }\n",
            "'age' is not valid in version 2: value must be at most 18"},
       }) {
    auto r = engine_->read_plan(text, "p.yaml");
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << text << "\n"
                                                                   << r.error().message;
  }
}

TEST_F(Migration, DryRunCountsEachStateAndChangesNothing) {
  open("v1");
  const Mix mix = open_mix();
  open("v2");
  runtime::MigrationOptions options;
  options.dry_run = true;
  auto report = engine_->migrate(plan(), options);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->dry_run);
  EXPECT_EQ(report->total, 9);
  EXPECT_EQ(report->moved, 7);
  EXPECT_EQ(report->failed, 2);
  const auto state = [&](const std::string& name) {
    for (const auto& s : report->states) {
      if (s.from == name) {
        return s;
      }
    }
    ADD_FAILURE() << "no state " << name;
    return runtime::MigrationStateCount{};
  };
  EXPECT_EQ(state("intake").cases, 2);
  EXPECT_EQ(state("intake").to, "intake");
  EXPECT_EQ(state("in_care").cases, 4);
  EXPECT_EQ(state("in_care").moved, 3);
  EXPECT_EQ(state("in_care").failed, 1);
  EXPECT_EQ(state("in_care").to, "care_and_education");
  EXPECT_EQ(state("medical_hold").moved, 2);
  EXPECT_EQ(state("medical_hold").to, "assessment");
  EXPECT_EQ(state("on_hold").failed, 1);
  EXPECT_EQ(state("on_hold").to, std::nullopt);
  EXPECT_EQ(state("closed").cases, 0);

  ASSERT_EQ(report->failures.size(), 2U);
  std::map<std::string, std::vector<std::string>> reasons;
  for (const auto& f : report->failures) {
    reasons[f.case_id] = f.reasons;
  }
  ASSERT_EQ(reasons[mix.on_hold[0]].size(), 1U);
  EXPECT_NE(reasons[mix.on_hold[0]][0].find("state 'on_hold' has no mapping"), std::string::npos);
  ASSERT_EQ(reasons[mix.too_old[0]].size(), 1U);
  EXPECT_EQ(reasons[mix.too_old[0]][0],
            "field 'age' is not valid in version 2: value must be at most 18");

  // The medical hold's weekly check and the old review clock would go.
  ASSERT_EQ(report->dropped_timers.size(), 1U);
  EXPECT_EQ(report->dropped_timers[0].name, "medical_hold/every/0");
  EXPECT_EQ(report->dropped_timers[0].cases, 2);
  ASSERT_EQ(report->dropped_clocks.size(), 1U);
  EXPECT_EQ(report->dropped_clocks[0].name, "old_review");
  EXPECT_EQ(report->dropped_clocks[0].cases, 3);

  // Nothing changed: every case is on version 1 with its history as it was.
  for (const auto& id : mix.in_care) {
    const CaseRecord record = get(id);
    EXPECT_EQ(record.workflow_version, 1);
    EXPECT_EQ(record.state, "in_care");
    EXPECT_EQ(history(id).back().event, "admit");
  }
  // The JSON report has every key the API documents.
  const auto json = runtime::to_json(*report).as_object();
  for (const char* key :
       {"plan", "workflow", "from_version", "to_version", "dry_run", "resumed", "interrupted",
        "total", "moved", "failed", "states", "failures", "failures_truncated", "dropped"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json.at("plan"), "home-1-to-2");
  // Reasons never carry field values (the names are identifying).
  EXPECT_EQ(boost::json::serialize(json).find("Child"), std::string::npos);
}

TEST_F(Migration, MovesCasesWithHistoryTimersAndClocks) {
  open("v1");
  const Mix mix = open_mix();
  const std::string care = mix.in_care[0];
  const auto review_before = pending_timers(care);
  ASSERT_EQ(review_before.size(), 2U);  // the 30-day review and the old review clock's breach
  clock_.advance_ms(3 * kDay);
  open("v2");
  auto report = engine_->migrate(plan(), {});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->moved, 7);
  EXPECT_EQ(report->failed, 2);
  EXPECT_FALSE(report->resumed);

  const CaseRecord moved = get(care);
  EXPECT_EQ(moved.workflow_version, 2);
  EXPECT_EQ(moved.state, "care_and_education");
  EXPECT_EQ(moved.data.at("placement_home"), "Umang");
  EXPECT_FALSE(moved.data.contains("home"));
  EXPECT_EQ(moved.data.at("education_track"), "school");
  EXPECT_EQ(moved.data.at("name"), "Child C0");

  const auto entries = history(care);
  const HistoryEntry& last = entries.back();
  EXPECT_EQ(last.event, "migrated");
  EXPECT_EQ(last.from, "in_care");
  EXPECT_EQ(last.to, "care_and_education");
  EXPECT_EQ(last.version, moved.version);
  EXPECT_EQ(last.actor, "system");
  EXPECT_EQ(last.trigger.at("migration"), "home-1-to-2");
  EXPECT_EQ(last.trigger.at("from_version"), 1);
  EXPECT_EQ(last.trigger.at("to_version"), 2);
  EXPECT_EQ(last.payload.at("home"), nullptr);
  EXPECT_EQ(last.payload.at("placement_home"), "Umang");
  EXPECT_EQ(std::count_if(entries.begin(), entries.end(),
                          [](const HistoryEntry& e) { return e.event == "migrated"; }),
            1);

  // The 30-day review carried over under its new name with the same due time; the old review
  // clock is stopped and its breach timer gone.
  const auto timers = pending_timers(care);
  ASSERT_EQ(timers.size(), 1U);
  EXPECT_EQ(timers[0].name, "care_and_education/after/0");
  EXPECT_EQ(timers[0].due_at, kStart + 30 * kDay);
  EXPECT_EQ(timers[0].event, "review_due");
  auto clocks = engine_->store().clocks(care);
  ASSERT_TRUE(clocks);
  for (const auto& c : *clocks) {
    if (c.name == "old_review") {
      EXPECT_EQ(c.stopped_at, kStart + 3 * kDay);
    }
  }

  // A medical hold case lands in assessment, without the weekly check; its production clock
  // (never stopped: it was not admitted) carries over with its breach timer.
  const std::string medical = mix.medical[0];
  EXPECT_EQ(get(medical).state, "assessment");
  const auto medical_timers = pending_timers(medical);
  ASSERT_EQ(medical_timers.size(), 1U);
  EXPECT_EQ(medical_timers[0].name, "production");
  // Intake keeps its production clock (carried: same name), now stopped by `assess`.
  const std::string intake = mix.intake[0];
  const auto intake_timers = pending_timers(intake);
  ASSERT_EQ(intake_timers.size(), 1U);
  EXPECT_EQ(intake_timers[0].kind, "clock");
  EXPECT_EQ(intake_timers[0].due_at, kStart + kDay);

  // Cases that could not move are untouched.
  for (const auto& id : {mix.on_hold[0], mix.too_old[0]}) {
    const CaseRecord stuck = get(id);
    EXPECT_EQ(stuck.workflow_version, 1);
    EXPECT_NE(history(id).back().event, "migrated");
  }

  // The moved cases run on version 2 now.
  runtime::FireRequest assess;
  assess.event = "assess";
  auto fired = engine_->runtime().fire(caseworker(), intake, assess);
  ASSERT_TRUE(fired) << fired.error().message;
  EXPECT_EQ(fired->record.state, "assessment");
  runtime::FireRequest admit;
  admit.event = "admit";
  auto refused = engine_->runtime().fire(caseworker(), medical, admit);
  ASSERT_FALSE(refused);

  // Running the plan again finds only the two that could not move.
  auto again = engine_->migrate(plan(), {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->total, 2);
  EXPECT_EQ(again->moved, 0);
  EXPECT_EQ(again->failed, 2);
}

TEST_F(Migration, TenThousandCasesInterruptedAndResumed) {
  open("v1");
  constexpr int kCases = 10'000;
  for (int i = 0; i < kCases; ++i) {
    auto record = engine_->runtime().open_case(caseworker(), "home",
                                               {{"home", i % 2 == 0 ? "Umang" : "Udaan"}});
    ASSERT_TRUE(record) << record.error().message;
  }
  open("v2");
  std::atomic<bool> stop{false};
  std::vector<runtime::MigrationProgress> seen;
  runtime::MigrationOptions options;
  options.batch_size = 250;
  options.stop = &stop;
  options.progress = [&](const runtime::MigrationProgress& p) {
    seen.push_back(p);
    if (p.done >= 4'000) {
      stop = true;
    }
  };
  auto first = engine_->migrate(plan(), options);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->interrupted);
  EXPECT_EQ(first->total, kCases);
  EXPECT_EQ(first->moved, 4'000);
  ASSERT_EQ(seen.size(), 16U);  // one report per batch of 250
  EXPECT_EQ(seen.back().done, 4'000);
  EXPECT_EQ(seen.back().total, kCases);

  stop = false;
  seen.clear();
  options.progress = [&](const runtime::MigrationProgress& p) { seen.push_back(p); };
  auto second = engine_->migrate(plan(), options);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->resumed);
  EXPECT_FALSE(second->interrupted);
  EXPECT_EQ(second->total, kCases - 4'000);
  EXPECT_EQ(second->moved, kCases - 4'000);
  EXPECT_EQ(second->failed, 0);

  CaseQuery left;
  left.workflow = "home";
  left.workflow_version = 1;
  auto none = engine_->store().list_cases(left);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->items.empty());
  // Every case moved exactly once.
  CaseQuery moved;
  moved.workflow = "home";
  moved.workflow_version = 2;
  moved.limit = 500;
  std::size_t count = 0;
  for (;;) {
    auto page = engine_->store().list_cases(moved);
    ASSERT_TRUE(page);
    for (const auto& record : page->items) {
      ++count;
      EXPECT_EQ(record.data.at("education_track"), "school");
      if (count % 997 == 0) {
        const auto entries = history(record.id);
        EXPECT_EQ(std::count_if(entries.begin(), entries.end(),
                                [](const HistoryEntry& e) { return e.event == "migrated"; }),
                  1);
      }
    }
    if (!page->next_cursor) {
      break;
    }
    moved.cursor = page->next_cursor;
  }
  EXPECT_EQ(count, static_cast<std::size_t>(kCases));
}

TEST_F(Migration, AdminMigratesOverHttp) {
  open("v1");
  const Mix mix = open_mix();
  open("v2");
  auto port = engine_->start();
  ASSERT_TRUE(port) << port.error().message;
  const auto token = [&](const std::string& user, std::vector<std::string> roles) {
    auto issued = security::issue_token(user, std::move(roles), 0);
    EXPECT_TRUE(issued && engine_->store().create_token(issued->record));
    return issued->token;
  };
  const std::string admin = token("priya.admin", {"admin"});
  const std::string caseworker = token("asha.caseworker", {"caseworker"});
  const auto post = [&](const std::string& target, const std::string& bearer,
                        const std::string& body, const std::string& type) {
    Headers headers{{"Authorization", "Bearer " + bearer}};
    if (!type.empty()) {
      headers.emplace_back("Content-Type", type);
    }
    return test::http_request(*port, "POST", target, body, headers);
  };

  auto r = post("/v1/admin/migrations?dry_run=true", caseworker, plan_text(), "application/yaml");
  EXPECT_EQ(r.status, 403) << r.body;
  r = post("/v1/admin/migrations", admin, plan_text(), "text/plain");
  EXPECT_EQ(r.status, 415) << r.body;
  r = post("/v1/admin/migrations?dry_run=maybe", admin, plan_text(), "application/yaml");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.json().at("type"), "/problems/invalid-params");
  r = post("/v1/admin/migrations", admin, "", "application/yaml");
  EXPECT_EQ(r.status, 400) << r.body;
  r = post("/v1/admin/migrations", admin, "migrate: { workflow: home, from: 1, to: 9 }\n",
           "application/yaml");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  EXPECT_EQ(r.json().at("type"), "/problems/invalid-migration-plan");
  EXPECT_EQ(r.json().at("errors").as_array().at(0),
            "plan:1:41: error: workflow 'home' has no version 9; load it first (add the file to "
            "the workflows directory)");
  r = test::http_request(*port, "GET", "/v1/admin/migrations", {},
                         {{"Authorization", "Bearer " + admin}});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "POST");

  r = post("/v1/admin/migrations?dry_run=true", admin, plan_text(), "application/yaml");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("dry_run"), true);
  EXPECT_EQ(r.json().at("moved"), 7);
  EXPECT_EQ(get(mix.in_care[0]).workflow_version, 1);

  // The same plan as JSON, for real.
  const std::string json_plan = R"({"migrate": {"workflow": "home", "from": 1, "to": 2},
    "states": {"in_care": "care_and_education", "medical_hold": "assessment"},
    "fields": {"home": {"rename": "placement_home"}}, "set": {"education_track": "school"}})";
  r = post("/v1/admin/migrations", admin, json_plan, "application/json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("dry_run"), false);
  EXPECT_EQ(r.json().at("moved"), 7);
  EXPECT_EQ(r.json().at("failed"), 2);
  EXPECT_EQ(r.json().at("failures").as_array().size(), 2U);
  const CaseRecord moved = get(mix.in_care[0]);
  EXPECT_EQ(moved.workflow_version, 2);
  EXPECT_EQ(history(mix.in_care[0]).back().actor, "priya.admin");

  // Version 2's required field: a new case without it is refused, naming it.
  r = post("/v1/cases", caseworker, R"({"workflow": "home", "data": {"name": "New Child"}})",
           "application/json");
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.json().at("type"), "/problems/invalid-fields");
  EXPECT_EQ(r.json().at("invalid_fields").as_array().at(0).at("field"), "education_track");
  EXPECT_EQ(r.body.find("New Child"), std::string::npos);

  // The moved case answers with its new state and version over the API too.
  r = test::http_request(*port, "GET", "/v1/cases/" + mix.in_care[0], {},
                         {{"Authorization", "Bearer " + caseworker}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("state"), "care_and_education");
  engine_->stop();
}

TEST_F(Migration, CommandDryRunThenKilledMidRunAndResumed) {
  open("v1");
  const Mix mix = open_mix();
  for (int i = 0; i < 3'000; ++i) {
    ASSERT_TRUE(engine_->runtime().open_case(caseworker(), "home", {{"home", "Umang"}}));
  }
  engine_.reset();
  const fs::path plan_file = dir_ / "home-1-to-2.yaml";
  {
    std::ofstream out(plan_file);
    out << plan_text();
  }
  const std::vector<std::string> base{
      "migrate",     plan_file.string(),     "--db",       config_.db,
      "--workflows", (dir_ / "v2").string(), "--timezone", "UTC"};
  // A mistyped database is an error, not an empty database with nothing to move.
  const fs::path missing = dir_ / "typo.db";
  const auto no_db = test::run_carepath(
      {"migrate", plan_file.string(), "--db", missing.string(), "--dry-run"}, dir_);
  EXPECT_EQ(no_db.exit_code, 1);
  EXPECT_NE(no_db.err.find("there is no database at"), std::string::npos) << no_db.err;
  EXPECT_FALSE(fs::exists(missing));
  // A broken plan: its errors with positions, exit 1.
  const fs::path broken = dir_ / "broken.yaml";
  {
    std::ofstream out(broken);
    out << "migrate: { workflow: home, from: 1, to: 2 }\nstates: { in_car: care_and_education }\n";
  }
  auto broken_args = base;
  broken_args[1] = broken.string();
  const auto refused = test::run_carepath(broken_args, dir_);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find(broken.string() + ":2:11: error: version 1 has no state 'in_car'"),
            std::string::npos)
      << refused.err;

  auto args = base;
  args.push_back("--dry-run");
  const auto dry = test::run_carepath(args, dir_);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("in_care -> care_and_education: 4 cases, 3 would move, 1 cannot"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("on_hold -> (no state): 1 cases, 0 would move, 1 cannot"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("would drop timers medical_hold/every/0 of 2 cases"), std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("total: 3,009 cases on version 1; 3,007 would move, 2 cannot move. "
                         "Nothing was changed (dry run)."),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.err.find("warning: cases in state 'on_hold' cannot move"), std::string::npos)
      << dry.err;

  // The real run, killed once some cases have moved; each moved case is whole.
  const std::string& key = test::master_key_file();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<std::string> argv_storage{test::carepath_binary()};
    argv_storage.insert(argv_storage.end(), base.begin(), base.end());
    argv_storage.emplace_back("--batch-size");
    argv_storage.emplace_back("50");
    std::vector<char*> argv;
    for (auto& a : argv_storage) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    ::setenv("CAREPATH_MASTER_KEY_FILE", key.c_str(), 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto store = store::SqliteStore::open(config_.db);
  ASSERT_TRUE(store);
  CaseQuery moved_query;
  moved_query.workflow = "home";
  moved_query.workflow_version = 2;
  moved_query.limit = 500;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::size_t moved_before_kill = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto page = (*store)->list_cases(moved_query);
    ASSERT_TRUE(page);
    if (page->items.size() >= 100) {
      moved_before_kill = page->items.size();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_GE(moved_before_kill, 100U) << "the migration did not get going";

  const auto resumed = test::run_carepath(base, dir_);
  EXPECT_EQ(resumed.exit_code, 4) << resumed.err;  // two cases cannot move
  EXPECT_NE(resumed.out.find("(resumed an unfinished run)"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("2 cannot move"), std::string::npos) << resumed.out;

  open("v2");
  CaseQuery left;
  left.workflow = "home";
  left.workflow_version = 1;
  auto stuck = engine_->store().list_cases(left);
  ASSERT_TRUE(stuck);
  std::set<std::string> stuck_ids;
  for (const auto& record : stuck->items) {
    stuck_ids.insert(record.id);
  }
  EXPECT_EQ(stuck_ids, (std::set<std::string>{mix.on_hold[0], mix.too_old[0]}));
  for (const auto& id : mix.in_care) {
    const auto entries = history(id);
    EXPECT_EQ(std::count_if(entries.begin(), entries.end(),
                            [](const HistoryEntry& e) { return e.event == "migrated"; }),
              1);
    EXPECT_EQ(entries.back().actor.rfind("cli:", 0), 0U);
  }
}

// `carepath migrate` run beside a server that has not read version 2 yet: the server answers
// the moved cases with 503 and a hint until its workflows are reloaded, then serves them.
TEST_F(Migration, ServerPicksUpTheNewVersionOnReloadAfterTheCommandMigrates) {
  open("v1");
  const Mix mix = open_mix();
  auto port = engine_->start();
  ASSERT_TRUE(port) << port.error().message;
  auto issued = security::issue_token("priya.admin", {"admin", "caseworker"}, 0);
  ASSERT_TRUE(issued && engine_->store().create_token(issued->record));
  const Headers auth{{"Authorization", "Bearer " + issued->token}};
  const fs::path plan_file = dir_ / "plan.yaml";
  {
    std::ofstream out(plan_file);
    out << plan_text();
  }
  const auto ran = test::run_carepath({"migrate", plan_file.string(), "--db", config_.db,
                                       "--workflows", (dir_ / "v2").string(), "--timezone", "UTC"},
                                      dir_);
  EXPECT_EQ(ran.exit_code, 4) << ran.err;  // two cases cannot move

  const std::string target = "/v1/cases/" + mix.in_care[0];
  auto r = test::http_request(*port, "GET", target, {}, auth);
  ASSERT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.json().at("type"), "/problems/workflow-version-not-loaded");
  EXPECT_NE(r.json().at("detail").as_string().find("/v1/admin/workflows/reload"),
            std::string::npos);

  r = test::http_request(*port, "POST", "/v1/admin/workflows/reload", {}, auth);
  ASSERT_EQ(r.status, 200) << r.body;
  r = test::http_request(*port, "GET", target, {}, auth);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("state"), "care_and_education");
  engine_->stop();
}

// The plan shipped in migrations/ against the aftercare workflow's versions 1 and 2 as they were
// shipped (tests/migration): every case moves by name, and the clocks version 2 adds do not start
// for it.
TEST_F(Migration, ShippedAftercarePlanMovesEveryCase) {
  fs::create_directories(dir_ / "aftercare1");
  fs::create_directories(dir_ / "aftercare2");
  fs::copy_file(test::source_path("tests/migration/aftercare-v1.yaml"),
                dir_ / "aftercare1/aftercare.yaml");
  fs::copy_file(test::source_path("tests/migration/aftercare-v2.yaml"),
                dir_ / "aftercare2/aftercare.yaml");
  config_.plugins = {(fs::path(CP_BINARY_DIR) / "plugins").string()};
  open("aftercare1");
  const Actor worker{"asha", {"caseworker"}};
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    auto record = engine_->runtime().open_case(worker, "aftercare", {{"home", "umang"}});
    ASSERT_TRUE(record) << record.error().message;
    ids.push_back(record->id);
  }
  runtime::FireRequest produced;
  produced.event = "produced_before_cwc";
  produced.data = {{"cwc_order_no", "CWC/KOL/2026/17"}, {"age", 15}};
  auto fired = engine_->runtime().fire(worker, ids[0], produced);
  ASSERT_TRUE(fired) << fired.error().message;
  const std::string moved_state = fired->record.state;
  open("aftercare2");

  std::vector<std::string> warnings;
  auto plan =
      engine_->read_plan(test::read_file(test::source_path("migrations/aftercare-1-to-2.yaml")),
                         "migrations/aftercare-1-to-2.yaml", &warnings);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(plan->name, "aftercare-1-to-2");
  auto report = engine_->migrate(*plan, {});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->total, 4);
  EXPECT_EQ(report->moved, 3);
  EXPECT_TRUE(report->dropped_timers.empty());
  EXPECT_TRUE(report->dropped_clocks.empty());
  // The produced case has a legal-aid referral in the outbox, which belongs to version 1: it
  // waits, untouched, until the step has run.
  ASSERT_EQ(report->failed, 1);
  ASSERT_EQ(report->failures.size(), 1U);
  EXPECT_EQ(report->failures[0].case_id, ids[0]);
  ASSERT_EQ(report->failures[0].reasons.size(), 1U);
  EXPECT_NE(report->failures[0].reasons[0].find("unfinished"), std::string::npos);
  EXPECT_EQ(get(ids[0]).workflow_version, 1);
  EXPECT_EQ(get(ids[0]).state, moved_state);
  for (std::size_t i = 1; i < ids.size(); ++i) {
    const std::string& id = ids[i];
    const CaseRecord record = get(id);
    EXPECT_EQ(record.workflow_version, 2);
    EXPECT_EQ(record.data.at("home"), "umang");
    auto clocks = engine_->store().clocks(id);
    ASSERT_TRUE(clocks);
    EXPECT_TRUE(clocks->empty()) << "a migration started clock " << clocks->front().name;
  }
}

// A database holding aftercare cases on version 2, stored with version 2's text as shipped, starts
// with the shipped workflows (version 3 beside it; the same text changed under version 2 was
// refused), and `carepath migrate` with the shipped plan moves its cases onto version 3: the dry
// run changes nothing, the real run moves every case with its data and its running clock.
TEST_F(Migration, ShippedAftercare2To3PlanMovesVersion2CasesWithTheCommand) {
  fs::create_directories(dir_ / "aftercare2");
  fs::copy_file(test::source_path("tests/migration/aftercare-v2.yaml"),
                dir_ / "aftercare2/aftercare.yaml");
  const fs::path shipped = dir_ / "shipped";
  fs::copy(test::source_path("workflows"), shipped, fs::copy_options::recursive);
  const std::string plugins = (fs::path(CP_BINARY_DIR) / "plugins").string();
  config_.plugins = {plugins};
  open("aftercare2");
  const Actor worker{"asha", {"caseworker"}};
  const Actor supervisor{"meera", {"supervisor"}};
  std::vector<std::string> ids;
  for (const char* home : {"umang", "umeed", "udaan"}) {
    auto record = engine_->runtime().open_case(worker, "aftercare", {{"home", home}});
    ASSERT_TRUE(record) << record.error().message;
    EXPECT_EQ(record->workflow_version, 2);
    ids.push_back(record->id);
  }
  runtime::FireRequest journey;
  journey.event = "journey_started";
  ASSERT_TRUE(engine_->runtime().fire(worker, ids[0], journey));
  runtime::FireRequest died;
  died.event = "died";
  died.data = {{"date_of_death", "2026-01-02"}};
  EXPECT_FALSE(engine_->runtime().fire(supervisor, ids[2], died))
      << "version 2 has no died transition";

  // The shipped directory: version 3 is recorded beside version 2, which stays known from the
  // database. New cases open on 3; the old ones stay on 2.
  open("shipped");
  EXPECT_NE(engine_->registry().find("aftercare", 2), nullptr);
  ASSERT_NE(engine_->registry().find("aftercare", 3), nullptr);
  EXPECT_EQ(engine_->registry().latest("aftercare")->version, 3);
  auto fresh = engine_->runtime().open_case(worker, "aftercare", {{"home", "umang"}});
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->workflow_version, 3);
  for (const auto& id : ids) {
    EXPECT_EQ(get(id).workflow_version, 2);
  }
  engine_.reset();

  const std::vector<std::string> base{
      "migrate",     test::source_path("migrations/aftercare-2-to-3.yaml").string(),
      "--db",        config_.db,
      "--workflows", shipped.string(),
      "--plugins",   plugins,
      "--timezone",  "UTC"};
  auto dry_args = base;
  dry_args.push_back("--dry-run");
  const auto dry = test::run_carepath(dry_args, dir_);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.err.find("warning"), std::string::npos) << dry.err;
  EXPECT_NE(dry.out.find("migration aftercare-2-to-3: workflow aftercare version 2 -> 3 (dry run)"),
            std::string::npos)
      << dry.out;
  EXPECT_NE(dry.out.find("  intake -> intake: 3 cases, 3 would move, 0 cannot\n"),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(dry.out.find("would drop"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("total: 3 cases on version 2; 3 would move, 0 cannot move. Nothing was "
                         "changed (dry run)."),
            std::string::npos)
      << dry.out;
  open("shipped");
  for (const auto& id : ids) {
    EXPECT_EQ(get(id).workflow_version, 2) << "the dry run moved a case";
  }
  engine_.reset();

  const auto ran = test::run_carepath(base, dir_);
  ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("total: 3 cases on version 2; 3 moved, 0 cannot move."), std::string::npos)
      << ran.out;

  open("shipped");
  const std::vector<std::string> homes{"umang", "umeed", "udaan"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const CaseRecord record = get(ids[i]);
    EXPECT_EQ(record.workflow_version, 3);
    EXPECT_EQ(record.state, "intake");
    EXPECT_EQ(record.data.at("home"), homes[i].c_str());
    const auto entries = history(ids[i]);
    ASSERT_FALSE(entries.empty());
    EXPECT_EQ(entries.back().event, "migrated");
    EXPECT_EQ(entries.back().trigger.at("migration"), "aftercare-2-to-3");
    EXPECT_EQ(entries.back().trigger.at("to_version"), 3);
    // The clock that entering intake started runs on, carried over by name.
    auto clocks = engine_->store().clocks(ids[i]);
    ASSERT_TRUE(clocks);
    ASSERT_EQ(clocks->size(), 1U);
    EXPECT_EQ(clocks->front().name, "cwc_production");
  }
  // Version 3's words now apply to the moved cases: a death can be recorded.
  auto recorded = engine_->runtime().fire(supervisor, ids[2], died);
  ASSERT_TRUE(recorded) << recorded.error().message;
  EXPECT_EQ(recorded->record.state, "died");
  EXPECT_TRUE(recorded->record.closed_at.has_value());

  // Run again, there is nothing left on version 2.
  const auto again = test::run_carepath(base, dir_);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("total: 0 cases on version 2"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace carepath
