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

// Sends one request and reads the answer. A body gets `Content-Type: application/json` unless
// `headers` sets Content-Type. Throws std::runtime_error when the exchange fails or times out.
HttpResponse http_request(std::uint16_t port, std::string_view method, std::string_view target,
                          std::string_view body = {},
                          const std::vector<std::pair<std::string, std::string>>& headers = {});

// Writes `bytes` as they are, half-closes, and returns everything the server sends until it
// closes the connection. Throws std::runtime_error when that takes longer than 10 s.
std::string raw_request(std::uint16_t port, std::string bytes);

}  // namespace carepath::test
