#include "io/socket_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace uipsec {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(SocketAddress, MapsAndUnmapsIpv4) {
  EXPECT_TRUE(is_v4_mapped(ip("::ffff:198.18.0.1")));
  EXPECT_FALSE(is_v4_mapped(ip("2001:db8::1")));
  EXPECT_FALSE(is_v4_mapped(ip("198.18.0.1")));
  EXPECT_EQ(unmap_v4(ip("::ffff:198.18.0.1")), ip("198.18.0.1"));
  EXPECT_EQ(unmap_v4(ip("2001:db8::1")), ip("2001:db8::1"));
  EXPECT_EQ(map_v4(ip("198.18.0.1")), ip("::ffff:198.18.0.1"));
  EXPECT_EQ(map_v4(ip("2001:db8::1")), ip("2001:db8::1"));
}

TEST(SocketAddress, Ipv4PeerOnADualStackSocketIsV4Mapped) {
  sockaddr_storage s;
  ASSERT_EQ(to_sockaddr({ip("198.18.0.9"), 4500}, AF_INET6, s), sizeof(sockaddr_in6));
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&s);
  EXPECT_EQ(sin6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6->sin6_port), 4500);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
  EXPECT_STREQ(text, "::ffff:198.18.0.9");

  auto back = from_sockaddr(reinterpret_cast<const sockaddr*>(&s), sizeof(sockaddr_in6));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, (Endpoint{ip("198.18.0.9"), 4500})) << "comes back as plain IPv4";
}

TEST(SocketAddress, RoundTripsEachFamily) {
  for (const char* a : {"198.18.0.1", "2001:db8::7"}) {
    const Endpoint e{ip(a), 500};
    sockaddr_storage s;
    const int family = e.address.is_v4() ? AF_INET : AF_INET6;
    const socklen_t length = to_sockaddr(e, family, s);
    ASSERT_NE(length, 0u);
    EXPECT_EQ(from_sockaddr(reinterpret_cast<const sockaddr*>(&s), length), e) << a;
  }
}

TEST(SocketAddress, RefusesWhatTheSocketCannotReach) {
  sockaddr_storage s;
  EXPECT_EQ(to_sockaddr({ip("2001:db8::1"), 4500}, AF_INET, s), 0u);
  EXPECT_EQ(to_sockaddr({ip("198.18.0.1"), 4500}, AF_UNIX, s), 0u);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  EXPECT_FALSE(from_sockaddr(reinterpret_cast<const sockaddr*>(&sin), sizeof(sin) - 1));
  EXPECT_FALSE(from_sockaddr(nullptr, 0));
  sockaddr_storage unix_address{};
  unix_address.ss_family = AF_UNIX;
  EXPECT_FALSE(
      from_sockaddr(reinterpret_cast<const sockaddr*>(&unix_address), sizeof(unix_address)));
}

}  // namespace
}  // namespace uipsec
