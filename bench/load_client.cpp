#include "load_client.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "core/metrics.hpp"

namespace carepath::bench {

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using Tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

}  // namespace

double Figures::percentile_ms(double p) {
  if (latencies_us.empty()) {
    return 0;
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(latencies_us.size() - 1));
  return latencies_us[at] / 1000.0;
}

// A raw HTTP/1.1 request, ready to write.
std::string request_text(std::string_view method, const std::string& target,
                         const std::string& token, const std::string& body) {
  std::string text;
  text.reserve(256 + body.size());
  text.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  if (!token.empty()) {
    text.append("Authorization: Bearer ").append(token).append("\r\n");
  }
  if (!body.empty()) {
    text.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  text.append("\r\n").append(body);
  return text;
}

// One request on a fresh blocking connection, for setting up: the status and the body.
std::pair<int, std::string> call(std::uint16_t port, const std::string& text) {
  net::io_context ioc;
  Tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(socket, net::buffer(text));
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return {static_cast<int>(response.result_int()), response.body()};
}

// Keeps `count` connections busy, each sending a request as soon as the answer to its last one
// arrived, for `seconds` after a warm-up of a tenth of that.
Figures drive(std::uint16_t port, int count, double seconds, const NextRequest& next) {
  struct Connection {
    explicit Connection(net::io_context& ioc) : socket(ioc) {}
    Tcp::socket socket;
    boost::beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    SteadyClock::time_point sent;
    std::uint64_t n = 0;
  };
  net::io_context ioc;
  std::vector<std::unique_ptr<Connection>> connections;
  const Tcp::endpoint endpoint{net::ip::make_address("127.0.0.1"), port};
  for (int i = 0; i < count; ++i) {
    connections.push_back(std::make_unique<Connection>(ioc));
    connections.back()->socket.connect(endpoint);
    connections.back()->socket.set_option(Tcp::no_delay(true));
  }
  Figures figures;
  figures.latencies_us.reserve(1'000'000);
  const auto warm_until = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                   std::chrono::duration<double>(seconds / 10));
  const auto until = warm_until + std::chrono::duration_cast<SteadyClock::duration>(
                                      std::chrono::duration<double>(seconds));
  std::function<void(std::size_t)> send;
  send = [&](std::size_t index) {
    Connection& c = *connections[index];
    const std::string& text = next(index, c.n++);
    c.sent = SteadyClock::now();
    net::async_write(
        c.socket, net::buffer(text),
        [&, index](boost::system::error_code ec, std::size_t /*bytes*/) {
          if (ec) {
            ++figures.errors;
            return;
          }
          Connection& conn = *connections[index];
          conn.parser.emplace();
          conn.parser->body_limit(std::uint64_t{16} * 1024 * 1024);
          http::async_read(
              conn.socket, conn.buffer, *conn.parser,
              [&, index](boost::system::error_code read_ec, std::size_t /*bytes*/) {
                Connection& done = *connections[index];
                const auto now = SteadyClock::now();
                if (read_ec) {
                  ++figures.errors;
                  return;
                }
                if (now >= warm_until) {
                  ++figures.requests;
                  const unsigned status = done.parser->get().result_int();
                  if (status < 200U || status > 299U) {
                    ++figures.errors;
                  }
                  figures.latencies_us.push_back(static_cast<std::uint32_t>(
                      std::chrono::duration_cast<std::chrono::microseconds>(now - done.sent)
                          .count()));
                }
                if (now < until) {
                  send(index);
                }
              });
        });
  };
  for (std::size_t i = 0; i < connections.size(); ++i) {
    send(i);
  }
  const auto started = warm_until;
  ioc.run();
  figures.seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  return figures;
}

Measured drive_measured(std::uint16_t port, int count, double seconds, const NextRequest& next) {
  const double held_before = metrics::engine().db_write_group.sum({});
  const auto started = std::chrono::steady_clock::now();
  Figures figures = drive(port, count, seconds, next);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double held = metrics::engine().db_write_group.sum({}) - held_before;
  return Measured{std::move(figures), wall > 0 ? held / wall : 0};
}

}  // namespace carepath::bench
