// A request and its reply as plain values, so routes, JSON mapping and problem rendering compile
// without Beast; only server.cpp translates them to and from the wire.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace carepath::api {

struct HttpRequest {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // origin-form, e.g. "/v1/cases?limit=10"
  // Lower-case names. A field sent more than once is joined with ", " (RFC 9110 5.3).
  std::map<std::string, std::string, std::less<>> headers;
  std::string body;
  // The peer's IP address as text ("127.0.0.1"); empty when unknown. Failed authentications
  // are counted per address.
  std::string remote_address;

  // The value of header `name` (lower-case), or nullptr when it was not sent.
  const std::string* header(std::string_view name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
  std::string body;
};

// A reply whose body is `body` serialised.
HttpReply json_reply(int status, const boost::json::value& body);

// True for 1 to `max_size` characters, each printable ASCII (0x20-0x7e).
bool is_printable_ascii(std::string_view text, std::size_t max_size);

// The request id to answer with: the caller's X-Request-Id when it is sane (1-128 characters of
// [A-Za-z0-9._-]), otherwise a fresh random one (32 hex digits).
std::string request_id_for(const std::string* header);

// The address of the client a request came from. `peer` is the address of the connection; when it
// is one of `trusted_proxies` (a reverse proxy such as nginx on the same machine), the client is
// the right-most address of X-Forwarded-For that is not itself a trusted proxy, since a proxy
// appends the address it saw to whatever the client sent. Anything that is not an IP address
// there is ignored, and without a usable entry the peer stands.
std::string client_address(std::string_view peer, const std::string* forwarded_for,
                           const std::vector<std::string>& trusted_proxies);

// The path of a request target without its query: "/v1/cases?limit=2" -> "/v1/cases".
std::string_view target_path(std::string_view target);

}  // namespace carepath::api
