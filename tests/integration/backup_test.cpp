// `carepath verify`, `carepath backup` and `carepath restore` on real databases written by the
// engine: cases through transitions with synchronous and asynchronous steps, an erased case, a
// migrated case; then tampered rows, corrupt files, newer targets and a backup under load.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "app/engine.hpp"
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
  test::run_sql(db(), "UPDATE cases SET data_json = json_set(data_json, '$.age', 17) WHERE id = '" +
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
  for (const char* value : {"17", "Fake Name", "Test Child"}) {
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

}  // namespace
}  // namespace carepath
