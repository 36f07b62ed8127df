#include "api/http.hpp"

#include <algorithm>
#include <array>
#include <random>

#include <boost/asio/ip/address.hpp>
#include <boost/json/serialize.hpp>

namespace carepath::api {

HttpReply json_reply(int status, const boost::json::value& body) {
  HttpReply reply;
  reply.status = status;
  reply.body = boost::json::serialize(body);
  return reply;
}

bool is_printable_ascii(std::string_view text, std::size_t max_size) {
  if (text.empty() || text.size() > max_size) {
    return false;
  }
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

std::string request_id_for(const std::string* header) {
  constexpr std::size_t kMaxRequestIdSize = 128;
  // Letters, digits, '.', '_' and '-' only: the id is copied into every log line, where a space
  // or '=' could forge an attribute of the text format.
  const auto sane = [](const std::string& id) {
    return !id.empty() && id.size() <= kMaxRequestIdSize &&
           std::all_of(id.begin(), id.end(), [](char c) {
             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
           });
  };
  if (header && sane(*header)) {
    return *header;
  }
  // Request ids only correlate log lines with answers; they guard nothing, so a seeded
  // pseudo-random generator per thread is enough and takes no lock.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                         '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string id;
  id.reserve(32);
  for (int word = 0; word < 2; ++word) {
    std::uint64_t bits = generator();
    for (int nibble = 0; nibble < 16; ++nibble) {
      id.push_back(kHex[bits & 0xfU]);
      bits >>= 4U;
    }
  }
  return id;
}

std::string client_address(std::string_view peer, const std::string* forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
  const auto trusted = [&](std::string_view address) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), address) !=
           trusted_proxies.end();
  };
  if (forwarded_for == nullptr || !trusted(peer)) {
    return std::string(peer);
  }
  std::string_view rest = *forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    std::string_view item = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
      item.remove_suffix(1);
    }
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(item), ec);
    if (ec) {
      return std::string(peer);  // a proxy would not write this: stop trusting the header here
    }
    std::string text = address.to_string();
    if (!trusted(text)) {
      return text;
    }
  }
  return std::string(peer);
}

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace carepath::api
