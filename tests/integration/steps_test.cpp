// Asynchronous steps end to end: core.webhook delivered to a receiver on 127.0.0.1 and signed,
// retries that run out into an incident, the retry endpoint, and jobs that survive SIGKILL.
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/json.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/engine.hpp"
#include "security/digest.hpp"
#include "security/tokens.hpp"
#include "store/sqlite_store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/keys.hpp"
#include "tests/support/temp_dir.hpp"

namespace carepath {
namespace {

// A webhook receiver: answers every POST with `status` and keeps what it was sent.
class Receiver {
 public:
  struct Request {
    std::string headers;  // lower-cased
    std::string body;
  };

  Receiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    const int yes = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::uint16_t port() const { return port_; }
  void set_status(int status) { status_ = status; }
  std::vector<Request> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) {
        continue;
      }
      std::string data;
      std::array<char, 4096> buffer{};
      std::size_t need = std::string::npos;
      while (need == std::string::npos || data.size() < need) {
        pollfd c{client, POLLIN, 0};
        if (::poll(&c, 1, 2000) <= 0) {
          break;
        }
        const ssize_t n = ::read(client, buffer.data(), buffer.size());
        if (n <= 0) {
          break;
        }
        data.append(buffer.data(), static_cast<std::size_t>(n));
        const auto end = data.find("\r\n\r\n");
        if (end != std::string::npos && need == std::string::npos) {
          std::string head = data.substr(0, end);
          for (char& ch : head) {
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          }
          std::smatch m;
          const std::size_t length =
              std::regex_search(head, m, std::regex("content-length: *([0-9]+)"))
                  ? std::stoul(m[1].str())
                  : 0;
          need = end + 4 + length;
        }
      }
      const auto end = data.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = data.substr(0, end);
        for (char& ch : head) {
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
        std::lock_guard lock(mutex_);
        requests_.push_back({head, data.substr(end + 4)});
      }
      const std::string reply = "HTTP/1.1 " + std::to_string(status_.load()) +
                                " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)::write(client, reply.data(), reply.size());
      ::close(client);
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> status_{200};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Request> requests_;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

std::string notify_workflow(std::uint16_t port, int max_attempts) {
  return R"(carepath: 1
workflow: notify
version: 1
roles: [caseworker]
fields:
  name: { type: string, sensitivity: identifying }
states:
  open:
    initial: true
    on:
      escalate: { to: escalated, roles: [caseworker] }
  escalated:
    on_enter:
      - step: core.webhook
        async: true
        retry: { max_attempts: )" +
         std::to_string(max_attempts) + R"(, backoff: 10ms }
        with: { url: "http://127.0.0.1:)" +
         std::to_string(port) + R"(/hooks/carepath", event: escalated }
    on:
      close: { to: closed, roles: [caseworker] }
  closed:
    final: true
)";
}

template <class Predicate>
bool eventually(Predicate predicate) {
  for (int i = 0; i < 500; ++i) {
    if (predicate()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

class AsyncSteps : public ::testing::Test {
 protected:
  void start(int max_attempts) {
    std::filesystem::create_directories(dir_ / "workflows");
    std::ofstream(dir_ / "workflows" / "notify.yaml")
        << notify_workflow(receiver_.port(), max_attempts);
    app::Config config;
    config.port = test::listen_port();
    config.db = (dir_ / "carepath.db").string();
    config.master_key = test::master_key_file();
    config.workflows = (dir_ / "workflows").string();
    config.webhook_secret = "invented-test-secret";
    auto engine = app::Engine::open(config);
    ASSERT_TRUE(engine) << engine.error().message;
    engine_ = std::move(*engine);
    auto port = engine_->start();
    ASSERT_TRUE(port);
    port_ = *port;
    auto issued = security::issue_token("asha", {"caseworker"}, 0);
    ASSERT_TRUE(engine_->store().create_token(issued->record));
    token_ = issued->token;
  }

  test::HttpResponse call(std::string_view method, const std::string& target,
                          std::string_view body = {}) {
    return test::http_request(port_, method, target, body, {{"Authorization", "Bearer " + token_}});
  }

  std::string open_and_escalate() {
    auto opened = call("POST", "/v1/cases",
                       R"({"workflow": "notify", "data": {"name": "Invented Person Q"}})");
    EXPECT_EQ(opened.status, 201) << opened.body;
    const std::string id(opened.json().at("id").as_string());
    EXPECT_EQ(call("POST", "/v1/cases/" + id + "/events", R"({"event": "escalate"})").status, 200);
    return id;
  }

  test::TempDir dir_;
  Receiver receiver_;
  std::unique_ptr<app::Engine> engine_;
  std::uint16_t port_ = 0;
  std::string token_;
};

TEST_F(AsyncSteps, WebhookIsDeliveredSignedAndWithoutFieldValues) {
  start(3);
  const std::string id = open_and_escalate();
  ASSERT_TRUE(eventually([&] { return !receiver_.requests().empty(); }));
  const auto request = receiver_.requests().front();
  EXPECT_NE(request.headers.find("post /hooks/carepath http/1.1"), std::string::npos);
  const auto body = boost::json::parse(request.body).as_object();
  EXPECT_EQ(body.at("case").at("id"), id.c_str());
  EXPECT_EQ(body.at("event"), "escalated");
  EXPECT_EQ(body.at("to"), "escalated");
  EXPECT_EQ(request.body.find("Invented Person Q"), std::string::npos);
  const std::string signature = "x-carepath-signature: sha256=" +
                                security::hmac_sha256_hex("invented-test-secret", request.body);
  EXPECT_NE(request.headers.find(signature), std::string::npos) << request.headers;
  EXPECT_NE(request.headers.find("x-carepath-idempotency-key: " + id + "/2/enter/escalated/0"),
            std::string::npos)
      << request.headers;
  // The delivery is in the case history.
  ASSERT_TRUE(eventually([&] {
    return call("GET", "/v1/cases/" + id + "/events").body.find("step_completed") !=
           std::string::npos;
  }));
}

TEST_F(AsyncSteps, ExhaustedRetriesOpenAnIncidentThatCanBeRetried) {
  receiver_.set_status(503);
  start(2);
  const std::string id = open_and_escalate();
  boost::json::array incidents;
  ASSERT_TRUE(eventually([&] {
    auto r = call("GET", "/v1/cases/" + id + "/incidents");
    incidents = r.json().at("items").as_array();
    return !incidents.empty();
  }));
  EXPECT_EQ(receiver_.requests().size(), 2U);  // max_attempts
  const auto& incident = incidents[0].as_object();
  EXPECT_EQ(incident.at("step"), "core.webhook");
  EXPECT_EQ(incident.at("status"), "open");
  EXPECT_EQ(incident.at("attempts"), 2);
  EXPECT_NE(std::string(incident.at("message").as_string()).find("503"), std::string::npos);

  // The receiver is back; retrying the incident delivers once more, with the same key.
  receiver_.set_status(200);
  const std::string iid(incident.at("id").as_string());
  auto retried = call("POST", "/v1/cases/" + id + "/incidents/" + iid + "/retry");
  EXPECT_EQ(retried.status, 202) << retried.body;
  ASSERT_TRUE(eventually([&] { return receiver_.requests().size() == 3U; }));
  const std::string key = "x-carepath-idempotency-key: " + id + "/2/enter/escalated/0\r\n";
  for (const auto& r : receiver_.requests()) {
    EXPECT_NE(r.headers.find(key), std::string::npos) << r.headers;
  }
  auto resolved = call("GET", "/v1/cases/" + id + "/incidents");
  EXPECT_EQ(resolved.json().at("items").at(0).at("status"), "resolved");
  auto again = call("POST", "/v1/cases/" + id + "/incidents/" + iid + "/retry");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(call("POST", "/v1/cases/" + id + "/incidents/nope/retry").status, 404);
}

// The server is killed (SIGKILL) while a job waits in the outbox for a receiver that is down; after
// a restart the job runs, and every delivery carries the same idempotency key.
TEST(AsyncStepsProcess, AJobSurvivesSigkillAndRunsAfterRestart) {
  test::TempDir dir;
  Receiver receiver;
  receiver.set_status(503);
  std::filesystem::create_directories(dir / "workflows");
  std::ofstream(dir / "workflows" / "notify.yaml") << notify_workflow(receiver.port(), 100);
  const std::string binary = std::string(CP_BINARY_DIR) + "/engine/src/app/carepath";
  const std::string db = (dir / "carepath.db").string();
  const std::string workflows = (dir / "workflows").string();

  // Starts the server with stderr in a file (a pipe nobody reads could block or kill it) and
  // reads the port back from its "listening on" line.
  int starts = 0;
  auto serve = [&](std::uint16_t& port) -> pid_t {
    const std::string log_file = (dir / ("serve-" + std::to_string(++starts) + ".log")).string();
    const std::string& key = test::master_key_file();
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      ::setenv("CAREPATH_MASTER_KEY_FILE", key.c_str(), 1);
      ::execl(binary.c_str(), binary.c_str(), "serve", "--listen", "127.0.0.1:0", "--db",
              db.c_str(), "--workflows", workflows.c_str(), "--step-lease-ms", "1000",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::smatch m;
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    std::string log;
    EXPECT_TRUE(eventually([&] {
      std::ifstream in(log_file);
      log.assign(std::istreambuf_iterator<char>(in), {});
      return std::regex_search(log, m, listening);
    })) << log;
    port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    return pid;
  };

  auto issued = security::issue_token("asha", {"caseworker"}, 0);
  std::uint16_t port = 0;
  pid_t pid = serve(port);
  {
    // Tokens live in the database; write one through a store of our own.
    auto store = store::SqliteStore::open(db);
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->create_token(issued->record));
  }
  const test::HttpResponse opened =
      test::http_request(port, "POST", "/v1/cases", R"({"workflow": "notify"})",
                         {{"Authorization", "Bearer " + issued->token}});
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id(opened.json().at("id").as_string());
  ASSERT_EQ(
      test::http_request(port, "POST", "/v1/cases/" + id + "/events", R"({"event": "escalate"})",
                         {{"Authorization", "Bearer " + issued->token}})
          .status,
      200);
  ASSERT_TRUE(eventually([&] { return !receiver.requests().empty(); }));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::size_t before = receiver.requests().size();

  receiver.set_status(200);
  pid = serve(port);
  ASSERT_TRUE(eventually([&] {
    return test::http_request(port, "GET", "/v1/cases/" + id + "/events", {},
                              {{"Authorization", "Bearer " + issued->token}})
               .body.find("step_completed") != std::string::npos;
  }));
  ::kill(pid, SIGTERM);
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);

  const auto requests = receiver.requests();
  ASSERT_GT(requests.size(), before);
  const std::string key = "x-carepath-idempotency-key: " + id + "/2/enter/escalated/0";
  for (const auto& r : requests) {
    EXPECT_NE(r.headers.find(key), std::string::npos) << r.headers;
  }
}

}  // namespace
}  // namespace carepath
