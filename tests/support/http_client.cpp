#include "tests/support/http_client.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

namespace carepath::test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using Tcp = net::ip::tcp;

constexpr std::chrono::seconds kTimeout{10};
constexpr std::uint64_t kMaxResponseBody = 64ULL * 1024 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return out;
}

Tcp::endpoint local(std::uint16_t port) {
  return {net::ip::make_address_v4("127.0.0.1"), port};
}

}  // namespace

boost::json::value HttpResponse::json() const {
  return boost::json::parse(body);
}

std::string HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

// One exchange with 127.0.0.1:`port`.
HttpResponse exchange(std::uint16_t port, std::string_view method, std::string_view target,
                      std::string_view body,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> request;
  request.version(11);
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    request.method_string(method);
  } else {
    request.method(verb);
  }
  request.target(target);
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  request.keep_alive(false);
  bool has_content_type = false;
  for (const auto& [name, value] : headers) {
    request.insert(name, value);
    has_content_type = has_content_type || lower(name) == "content-type";
  }
  if (!body.empty()) {
    if (!has_content_type) {
      request.set(http::field::content_type, "application/json");
    }
    request.body() = std::string(body);
  }
  request.prepare_payload();

  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  beast::error_code connect_ec;
  beast::error_code write_ec;
  beast::error_code read_ec;

  // The async operations share one deadline; synchronous ones would ignore it.
  stream.expires_after(kTimeout);
  stream.async_connect(local(port), [&](beast::error_code ec) {
    connect_ec = ec;
    if (ec) {
      return;
    }
    http::async_write(stream, request, [&](beast::error_code sent, std::size_t) {
      // A server that answers early (413) may stop reading before the body is sent; its answer
      // can still be read, so read either way.
      write_ec = sent;
      http::async_read(stream, buffer, parser,
                       [&](beast::error_code got, std::size_t) { read_ec = got; });
    });
  });
  ioc.run();
  if (!parser.is_done()) {
    const beast::error_code& ec = connect_ec ? connect_ec : (read_ec ? read_ec : write_ec);
    const char* step = connect_ec ? "connect" : (read_ec ? "read" : "write");
    throw std::runtime_error("http_request " + std::string(method) + " " + std::string(target) +
                             ": " + step + ": " + ec.message());
  }

  auto response = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    auto [it, inserted] =
        out.headers.emplace(lower(field.name_string()), std::string(field.value()));
    if (!inserted) {
      it->second += ", " + std::string(field.value());
    }
  }
  out.body = std::move(response.body());
  return out;
}

std::uint16_t env_port(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr) {
    return 0;
  }
  unsigned value = 0;
  const std::string_view view(text);
  const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  return ec == std::errc{} && end == view.data() + view.size() && value <= 65535
             ? static_cast<std::uint16_t>(value)
             : 0;
}

// Appends one line to the file CP_TEST_PRISM_LOG names, if any.
void prism_log(std::string_view kind, std::string_view method, std::string_view target,
               std::string_view note) {
  static std::mutex mutex;
  const char* path = std::getenv("CP_TEST_PRISM_LOG");
  if (path == nullptr || *path == '\0') {
    return;
  }
  std::string line = std::string(kind) + " " + std::string(method) + " " + std::string(target);
  if (!note.empty()) {
    line += " " + std::string(note);
  }
  std::replace(line.begin(), line.end(), '\n', ' ');
  const std::lock_guard lock(mutex);
  std::ofstream(path, std::ios::app) << line << '\n';
}

constexpr std::string_view kPrismErrors = "https://stoplight.io/prism/errors#";

// Prism's own answers: problems whose type is one of its error URLs, or, for a body that is not
// JSON, its HTTP framework's {"error": {"code": "invalid_json", ...}}. Their type, or nullopt
// for an answer of the server.
std::optional<std::string> prism_error_type(const HttpResponse& response) {
  if (response.header("content-type").find("json") == std::string::npos) {
    return std::nullopt;
  }
  boost::system::error_code ec;
  const auto body = boost::json::parse(response.body, ec);
  if (ec || !body.is_object()) {
    return std::nullopt;
  }
  if (const auto* error = body.as_object().if_contains("error");
      response.status == 400 && error != nullptr && error->is_object() &&
      error->as_object().contains("code")) {
    return "INVALID_JSON";
  }
  const auto* type = body.as_object().if_contains("type");
  if (type == nullptr || !type->is_string() || !type->as_string().starts_with(kPrismErrors)) {
    return std::nullopt;
  }
  return std::string(type->as_string().subview().substr(kPrismErrors.size()));
}

}  // namespace

std::uint16_t listen_port() {
  return env_port("CP_TEST_LISTEN_PORT");
}

HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          std::string_view body,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  const std::uint16_t proxy = env_port("CP_TEST_PROXY_PORT");
  if (proxy == 0 || port == 0 || port != listen_port()) {
    return exchange(port, method, target, body, headers);
  }
  HttpResponse answer = exchange(proxy, method, target, body, headers);
  const auto prism = prism_error_type(answer);
  // With --errors Prism answers 500 VIOLATIONS instead of the server's answer; without it, or for
  // findings below its error level, it passes the server's answer on with an sl-violations header.
  const std::string violations = prism == "VIOLATIONS" ? answer.body
                                 : prism               ? std::string()
                                                       : answer.header("sl-violations");
  if (!violations.empty()) {
    prism_log("VIOLATION", method, target, violations);
    throw std::runtime_error("docs/openapi.yaml does not describe the server's answer to " +
                             std::string(method) + " " + std::string(target) +
                             " (Prism): " + violations);
  }
  if (!prism) {
    prism_log("checked", method, target, std::to_string(answer.status));
    return answer;
  }
  // Prism refused the request itself; the server's answer is what the test is about.
  prism_log("refused", method, target, *prism + " " + answer.body);
  return exchange(port, method, target, body, headers);
}

std::string raw_request(std::uint16_t port, std::string bytes) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  std::string received;
  std::array<char, 4096> chunk{};
  beast::error_code failure;
  bool timed_out = false;

  std::function<void()> read_more = [&] {
    stream.async_read_some(net::buffer(chunk), [&](beast::error_code ec, std::size_t n) {
      received.append(chunk.data(), n);
      if (ec == beast::error::timeout) {
        timed_out = true;
      }
      if (!ec) {
        read_more();
      }
    });
  };
  stream.expires_after(kTimeout);
  stream.async_connect(local(port), [&](beast::error_code ec) {
    if (ec) {
      failure = ec;
      return;
    }
    net::async_write(stream, net::buffer(bytes), [&](beast::error_code, std::size_t) {
      beast::error_code ignored;
      stream.socket().shutdown(Tcp::socket::shutdown_send, ignored);
      read_more();
    });
  });
  ioc.run();
  if (failure) {
    throw std::runtime_error("raw_request: connect: " + failure.message());
  }
  if (timed_out) {
    throw std::runtime_error("raw_request: the server did not close the connection within 10 s");
  }
  return received;
}

}  // namespace carepath::test
