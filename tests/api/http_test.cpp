// The client address behind a reverse proxy: X-Forwarded-For, trusted only from listed proxies.
#include "api/http.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace carepath::api {
namespace {

const std::vector<std::string> kProxies{"127.0.0.1", "::1"};

TEST(ClientAddress, IsThePeerWithoutAProxy) {
  const std::string forwarded = "203.0.113.7";
  EXPECT_EQ(client_address("198.51.100.2", &forwarded, {}), "198.51.100.2");
  EXPECT_EQ(client_address("198.51.100.2", &forwarded, kProxies), "198.51.100.2");
  EXPECT_EQ(client_address("127.0.0.1", nullptr, kProxies), "127.0.0.1");
}

TEST(ClientAddress, TakesTheRightMostUntrustedEntryFromATrustedProxy) {
  // A client wrote its own header; nginx appended the address it saw.
  const std::string forwarded = "10.9.9.9, 203.0.113.7";
  EXPECT_EQ(client_address("127.0.0.1", &forwarded, kProxies), "203.0.113.7");
  // Two proxies on this machine in a row.
  const std::string chain = "203.0.113.7,127.0.0.1 , ::1";
  EXPECT_EQ(client_address("::1", &chain, kProxies), "203.0.113.7");
  // Written the long way, an IPv6 address is the same address.
  const std::string v6 = "2001:db8:0:0:0:0:0:1";
  EXPECT_EQ(client_address("127.0.0.1", &v6, kProxies), "2001:db8::1");
}

TEST(ClientAddress, StopsAtAnEntryThatIsNotAnAddress) {
  for (const std::string forwarded :
       {"not-an-address", "203.0.113.7, unknown", "", " , ", "203.0.113.7:8080", "[2001:db8::1]"}) {
    EXPECT_EQ(client_address("127.0.0.1", &forwarded, kProxies), "127.0.0.1") << forwarded;
  }
  const std::string only_proxies = "127.0.0.1, ::1";
  EXPECT_EQ(client_address("127.0.0.1", &only_proxies, kProxies), "127.0.0.1");
}

}  // namespace
}  // namespace carepath::api
