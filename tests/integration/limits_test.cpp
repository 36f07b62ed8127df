// The HTTP limits of the real server (docs/rest-api.md "Limits"), configured small through
// app::Config: each breach gets its status and problem type, nothing sent is echoed, and the
// server goes on answering others. The server listens on its own port, not through the
// validating proxy of the openapi.prism run, whose own connections would count against
// max_connections.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "tests/integration/encrypted_engine.hpp"
#include "tests/support/http_client.hpp"

namespace carepath {
namespace {

namespace net = boost::asio;
using Tcp = net::ip::tcp;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Generous: the CI machine has two loaded cores.
constexpr auto kPatience = 10s;

// One connection driven by hand, byte by byte.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) : socket_(ioc_) {
    socket_.connect(Tcp::endpoint(net::ip::address_v4::loopback(), port));
  }

  void send(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }

  // Reads until the server closes the connection or `patience` passes; what arrived.
  std::string read_to_close(std::chrono::milliseconds patience = kPatience) {
    const auto deadline = SteadyClock::now() + patience;
    while (!closed_ && SteadyClock::now() < deadline) {
      read_some(deadline);
    }
    return received_;
  }

  // Reads one whole answer (head and Content-Length body) and removes it from what was
  // received; "" when none arrived within `patience`.
  std::string read_answer(std::chrono::milliseconds patience = kPatience) {
    const auto deadline = SteadyClock::now() + patience;
    while (SteadyClock::now() < deadline) {
      const auto head_end = received_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        const auto at = received_.find("Content-Length: ");
        if (at != std::string::npos && at < head_end) {
          length = std::stoul(received_.substr(at + 16));
        }
        if (received_.size() >= head_end + 4 + length) {
          std::string answer = received_.substr(0, head_end + 4 + length);
          received_.erase(0, answer.size());
          return answer;
        }
      }
      if (closed_) {
        return {};
      }
      read_some(deadline);
    }
    return {};
  }

  bool closed() const { return closed_; }
  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void read_some(SteadyClock::time_point deadline) {
    std::array<char, 4096> chunk{};
    bool done = false;
    socket_.async_read_some(net::buffer(chunk),
                            [&](boost::system::error_code ec, std::size_t bytes) {
                              received_.append(chunk.data(), bytes);
                              closed_ = closed_ || static_cast<bool>(ec);
                              done = true;
                            });
    ioc_.restart();
    ioc_.run_until(deadline);
    if (!done) {
      socket_.cancel();
      ioc_.restart();
      ioc_.run();
    }
  }

  net::io_context ioc_;
  Tcp::socket socket_;
  std::string received_;
  bool closed_ = false;
};

int status_of(std::string_view answer) {
  return answer.starts_with("HTTP/1.1 ") ? std::stoi(std::string(answer.substr(9, 3))) : 0;
}

class Limits : public test::EncryptedEngineTest {
 protected:
  void SetUp() override {
    EncryptedEngineTest::SetUp();
    config_.port = 0;  // see the top of the file
    config_.body_limit = 1024;
    config_.header_limit = 1024;
    config_.header_timeout_ms = 300;
    config_.request_timeout_ms = 600;
    config_.max_connections = 4;
    config_.json_max_depth = 4;
    config_.json_max_members = 5;
    config_.json_max_string = 16;
    config_.auth_failures_per_minute = 4;
  }

  static boost::json::object problem(const test::HttpResponse& r, int status,
                                     std::string_view type) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << r.body;
    const boost::json::value body = boost::json::parse(r.body);
    EXPECT_EQ(body.at("type"), boost::json::value("/problems/" + std::string(type))) << r.body;
    return body.as_object();
  }

  void expect_alive() {
    const auto r = test::http_request(port_, "GET", "/healthz");
    EXPECT_EQ(r.status, 200) << r.body;
  }

  test::HttpResponse open_case(const std::string& bearer, const std::string& data) {
    return call("POST", "/v1/cases", bearer, R"({"workflow": "aftercare", "data": )" + data + "}");
  }
};

TEST_F(Limits, HeadersOverTheLimitAre431) {
  start();
  const auto r =
      test::http_request(port_, "GET", "/healthz", {}, {{"X-Padding", std::string(2000, 'p')}});
  problem(r, 431, "request-header-too-large");
  EXPECT_EQ(r.body.find("ppp"), std::string::npos) << r.body;
  expect_alive();
}

TEST_F(Limits, BodiesOverTheLimitAre413WhateverTheFraming) {
  start();
  const std::string caseworker = token("asha.caseworker", {"caseworker"});
  const auto big = open_case(caseworker, R"({"name": ")" + std::string(2000, 'n') + R"("})");
  problem(big, 413, "too-large");
  EXPECT_EQ(big.header("connection"), "close");
  expect_alive();

  std::string chunked = "POST /v1/cases HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) {
    chunked += "40\r\n" + std::string(64, 'x') + "\r\n";
  }
  chunked += "0\r\n\r\n";
  const std::string raw = test::raw_request(port_, chunked);
  EXPECT_EQ(status_of(raw), 413) << raw;
  expect_alive();

  // A Content-Length over the limit is refused from the head alone, without waiting for a body
  // that never comes (that would be a 408 after request_timeout).
  RawConnection liar(port_);
  liar.send("POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{}");
  const std::string answer = liar.read_answer();
  EXPECT_EQ(status_of(answer), 413) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  expect_alive();
}

TEST_F(Limits, JsonTooDeepTooWideOrWithTooLongAStringIs400NamingTheLimitAndWhere) {
  start();
  const std::string caseworker = token("asha.caseworker", {"caseworker"});

  auto deep =
      problem(open_case(caseworker, R"({"a": {"b": {"c": {}}}})"), 400, "json-limit-exceeded");
  EXPECT_EQ(deep.at("limit"), "json_max_depth");
  EXPECT_EQ(deep.at("max"), 4);

  auto wide = problem(open_case(caseworker, R"({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6})"),
                      400, "json-limit-exceeded");
  EXPECT_EQ(wide.at("limit"), "json_max_members");
  EXPECT_EQ(wide.at("pointer"), "/data");

  auto items =
      problem(open_case(caseworker, R"({"list": [1, 2, 3, 4, 5, 6]})"), 400, "json-limit-exceeded");
  EXPECT_EQ(items.at("pointer"), "/data/list");

  const std::string secret = "Qzyxwv Tarnobel the long secret";
  const auto long_string = open_case(caseworker, R"({"na/me": ")" + secret + R"("})");
  auto text = problem(long_string, 400, "json-limit-exceeded");
  EXPECT_EQ(text.at("limit"), "json_max_string");
  EXPECT_EQ(text.at("max"), 16);
  EXPECT_EQ(text.at("pointer"), "/data/na~1me");
  EXPECT_EQ(long_string.body.find("Qzyxwv"), std::string::npos) << long_string.body;

  // Within every limit the same shape is accepted.
  const auto fine = open_case(caseworker, R"({"name": "Asha", "date_of_birth": "2011-04-05",
                                             "home": "umang"})");
  EXPECT_EQ(fine.status, 201) << fine.body;
  expect_alive();
}

TEST_F(Limits, ASlowClientGets408AndAnIdleOneIsClosedQuietly) {
  start();
  // A slowloris: half a head, then nothing.
  RawConnection slow(port_);
  const auto began = SteadyClock::now();
  slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const std::string answer = slow.read_to_close();
  EXPECT_EQ(status_of(answer), 408) << answer;
  EXPECT_NE(answer.find("/problems/request-timeout"), std::string::npos) << answer;
  EXPECT_TRUE(slow.closed());
  EXPECT_GE(SteadyClock::now() - began, 250ms);  // not before header_timeout (300 ms)
  expect_alive();

  // A head on time but a body that stops short: the whole request has request_timeout.
  RawConnection short_body(port_);
  short_body.send("POST /v1/cases HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"wor");
  const std::string cut = short_body.read_to_close();
  EXPECT_EQ(status_of(cut), 408) << cut;
  expect_alive();

  // Nothing sent at all, or nothing after an answer on a kept-alive connection: just closed.
  RawConnection idle(port_);
  EXPECT_EQ(idle.read_to_close(), "");
  EXPECT_TRUE(idle.closed());
  RawConnection kept(port_);
  kept.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(kept.read_answer()), 200);
  EXPECT_EQ(kept.read_to_close(), "");
  EXPECT_TRUE(kept.closed());
}

TEST_F(Limits, ConnectionsOverTheLimitGet503AndOthersAreStillServed) {
  config_.header_timeout_ms = 20'000;  // the held connections must stay open
  config_.request_timeout_ms = 20'000;
  start();
  const std::string ping = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<RawConnection>(port_));
    held.back()->send(ping);
    ASSERT_EQ(status_of(held.back()->read_answer()), 200) << "connection " << i;
  }

  RawConnection extra(port_);
  const std::string refused = extra.read_to_close();
  EXPECT_EQ(status_of(refused), 503) << refused;
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_NE(refused.find("/problems/too-many-connections"), std::string::npos) << refused;

  // The held connections are still served.
  held[1]->send(ping);
  EXPECT_EQ(status_of(held[1]->read_answer()), 200);

  // Closing one lets a new one in (the server notices the close asynchronously).
  held[0]->close();
  int status = 0;
  const auto deadline = SteadyClock::now() + kPatience;
  while (status != 200 && SteadyClock::now() < deadline) {
    RawConnection next(port_);
    next.send(ping);
    status = status_of(next.read_answer());
    if (status != 200) {
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_EQ(status, 200);
}

TEST_F(Limits, AuthenticationFailuresFromOneAddressGet429ButAValidTokenStillWorks) {
  start();
  const std::string auditor = token("ira.auditor", {"auditor"});
  for (int i = 0; i < 4; ++i) {
    const auto r = test::http_request(port_, "GET", "/v1/workflows");
    problem(r, 401, "unauthenticated");
  }
  const auto limited = test::http_request(port_, "GET", "/v1/workflows");
  problem(limited, 429, "too-many-requests");
  const int retry_after = std::stoi(limited.header("retry-after"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 60);

  // An unknown token from the blocked address: 429 as well, and the token is not echoed.
  const auto guessed = call("GET", "/v1/workflows", "cp_0123456789ab_notthesecretatall");
  problem(guessed, 429, "too-many-requests");
  EXPECT_EQ(guessed.body.find("notthesecret"), std::string::npos) << guessed.body;

  // A valid token from the same address is served.
  const auto served = call("GET", "/v1/workflows", auditor);
  EXPECT_EQ(served.status, 200) << served.body;

  // Only failures that were not rate limited are audited; the last one says so.
  const auto audit = call("GET", "/v1/audit?action=login.failed&limit=100", auditor);
  ASSERT_EQ(audit.status, 200) << audit.body;
  const boost::json::value listed = audit.json();
  const auto& rows = listed.at("items").as_array();
  EXPECT_EQ(rows.size(), 4U) << audit.body;
  int marked = 0;
  for (const auto& row : rows) {
    const auto* details = row.as_object().if_contains("details");
    marked += details != nullptr && details->as_object().contains("rate_limited") ? 1 : 0;
  }
  EXPECT_EQ(marked, 1) << audit.body;
}

TEST_F(Limits, ATokenIdIsLimitedOnItsOwnBeforeItsAddress) {
  start();
  const std::string guessed = "cp_0123456789ab_wrongsecret";
  for (int i = 0; i < 2; ++i) {
    problem(call("GET", "/v1/workflows", guessed), 401, "unauthenticated");
  }
  const auto limited = call("GET", "/v1/workflows", guessed);
  problem(limited, 429, "too-many-requests");
  EXPECT_FALSE(limited.header("retry-after").empty());
  // The address has 2 of its 4 failures: another token id is still checked.
  problem(call("GET", "/v1/workflows", "cp_ba9876543210_wrongsecret"), 401, "unauthenticated");
  expect_alive();
}

// Behind nginx every connection comes from 127.0.0.1: with it trusted, the client named in
// X-Forwarded-For is counted, so one client's failures do not lock out the others; without it,
// the header is ignored and cannot be used to dodge the limit.
TEST_F(Limits, BehindATrustedProxyEachForwardedClientIsCountedApart) {
  config_.trusted_proxies = {"127.0.0.1"};
  start();
  const auto from = [&](const std::string& client) {
    return test::http_request(port_, "GET", "/v1/workflows", {},
                              {{"X-Forwarded-For", "10.1.1.1, " + client}});
  };
  for (int i = 0; i < 4; ++i) {
    problem(from("203.0.113.7"), 401, "unauthenticated");
  }
  problem(from("203.0.113.7"), 429, "too-many-requests");
  problem(from("203.0.113.8"), 401, "unauthenticated");
  // The client part the attacker controls (left of the proxy's entry) changes nothing.
  problem(test::http_request(port_, "GET", "/v1/workflows", {},
                             {{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}}),
          429, "too-many-requests");
}

TEST_F(Limits, WithoutATrustedProxyXForwardedForIsIgnored) {
  start();
  for (int i = 0; i < 4; ++i) {
    problem(test::http_request(port_, "GET", "/v1/workflows", {},
                               {{"X-Forwarded-For", "203.0.113." + std::to_string(i)}}),
            401, "unauthenticated");
  }
  problem(
      test::http_request(port_, "GET", "/v1/workflows", {}, {{"X-Forwarded-For", "203.0.113.99"}}),
      429, "too-many-requests");
}

}  // namespace
}  // namespace carepath
