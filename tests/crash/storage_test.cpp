// Storage that refuses writes: a disk that fills up while the server runs, a disk full at start,
// and a read-only database file or directory at start. A write the storage refuses answers 503
// storage-unavailable with Retry-After and is not made; nothing acknowledged before is lost; the
// same request sent again once the disk has room is applied once. A database that cannot be
// written stops start-up with a message that says so.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sql.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

namespace fs = std::filesystem;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "var");
    db_ = (dir_ / "var" / "carepath.db").string();
    caseworker_ = token("store.caseworker", "caseworker");
    supervisor_ = token("store.supervisor", "supervisor");
  }

  std::string token(const std::string& user, const std::string& roles) {
    const auto o = test::run_carepath(
        {"token", "create", "--user", user, "--roles", roles, "--db", db_}, dir_);
    EXPECT_EQ(o.exit_code, 0) << o.err;
    return o.out.substr(0, o.out.find('\n'));
  }

  std::vector<std::string> serve_args() const {
    return {"--db",        db_,
            "--workflows", test::source_path("workflows").string(),
            "--plugins",   test::plugin_build_dir()};
  }

  static test::HttpResponse call(test::ServerProcess& server, const std::string& token,
                                 std::string_view method, const std::string& target,
                                 const std::string& body = {},
                                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    (void)server.log();  // drained, so that the server never blocks on a full pipe
    headers.emplace_back("Authorization", "Bearer " + token);
    return test::http_request(server.port(), method, target, body, headers);
  }

  // The number of times each comment appears in the case's history.
  std::map<std::string, int> comments(test::ServerProcess& server, const std::string& id) {
    std::map<std::string, int> seen;
    const auto history = call(server, supervisor_, "GET", "/v1/cases/" + id + "/events?limit=500");
    EXPECT_EQ(history.status, 200) << history.body;
    if (history.status != 200) {
      return seen;
    }
    const boost::json::value json = history.json();
    for (const auto& item : json.at("items").as_array()) {
      if (item.at("comment").is_string()) {
        seen[std::string(item.at("comment").as_string())] += 1;
      }
    }
    return seen;
  }

  // The database after the server: SQLite's integrity check, the projection replayed from the
  // history, and the audit chain.
  void expect_database_sound() {
    const auto integrity = test::query_sql(db_, "PRAGMA integrity_check");
    ASSERT_EQ(integrity.size(), 1U);
    EXPECT_EQ(integrity[0][0], "ok");
    const auto verified = test::run_carepath({"verify", "--db", db_}, dir_);
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
    const auto audited = test::run_carepath({"audit", "verify", "--db", db_}, dir_);
    EXPECT_EQ(audited.exit_code, 0) << audited.out << audited.err;
  }

  // Starting must fail, and say that the database cannot be written.
  void expect_start_refused(const test::ServerProcess::Options& options) {
    try {
      test::ServerProcess server(serve_args(), 0, options);
      ADD_FAILURE() << "the server started on a database it cannot write:\n" << server.log();
    } catch (const std::runtime_error& e) {
      const std::string log = e.what();
      EXPECT_NE(log.find("cannot be written"), std::string::npos) << log;
      EXPECT_NE(log.find(db_), std::string::npos) << log;
    }
  }

  test::TempDir dir_;
  std::string db_;
  std::string caseworker_;
  std::string supervisor_;
};

std::string fire_body(int n) {
  return std::string(R"({"event": ")") + (n % 2 == 0 ? "journey_started" : "journey_ended") +
         R"(", "comment": "disk test request )" + std::to_string(n) + "\"}";
}

TEST_F(StorageTest, DiskFullMidRunAnswers503AndLosesNothingAcknowledged) {
  std::string id;
  std::string named_id;
  {
    // The first start stores the workflows; a clean stop checkpoints and removes the WAL.
    test::ServerProcess server(serve_args());
    auto opened = call(server, caseworker_, "POST", "/v1/cases",
                       R"({"workflow": "aftercare", "data": {"home": "umang"}})");
    ASSERT_EQ(opened.status, 201) << opened.body;
    id = std::string(opened.json().at("id").as_string());
    // A case with a (made-up) name: showing it to a caseworker is audited, so its read writes.
    auto named =
        call(server, caseworker_, "POST", "/v1/cases",
             R"({"workflow": "aftercare", "data": {"home": "umang", "name": "Qzx Test"}})");
    ASSERT_EQ(named.status, 201) << named.body;
    named_id = std::string(named.json().at("id").as_string());
    ASSERT_EQ(server.stop(), 0) << server.log();
  }
  // Room for a few dozen transitions in the WAL, then the "disk" is full.
  const auto limit = static_cast<long long>(fs::file_size(db_)) + 256 * 1024;
  std::vector<int> acknowledged;
  int refused = -1;
  {
    test::ServerProcess server(serve_args(), 0, {.file_size_limit = limit});
    for (int n = 0; n < 2000 && refused < 0; ++n) {
      const auto r = call(server, caseworker_, "POST", "/v1/cases/" + id + "/events", fire_body(n),
                          {{"Idempotency-Key", "disk-" + std::to_string(n)}});
      if (r.status == 200) {
        acknowledged.push_back(n);
        continue;
      }
      ASSERT_EQ(r.status, 503) << r.body;
      refused = n;
      EXPECT_EQ(r.header("content-type"), "application/problem+json");
      EXPECT_EQ(r.json().at("type"), "/problems/storage-unavailable") << r.body;
      EXPECT_EQ(r.header("retry-after"), "30");
    }
    ASSERT_GE(refused, 0) << "the disk never filled up";
    ASSERT_FALSE(acknowledged.empty()) << "the disk was full from the start";
    std::cout << "disk full: " << acknowledged.size() << " transitions acknowledged before the "
              << "first 503, with the file size limited to " << limit << " bytes\n";
    // The same request again, while the disk is still full: refused again, never applied.
    const auto again =
        call(server, caseworker_, "POST", "/v1/cases/" + id + "/events", fire_body(refused),
             {{"Idempotency-Key", "disk-" + std::to_string(refused)}});
    EXPECT_EQ(again.status, 503) << again.body;
    // A read that writes nothing still works. One that shows a name is audited first: answered
    // while its audit row still fits in what is left, then refused, never answered unaudited.
    const auto read = call(server, caseworker_, "GET", "/v1/cases/" + id);
    EXPECT_EQ(read.status, 200) << read.body;
    bool refused_read = false;
    for (int n = 0; n < 500 && !refused_read; ++n) {
      const auto audited = call(server, caseworker_, "GET", "/v1/cases/" + named_id);
      if (audited.status == 503) {
        refused_read = true;
        EXPECT_EQ(audited.json().at("type"), "/problems/storage-unavailable") << audited.body;
        EXPECT_EQ(audited.body.find("Qzx"), std::string::npos) << audited.body;
      } else {
        ASSERT_EQ(audited.status, 200) << audited.body;
      }
    }
    EXPECT_TRUE(refused_read);
    EXPECT_NE(server.log().find("storage unavailable"), std::string::npos) << server.log();
    server.kill();  // the worst end: no clean shutdown either
  }

  // The disk has room again.
  test::ServerProcess server(serve_args());
  auto seen = comments(server, id);
  for (const int n : acknowledged) {
    EXPECT_EQ(seen["disk test request " + std::to_string(n)], 1) << n;
  }
  EXPECT_EQ(seen.count("disk test request " + std::to_string(refused)), 0U);
  const auto retried =
      call(server, caseworker_, "POST", "/v1/cases/" + id + "/events", fire_body(refused),
           {{"Idempotency-Key", "disk-" + std::to_string(refused)}});
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.header("idempotent-replayed"), "");  // applied now, not remembered
  seen = comments(server, id);
  EXPECT_EQ(seen["disk test request " + std::to_string(refused)], 1);
  EXPECT_EQ(server.stop(), 0) << server.log();
  expect_database_sound();
}

TEST_F(StorageTest, DiskFullAtStartStopsStartUpWithAClearMessage) {
  expect_start_refused({.file_size_limit = 0});
  test::ServerProcess server(serve_args());  // and starts once there is room
  EXPECT_EQ(server.stop(), 0) << server.log();
  expect_database_sound();
}

TEST_F(StorageTest, ReadOnlyDatabaseFileAtStartStopsStartUpWithAClearMessage) {
  fs::permissions(db_, fs::perms::owner_read);
  expect_start_refused({.honour_file_modes = true});
  fs::permissions(db_, fs::perms::owner_read | fs::perms::owner_write);
  test::ServerProcess server(serve_args(), 0, {.honour_file_modes = true});
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST_F(StorageTest, ReadOnlyDatabaseDirectoryAtStartStopsStartUpWithAClearMessage) {
  const fs::path var = dir_ / "var";
  // No -wal or -shm file can be created beside the database.
  fs::permissions(var, fs::perms::owner_read | fs::perms::owner_exec);
  expect_start_refused({.honour_file_modes = true});
  fs::permissions(var, fs::perms::owner_all);
  test::ServerProcess server(serve_args(), 0, {.honour_file_modes = true});
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace carepath
