// `carepath verify`, `carepath backup` and `carepath restore` on real databases written by the
// engine: cases through transitions with synchronous and asynchronous steps, an erased case, a
// migrated case; then tampered rows, corrupt files, newer targets and a backup under load.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "app/engine.hpp"
#include "core/time.hpp"
#include "security/tokens.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/keys.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sql.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;

// Version 1: a step on `admit` assigns the case (synchronous), entering in_care sets `stage`
// afterwards (asynchronous), entering intake sets it at once.
constexpr const char* kShelterV1 = R"(carepath: 1
workflow: shelter
version: 1
title: Backup test workflow, version 1
roles: [caseworker, supervisor]
fields:
  name: { type: string, sensitivity: identifying }
  notes: { type: text, sensitivity: sensitive }
  home: { type: string }
  age: { type: integer, min: 0, max: 25 }
  assigned_to: { type: string }
  stage: { type: string }
states:
  intake:
    initial: true
    on_enter:
      - step: core.set
        with: { fields: { stage: new } }
    on:
      admit:
        to: in_care
        roles: [caseworker]
        steps:
          - step: core.assign
            with: { to: "role:supervisor" }
  in_care:
    on_enter:
      - step: core.set
        async: true
        with: { fields: { stage: placed } }
    on:
      visit: { to: in_care, roles: [caseworker, supervisor] }
      close: { to: closed, roles: [supervisor] }
  closed:
    final: true
)";

// Version 2: `home` is now `placement_home`.
std::string shelter_v2() {
  std::string text = kShelterV1;
  const auto replace = [&](const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
  };
  replace("version: 1\ntitle: Backup test workflow, version 1",
          "version: 2\ntitle: Backup test workflow, version 2");
  replace("  home: { type: string }", "  placement_home: { type: string }");
  return text;
}

constexpr const char* kPlan = R"(migrate: { workflow: shelter, from: 1, to: 2 }
fields: { home: { rename: placement_home } }
)";

// Every row of the events table, in (case, seq) order, each column as text ("<null>" for NULL).
std::vector<std::vector<std::string>> event_rows(const fs::path& db) {
  std::vector<std::vector<std::string>> rows;
  sqlite3* handle = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(handle,
                               "SELECT case_id, seq, at, actor, event, from_state, to_state, "
                               "version, changed_json, comment, payload_json, trigger_json FROM "
                               "events ORDER BY case_id, seq",
                               -1, &select, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(handle);
  while (select != nullptr && sqlite3_step(select) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(select); ++i) {
      const auto* text = sqlite3_column_text(select, i);
      row.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "<null>");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(select);
  sqlite3_close(handle);
  return rows;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

class Backup : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "v1");
    fs::create_directories(dir_ / "v2");
    std::ofstream(dir_ / "v1/shelter.yaml") << kShelterV1;
    std::ofstream(dir_ / "v2/shelter.yaml") << shelter_v2();
    config_.host = "127.0.0.1";
    config_.port = test::listen_port();
    config_.db = db().string();
    config_.master_key = test::master_key_file();
    config_.workflows = (dir_ / "v1").string();
    config_.timezone = "UTC";
  }

  fs::path db() const { return dir_ / "carepath.db"; }

  void open(const std::string& workflows) {
    engine_.reset();
    config_.workflows = (dir_ / workflows).string();
    auto engine = app::Engine::open(config_);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
  }

  Actor caseworker() const { return {"asha", {"caseworker"}}; }
  Actor supervisor() const { return {"ravi", {"supervisor"}}; }

  std::string open_case(const boost::json::object& data) {
    auto record = engine_->runtime().open_case(caseworker(), "shelter", data);
    EXPECT_TRUE(record) << record.error().message;
    return record ? record->id : std::string();
  }

  void fire(const std::string& id, const std::string& event, const Actor& actor,
            boost::json::object data = {}) {
    runtime::FireRequest request;
    request.event = event;
    request.data = std::move(data);
    auto fired = engine_->runtime().fire(actor, id, request);
    EXPECT_TRUE(fired) << event << ": " << fired.error().message;
  }

  // A database holding every kind of history entry the verify replay must follow.
  struct Cases {
    std::string updated, closed, erased, migrated;
  };
  Cases make_cases() {
    Cases c;
    open("v1");
    c.updated = open_case({{"name", "Test Child A"}, {"age", 12}, {"notes", "fake note"}});
    auto updated = engine_->runtime().update_case(
        caseworker(), c.updated, {{"age", 13}, {"notes", "another fake note"}, {"home", nullptr}},
        std::nullopt, std::string("fake comment"));
    EXPECT_TRUE(updated) << updated.error().message;

    c.closed = open_case({{"name", "Test Child B"}, {"age", 10}, {"home", "Test Home"}});
    fire(c.closed, "admit", caseworker());
    EXPECT_EQ(engine_->worker().run_due(), 1U);  // the asynchronous core.set: a step entry
    fire(c.closed, "visit", supervisor(), {{"notes", "fake visit note"}});
    fire(c.closed, "close", supervisor());

    c.erased = open_case({{"name", "Test Child C"}, {"age", 9}, {"notes", "fake"}});
    auto erased = engine_->runtime().erase_case({"root", {"admin"}}, c.erased, "test erasure");
    EXPECT_TRUE(erased) << erased.error().message;

    c.migrated = open_case({{"name", "Test Child D"}, {"home", "Test Home"}, {"age", 15}});
    open("v2");
    auto plan = engine_->read_plan(kPlan, "plan.yaml");
    EXPECT_TRUE(plan) << plan.error().message;
    if (plan) {
      runtime::MigrationOptions options;
      options.actor = Actor{"cli:test", {}};
      auto report = engine_->migrate(*plan, options);
      EXPECT_TRUE(report) << report.error().message;
      EXPECT_GE(report->moved, 1);
    }
    auto migrated = engine_->store().get_case(c.migrated);
    EXPECT_TRUE(migrated && migrated->workflow_version == 2);
    engine_.reset();
    return c;
  }

  test::Output run(std::vector<std::string> args) { return test::run_carepath(args, dir_); }

  test::TempDir dir_;
  app::Config config_;
  std::unique_ptr<app::Engine> engine_;
};

TEST_F(Backup, VerifyAcceptsWhatTheEngineWrote) {
  const Cases c = make_cases();
  const auto o = run({"verify", "--db", db().string()});
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("verify ok: 4 cases, "), std::string::npos) << o.out;
  // The history holds what steps set: nothing was left uncompared.
  EXPECT_EQ(o.out.find("not compared"), std::string::npos) << o.out;
  // Needs no master key.
  const auto keyless =
      test::run_carepath({"verify", "--db", db().string()}, dir_,
                         {{"CAREPATH_MASTER_KEY_FILE", (dir_ / "no-such.key").string()}});
  EXPECT_EQ(keyless.exit_code, 0) << keyless.out << keyless.err;
}

TEST_F(Backup, VerifyNamesTheTamperedCaseAndFieldButNoValue) {
  const Cases c = make_cases();
  test::run_sql(db(),
                "UPDATE cases SET data_json = json_set(data_json, '$.age', 7654321) WHERE id = '" +
                    c.updated + "'");
  test::run_sql(db(), "UPDATE cases SET state = 'intake' WHERE id = '" + c.closed + "'");
  // A sealed value swapped for plain text is a difference too.
  test::run_sql(db(),
                "UPDATE cases SET data_json = json_set(data_json, '$.name', 'Fake Name') "
                "WHERE id = '" +
                    c.migrated + "'");
  const auto o = run({"verify", "--db", db().string()});
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  EXPECT_NE(o.out.find("case " + c.updated + ": row and history differ: field age"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("case " + c.closed + ": row and history differ: state"), std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("case " + c.migrated + ": row and history differ: field name"),
            std::string::npos)
      << o.out;
  EXPECT_EQ(o.out.find("case " + c.erased), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("verify failed: 3 of 4 cases"), std::string::npos) << o.out;
  // A value no id, count or time in the output can contain by chance.
  for (const char* value : {"7654321", "Fake Name", "Test Child"}) {
    EXPECT_EQ(o.out.find(value), std::string::npos) << value;
    EXPECT_EQ(o.err.find(value), std::string::npos) << value;
  }
}

TEST_F(Backup, VerifyRefusesAMissingOrCorruptDatabase) {
  const auto missing = run({"verify", "--db", (dir_ / "nothing.db").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("there is no database"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir_ / "nothing.db"));

  std::ofstream(dir_ / "garbage.db") << std::string(8192, 'x');
  const auto garbage = run({"verify", "--db", (dir_ / "garbage.db").string()});
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_NE(garbage.err.find("not a database"), std::string::npos) << garbage.err;
}

TEST_F(Backup, VerifyRefusesAFileThatFailsTheIntegrityCheck) {
  make_cases();
  // Damage a page in the middle of the file (past the header), as a disk error would.
  const auto size = fs::file_size(db());
  ASSERT_GT(size, 4U * 4096U);
  {
    std::fstream file(db(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2));
    const std::string junk(4096, '\x5a');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const auto o = run({"verify", "--db", db().string()});
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.err.find("verify: "), std::string::npos) << o.err;
  EXPECT_EQ(o.out.find("verify ok"), std::string::npos) << o.out;
}

TEST_F(Backup, BackupRefusesAnExistingFile) {
  make_cases();
  const fs::path file = dir_ / "backup.db";
  std::ofstream(file) << "an older backup";
  const auto o = run({"backup", file.string(), "--db", db().string()});
  EXPECT_EQ(o.exit_code, 1) << o.out;
  EXPECT_NE(o.err.find("exists"), std::string::npos) << o.err;
  EXPECT_EQ(test::read_file(file), "an older backup");
  EXPECT_FALSE(fs::exists(dir_ / "backup.db.tmp"));

  const auto no_db =
      run({"backup", (dir_ / "other.db").string(), "--db", (dir_ / "missing.db").string()});
  EXPECT_EQ(no_db.exit_code, 1);
  EXPECT_NE(no_db.err.find("there is no database"), std::string::npos) << no_db.err;
  EXPECT_FALSE(fs::exists(dir_ / "other.db"));
  EXPECT_FALSE(fs::exists(dir_ / "missing.db"));
}

TEST_F(Backup, RestoreRefusesCorruptFilesAndLeavesTheTargetUntouched) {
  make_cases();
  const fs::path good = dir_ / "good.db";
  const auto written = run({"backup", good.string(), "--db", db().string()});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  // Not a terminal: a percentage line, ending at 100%.
  EXPECT_NE(written.err.find("backup: 100%"), std::string::npos) << written.err;
  EXPECT_NE(written.out.find("backup written: " + good.string()), std::string::npos);

  const std::string bytes = test::read_file(good);
  const fs::path truncated = dir_ / "truncated.db";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const fs::path garbage = dir_ / "garbage.db";
  std::ofstream(garbage, std::ios::binary) << std::string(bytes.size(), '\x17');
  const fs::path headless = dir_ / "headless.db";  // the header gone, the pages there
  std::ofstream(headless, std::ios::binary) << std::string(100, '\0') << bytes.substr(100);
  const fs::path foreign = dir_ / "foreign.db";  // a sound SQLite file, not carepath's
  test::run_sql(foreign, "CREATE TABLE notes (x TEXT)");
  const fs::path empty = dir_ / "empty.db";
  std::ofstream(empty) << "";

  const std::string before = test::read_file(db());
  for (const auto& bad : {truncated, garbage, headless, foreign, empty, dir_ / "absent.db"}) {
    const auto o = run({"restore", bad.string(), "--db", db().string(), "--force"});
    EXPECT_EQ(o.exit_code, 1) << bad << ": " << o.out << o.err;
    EXPECT_NE(o.err.find("was not changed"), std::string::npos) << bad << ": " << o.err;
    EXPECT_TRUE(test::read_file(db()) == before) << bad;  // not printed: a binary file
    EXPECT_FALSE(fs::exists(dir_ / "carepath.db.tmp")) << bad;
  }
  EXPECT_EQ(run({"verify", "--db", db().string()}).exit_code, 0);
}

TEST_F(Backup, RestoreRefusesANewerTargetWithoutForce) {
  const Cases c = make_cases();
  const fs::path file = dir_ / "backup.db";
  ASSERT_EQ(run({"backup", file.string(), "--db", db().string()}).exit_code, 0);
  const auto backed_up = event_rows(file);

  // Into an empty place: no database there yet.
  const fs::path scratch = dir_ / "scratch" / "carepath.db";
  fs::create_directories(scratch.parent_path());
  const auto fresh = run({"restore", file.string(), "--db", scratch.string()});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_NE(fresh.out.find("4 cases"), std::string::npos) << fresh.out;
  EXPECT_EQ(event_rows(scratch), backed_up);

  // The live database moves on after the backup.
  open("v2");
  auto updated = engine_->runtime().update_case(caseworker(), c.updated, {{"age", 14}},
                                                std::nullopt, std::nullopt);
  ASSERT_TRUE(updated) << updated.error().message;
  engine_.reset();
  const std::string newer = test::read_file(db());

  const auto refused = run({"restore", file.string(), "--db", db().string()});
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("newer than the backup"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_TRUE(test::read_file(db()) == newer);
  EXPECT_FALSE(fs::exists(dir_ / "carepath.db.tmp"));

  const auto forced = run({"restore", file.string(), "--db", db().string(), "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_FALSE(fs::exists(dir_ / "carepath.db.tmp"));
  EXPECT_FALSE(fs::exists(dir_ / "carepath.db-wal"));  // the old database's log went with it
  EXPECT_EQ(event_rows(db()), backed_up);
  EXPECT_EQ(run({"verify", "--db", db().string()}).exit_code, 0);
  // The restored database serves again, with the key it was sealed with.
  open("v2");
  auto record = engine_->runtime().get_case(caseworker(), c.updated);
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->data.at("age"), 13);
  EXPECT_EQ(record->data.at("notes"), "another fake note");
}

TEST_F(Backup, RestoreRefusesWhileTheDatabaseIsInUse) {
  make_cases();
  const fs::path file = dir_ / "backup.db";
  ASSERT_EQ(run({"backup", file.string(), "--db", db().string()}).exit_code, 0);
  open("v2");  // an engine holds the database open
  const std::string before = test::read_file(db());
  const auto busy = run({"restore", file.string(), "--db", db().string(), "--force"});
  EXPECT_EQ(busy.exit_code, 4) << busy.out << busy.err;
  EXPECT_NE(busy.err.find("is in use"), std::string::npos) << busy.err;
  EXPECT_TRUE(test::read_file(db()) == before);
  engine_.reset();
  const auto done = run({"restore", file.string(), "--db", db().string(), "--force"});
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
}

// The reason to restore: the database was destroyed. Whether it is newer cannot be told, so it
// takes --force.
TEST_F(Backup, RestoreReplacesADestroyedDatabaseWithForce) {
  make_cases();
  const fs::path file = dir_ / "backup.db";
  ASSERT_EQ(run({"backup", file.string(), "--db", db().string()}).exit_code, 0);
  std::ofstream(db(), std::ios::binary | std::ios::trunc) << std::string(20000, '\x42');
  const auto refused = run({"restore", file.string(), "--db", db().string()});
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("cannot tell"), std::string::npos) << refused.err;
  const auto forced = run({"restore", file.string(), "--db", db().string(), "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_EQ(run({"verify", "--db", db().string()}).exit_code, 0);
}

// Clients keep firing transitions at a running server while `carepath backup` copies its
// database; the copy restores to a database whose history is the same, row for row, as the
// backup's, every row of which the live database holds unchanged, and whose cases all match it.
TEST_F(Backup, ABackupTakenUnderLoadRestoresToAnIdenticalHistory) {
  const auto created = run({"token", "create", "--user", "asha", "--roles", "caseworker,supervisor",
                            "--db", db().string()});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = first_line(created.out);
  test::ServerProcess server({"--db", db().string(), "--workflows", (dir_ / "v1").string(),
                              "--plugins", test::plugin_build_dir(), "--timezone", "UTC"});
  const std::vector<std::pair<std::string, std::string>> headers{
      {"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    const auto opened =
        test::http_request(server.port(), "POST", "/v1/cases",
                           R"({"workflow": "shelter", "data": {"name": "Test Child )" +
                               std::to_string(i) + R"(", "age": 10, "notes": "fake note"}})",
                           headers);
    ASSERT_EQ(opened.status, 201) << opened.body;
    const auto json = opened.json();
    ids.emplace_back(json.at("id").as_string());
    const auto admitted =
        test::http_request(server.port(), "POST", "/v1/cases/" + ids.back() + "/events",
                           R"({"event": "admit"})", headers);
    ASSERT_EQ(admitted.status, 200) << admitted.body;
  }

  std::atomic<bool> stop{false};
  // The server logs every request; its stderr is read here while the clients run, or the pipe
  // would fill and stop it.
  std::thread drain([&] {
    while (!stop.load()) {
      (void)server.log();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::atomic<int> fired{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      for (int n = 0; !stop.load(); ++n) {
        const std::string& id = ids[static_cast<std::size_t>((t * 20 + n) % 60)];
        try {
          const auto r = test::http_request(
              server.port(), "POST", "/v1/cases/" + id + "/events",
              R"({"event": "visit", "data": {"notes": "fake visit )" + std::to_string(n) + R"("}})",
              headers);
          (r.status == 200 ? fired : failed).fetch_add(1);
        } catch (const std::exception&) {
          failed.fetch_add(1);
          return;
        }
      }
    });
  }
  while (fired.load() < 30 && failed.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int before = fired.load();
  const fs::path file = dir_ / "under-load.db";
  const auto o = run({"backup", file.string(), "--db", db().string()});
  const int after = fired.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& c : clients) {
    c.join();
  }
  drain.join();
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_GT(after, before) << "no transition landed while the backup ran";
  const auto tail = [&] {
    const std::string& log = server.log();
    return log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  };
  EXPECT_EQ(failed.load(), 0) << tail();
  EXPECT_EQ(server.stop(), 0) << tail();

  const fs::path restored = dir_ / "restored" / "carepath.db";
  fs::create_directories(restored.parent_path());
  const auto r = run({"restore", file.string(), "--db", restored.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto verified = run({"verify", "--db", restored.string()});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_EQ(run({"audit", "verify", "--db", restored.string()}).exit_code, 0);

  const auto restored_rows = event_rows(restored);
  EXPECT_EQ(restored_rows, event_rows(file));
  const auto live_rows = event_rows(db());
  // 60 opened, 60 admitted, and at least the visits made before the backup started.
  EXPECT_GE(restored_rows.size(), 120U + static_cast<std::size_t>(before));
  EXPECT_GT(live_rows.size(), restored_rows.size());
  std::size_t live = 0;
  for (const auto& row : restored_rows) {
    while (live < live_rows.size() && live_rows[live] != row) {
      ++live;
    }
    ASSERT_LT(live, live_rows.size())
        << "history row not in the live database: case " << row[0] << " seq " << row[1];
  }
}

// The server's daily backup (backup_dir) on the test clock: a copy that verifies, named for the
// local time it was taken, the oldest deleted beyond backup_keep; a missing directory stops the
// server at start.
TEST_F(Backup, TheServerTakesItsDailyBackupAtBackupAt) {
  config_.backup_dir = (dir_ / "daily").string();
  config_.test_clock = "2026-01-01T00:00:00Z";
  config_.workflows = (dir_ / "v1").string();
  open("v1");  // one-shot commands open the engine: they never back up, so it opens
  auto refused = engine_->start();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("backup_dir"), std::string::npos);
  engine_.reset();

  fs::create_directories(dir_ / "daily");
  config_.backup_keep = 2;
  config_.backup_at_minute = 150;  // 02:30 UTC
  open("v1");
  auto port = engine_->start();
  ASSERT_TRUE(port) << port.error().message;
  auto issued = security::issue_token("ops", {"admin"}, 0);
  ASSERT_TRUE(issued && engine_->store().create_token(issued->record));
  const auto backups = [&] {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_ / "daily")) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto advance_a_day = [&] {
    const auto moved = test::http_request(
        *port, "POST", "/v1/admin/clock", R"({"advance": "1d"})",
        {{"Authorization", "Bearer " + issued->token}, {"Content-Type", "application/json"}});
    ASSERT_EQ(moved.status, 200) << moved.body;
  };
  // Until `name` is there and no more than `at_most` files are.
  const auto wait_for = [&](const std::string& name, std::size_t at_most) {
    for (int i = 0; i < 200; ++i) {
      const auto names = backups();
      if (std::find(names.begin(), names.end(), name) != names.end() && names.size() <= at_most) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no " << name << " (or too many files) in " << (dir_ / "daily");
  };
  EXPECT_TRUE(backups().empty());
  // The first look only schedules (02:30 on 1 January), so it may have come after the first
  // move: two moves later one has run for sure.
  advance_a_day();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  advance_a_day();
  wait_for("carepath-20260103T000000.db", 2);
  advance_a_day();
  wait_for("carepath-20260104T000000.db", 2);
  advance_a_day();
  wait_for("carepath-20260105T000000.db", 2);
  const auto names = backups();
  EXPECT_EQ(names, (std::vector<std::string>{"carepath-20260104T000000.db",
                                             "carepath-20260105T000000.db"}));
  engine_.reset();
  const auto o = run({"verify", "--db", (dir_ / "daily" / names.back()).string()});
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
}

}  // namespace
}  // namespace carepath
