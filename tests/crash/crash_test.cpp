// Crash safety of the real server: several clients drive transitions over HTTP, each request with
// its own Idempotency-Key, while the server is killed with SIGKILL at random moments and started
// again on the same database. A request without an answer is sent again, with the same key and
// body, until it is answered. At the end every transition answered with 2xx is in its case's
// history exactly once, every async step of the outbox has run and been recorded once, the
// projection replays from the history (`carepath verify`), SQLite's integrity check passes and the
// audit chain verifies (`carepath audit verify`).
//
// CAREPATH_CRASH_KILLS sets the number of kills (default 20; e.g. 200 for the long run),
// CAREPATH_CRASH_SEED the seed of the kill times (printed, to repeat a run).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sql.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

using namespace std::chrono_literals;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

std::string make_token(const std::string& db, const std::string& user, const std::string& roles,
                       const test::TempDir& dir) {
  const auto o =
      test::run_carepath({"token", "create", "--user", user, "--roles", roles, "--db", db}, dir);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  return o.out.substr(0, o.out.find('\n'));
}

// One transition a client asked for, and what became of it.
struct Sent {
  std::string case_id;
  std::string event;
  std::string to;       // the state it leads to
  std::string comment;  // unique: finds the transition in the history
  bool acknowledged = false;
  int lost = 0;           // sends that got no answer (the server died under them)
  bool replayed = false;  // answered from the remembered answer (Idempotent-Replayed)
};

struct ClientLog {
  std::vector<Sent> sent;
  std::vector<std::string> cases;  // cases whose creation was answered 201
  int lost_creations = 0;          // case creations without an answer (may have left a case)
  int failures = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A leased async step whose server died is taken up again after the lease: 1 s here.
    ::setenv("CAREPATH_STEP_LEASE_MS", "1000", 1);
    db_ = (dir_ / "carepath.db").string();
    caseworker_ = make_token(db_, "crash.caseworker", "caseworker", dir_);
    supervisor_ = make_token(db_, "crash.supervisor", "supervisor", dir_);
  }

  std::vector<std::string> serve_args() const {
    return {"--db",        db_,
            "--workflows", test::source_path("workflows").string(),
            "--plugins",   test::plugin_build_dir()};
  }

  test::TempDir dir_;
  std::string db_;
  std::string caseworker_;
  std::string supervisor_;
};

// Sends until an answer comes (with a fresh read of the port each time: a restarted server
// listens on another one), or gives up after `patience` without any answer.
struct Sender {
  const std::atomic<std::uint16_t>& port;
  const std::atomic<bool>& broken;

  std::optional<test::HttpResponse> send(std::string_view method, const std::string& target,
                                         const std::string& body,
                                         const std::vector<std::pair<std::string, std::string>>& h,
                                         int& lost) const {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!broken.load() && std::chrono::steady_clock::now() < deadline) {
      try {
        return test::http_request(port.load(), method, target, body, h);
      } catch (const std::exception&) {
        ++lost;
        std::this_thread::sleep_for(10ms);
      }
    }
    return std::nullopt;
  }
};

void run_client(int client, const std::string& token, const Sender& sender,
                const std::atomic<bool>& stop, ClientLog& log) {
  const std::vector<std::pair<std::string, std::string>> auth{{"Authorization", "Bearer " + token}};
  int serial = 0;
  for (int n = 0; !stop.load(); ++n) {
    int lost = 0;
    const auto opened = sender.send(
        "POST", "/v1/cases", R"({"workflow": "aftercare", "data": {"home": "umang"}})", auth, lost);
    log.lost_creations += lost;
    if (!opened || opened->status != 201) {
      ++log.failures;
      ADD_FAILURE() << "client " << client
                    << ": opening a case: " << (opened ? opened->body : std::string("no answer"));
      return;
    }
    const std::string id(opened->json().at("id").as_string());
    log.cases.push_back(id);
    // Four loops in intake, the step into assessment that queues the async legal_aid.refer, and
    // three changes of data in assessment.
    struct Plan {
      const char* event;
      const char* to;
      std::string data;
    };
    const std::vector<Plan> plan{
        {"journey_started", "intake", ""},
        {"journey_ended", "intake", ""},
        {"journey_started", "intake", ""},
        {"journey_ended", "intake", ""},
        {"produced_before_cwc", "assessment",
         R"({"cwc_order_no": "CWC/TEST/)" + std::to_string(client) + "-" + std::to_string(n) +
             R"(", "age": 15})"},
        {"sir_submitted", "assessment", R"({"sir_date": "2026-01-11"})"},
        {"sir_submitted", "assessment", R"({"sir_date": "2026-01-12"})"},
        {"sir_submitted", "assessment", R"({"sir_date": "2026-01-13"})"},
    };
    for (const auto& step : plan) {
      Sent s;
      s.case_id = id;
      s.event = step.event;
      s.to = step.to;
      s.comment = "crash client " + std::to_string(client) + " request " + std::to_string(serial);
      const std::string key = "crash-" + std::to_string(client) + "-" + std::to_string(serial);
      ++serial;
      std::string body = R"({"event": ")" + s.event + R"(", "comment": ")" + s.comment + "\"";
      if (!step.data.empty()) {
        body += ", \"data\": " + step.data;
      }
      body += "}";
      auto headers = auth;
      headers.emplace_back("Idempotency-Key", key);
      const auto answer = sender.send("POST", "/v1/cases/" + id + "/events", body, headers, s.lost);
      if (!answer) {
        ++log.failures;
        log.sent.push_back(s);
        ADD_FAILURE() << "client " << client << ": no answer for " << s.comment;
        return;
      }
      if (answer->status != 200) {
        ++log.failures;
        log.sent.push_back(s);
        ADD_FAILURE() << "client " << client << ": " << s.comment << " answered " << answer->status
                      << ": " << answer->body;
        return;
      }
      s.acknowledged = true;
      s.replayed = answer->header("idempotent-replayed") == "true";
      log.sent.push_back(s);
    }
  }
}

TEST_F(CrashTest, AcknowledgedTransitionsSurviveSigkillExactlyOnce) {
  const int kills = env_int("CAREPATH_CRASH_KILLS", 20);
  const auto seed = static_cast<std::uint32_t>(
      env_int("CAREPATH_CRASH_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  std::cout << "crash test: seed " << seed << " (CAREPATH_CRASH_SEED), " << kills
            << " kills (CAREPATH_CRASH_KILLS)\n";
  constexpr int kClients = 4;

  auto server = std::make_unique<test::ServerProcess>(serve_args());
  std::atomic<std::uint16_t> port{server->port()};
  std::atomic<bool> stop{false};
  std::atomic<bool> broken{false};
  const Sender sender{port, broken};
  std::vector<ClientLog> logs(kClients);
  std::atomic<int> finished{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      run_client(c, caseworker_, sender, stop, logs[c]);
      ++finished;
    });
  }

  // The killer. The server's log is drained while it waits, so that the server never blocks on
  // a full stderr pipe.
  std::mt19937 rng(seed);
  // Mostly 20 to 300 ms into a run; every fourth kill within 20 ms of the restart, while the
  // workers take up the outbox jobs the last kill left leased or pending.
  std::uniform_int_distribution<int> delay_ms(20, 300);
  std::uniform_int_distribution<int> early_ms(0, 20);
  int survived = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int k = 0; k < kills && !broken.load(); ++k) {
    const int wait = k % 4 == 3 ? early_ms(rng) : delay_ms(rng);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
    while (std::chrono::steady_clock::now() < until) {
      (void)server->log();
      std::this_thread::sleep_for(2ms);
    }
    server->kill();
    try {
      server = std::make_unique<test::ServerProcess>(serve_args());
      port = server->port();
      ++survived;
    } catch (const std::exception& e) {
      broken = true;
      ADD_FAILURE() << "the server did not start again after kill " << k + 1 << ": " << e.what();
    }
  }
  stop = true;
  // The clients finish the requests they have in hand; the log is drained meanwhile.
  while (finished.load() < kClients) {
    (void)server->log();
    std::this_thread::sleep_for(2ms);
  }
  for (auto& t : clients) {
    t.join();
  }
  ASSERT_FALSE(broken.load());
  const auto run_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // One more kill, then the async steps left in the outbox must all run.
  server->kill();
  server = std::make_unique<test::ServerProcess>(serve_args());
  ++survived;
  const auto call = [&](const std::string& target) {
    (void)server->log();
    return test::http_request(server->port(), "GET", target, {},
                              {{"Authorization", "Bearer " + supervisor_}});
  };

  std::map<std::string, std::vector<const Sent*>> by_case;
  std::vector<std::string> cases;
  int acknowledged = 0;
  int lost_sends = 0;
  int lost_then_replayed = 0;
  int lost_then_applied = 0;
  int lost_creations = 0;
  for (const auto& log : logs) {
    EXPECT_EQ(log.failures, 0);
    cases.insert(cases.end(), log.cases.begin(), log.cases.end());
    lost_creations += log.lost_creations;
    for (const auto& s : log.sent) {
      by_case[s.case_id].push_back(&s);
      acknowledged += s.acknowledged ? 1 : 0;
      lost_sends += s.lost;
      if (s.lost > 0 && s.acknowledged) {
        ++(s.replayed ? lost_then_replayed : lost_then_applied);
      }
    }
  }

  // The async step: legal_aid.refer on entering assessment answers "pending" and is recorded as
  // one step_pending event. Waits for the workers to drain the outbox.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  int found = 0;
  int steps_expected = 0;
  int steps_found = 0;
  for (const auto& id : cases) {
    const auto& sent = by_case[id];
    bool entered_assessment = false;
    std::string expected_state = "intake";
    for (const Sent* s : sent) {
      if (s->acknowledged) {
        expected_state = s->to;
        entered_assessment = entered_assessment || s->event == "produced_before_cwc";
      }
    }
    steps_expected += entered_assessment ? 1 : 0;
    for (;;) {
      const auto history = call("/v1/cases/" + id + "/events?limit=500");
      ASSERT_EQ(history.status, 200) << history.body;
      const boost::json::value json = history.json();
      const auto& items = json.at("items").as_array();
      ASSERT_TRUE(json.at("next_cursor").is_null()) << id;
      int steps = 0;
      std::map<std::string, int> by_comment;
      for (const auto& item : items) {
        const auto& comment = item.at("comment");
        if (!comment.is_string()) {
          continue;
        }
        const std::string text(comment.as_string());
        if (item.at("event") == "step_pending" && text == "legal_aid.refer") {
          ++steps;
        } else {
          by_comment[text + "|" + std::string(item.at("event").as_string())] += 1;
        }
      }
      if (entered_assessment && steps == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      EXPECT_EQ(steps, entered_assessment ? 1 : 0) << "case " << id;
      steps_found += steps;
      for (const Sent* s : sent) {
        const int times = by_comment[s->comment + "|" + s->event];
        if (s->acknowledged) {
          EXPECT_EQ(times, 1) << s->comment << " on case " << id;
          found += times == 1 ? 1 : 0;
        } else {
          EXPECT_LE(times, 1) << s->comment << " on case " << id;
        }
      }
      const auto record = call("/v1/cases/" + id);
      ASSERT_EQ(record.status, 200) << record.body;
      EXPECT_EQ(record.json().at("state"), expected_state.c_str()) << id;
      break;
    }
  }
  EXPECT_EQ(found, acknowledged);
  EXPECT_EQ(steps_found, steps_expected);
  EXPECT_GT(acknowledged, 0);
  EXPECT_EQ(server->stop(), 0) << server->log();

  // The outbox: one job per entry into assessment, every one done (none left pending, leased or
  // failed), and one remembered answer per acknowledged transition.
  const auto outbox = test::query_sql(db_, "SELECT status, count(*) FROM outbox GROUP BY status");
  int jobs = 0;
  for (const auto& row : outbox) {
    EXPECT_EQ(row[0], "done") << row[1] << " job(s)";
    jobs += std::stoi(row[1]);
  }
  EXPECT_EQ(jobs, steps_expected);
  const auto remembered = test::query_sql(db_, "SELECT count(*) FROM idempotency");
  ASSERT_EQ(remembered.size(), 1U);
  EXPECT_EQ(std::stoi(remembered[0][0]), acknowledged);
  const auto integrity = test::query_sql(db_, "PRAGMA integrity_check");
  ASSERT_EQ(integrity.size(), 1U);
  EXPECT_EQ(integrity[0][0], "ok");
  const auto verified = test::run_carepath({"verify", "--db", db_}, dir_);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  std::cout << "crash test: carepath " << verified.out;
  const auto audited = test::run_carepath({"audit", "verify", "--db", db_}, dir_);
  EXPECT_EQ(audited.exit_code, 0) << audited.out << audited.err;

  std::cout << "crash test: " << survived << " kills survived in " << run_seconds << " s; "
            << cases.size() << " cases; " << acknowledged << " transitions acknowledged, " << found
            << " found exactly once; " << lost_then_replayed + lost_then_applied
            << " lost an answer and were sent again with the same key (" << lost_sends
            << " sends without an answer in all): " << lost_then_replayed
            << " had been committed (answered from the remembered answer), " << lost_then_applied
            << " had not (applied on retry); " << lost_creations
            << " case creations without an answer; " << steps_found << " of " << steps_expected
            << " async steps recorded once, " << jobs << " outbox jobs, all done\n";
}

}  // namespace
}  // namespace carepath
