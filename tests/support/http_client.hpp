// A small synchronous HTTP/1.1 client for tests: one request per connection to 127.0.0.1, with a
// 10 s deadline so that a hung server fails the test instead of hanging it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace carepath::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined with ", "
  std::string body;

  // The body parsed as JSON; throws when it is not JSON.
  boost::json::value json() const;
  // The header's value, or "" when absent. `name` is lower-case.
  std::string header(const std::string& name) const;
};

// The port a test's main server should listen on: CP_TEST_LISTEN_PORT when set, else 0 (any free
// port). scripts/check-openapi.sh sets it, and CP_TEST_PROXY_PORT, to send the test traffic
// through a proxy that checks every request and answer against docs/openapi.yaml.
std::uint16_t listen_port();

// Sends one request and reads the answer. A body gets `Content-Type: application/json` unless
// `headers` sets Content-Type. Throws std::runtime_error when the exchange fails or times out.
//
// When CP_TEST_PROXY_PORT is set and `port` is listen_port(), the request goes through that proxy
// (Stoplight Prism with --errors). A request the proxy refuses as not matching the document (a
// test sending a bad request on purpose) is sent again directly, so the test still sees the
// server's own answer; each is logged to the file CP_TEST_PRISM_LOG names. An answer of the
// server the proxy reports as not matching the document throws std::runtime_error with the
// proxy's message, which fails the test.
HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          std::string_view body = {},
                          const std::vector<std::pair<std::string, std::string>>& headers = {});

// Writes `bytes` as they are, half-closes, and returns everything the server sends until it
// closes the connection. Throws std::runtime_error when that takes longer than 10 s.
std::string raw_request(std::uint16_t port, std::string bytes);

}  // namespace carepath::test
