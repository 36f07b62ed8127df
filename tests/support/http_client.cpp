#include "tests/support/http_client.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
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

HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
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
