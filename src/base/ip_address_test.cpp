#include "base/ip_address.hpp"

#include <gtest/gtest.h>

namespace uipsec {
namespace {

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("198.18.0.1");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->v4_host_order(), 0xc6120001u);
  EXPECT_EQ(v4->to_string(), "198.18.0.1");
  auto v6 = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
  EXPECT_NE(*v4, *v6);
}

TEST(IpAddress, RejectsGarbage) {
  for (const char* text : {"", "198.18.0", "198.18.0.256", "2001:db8:::1", "host", "1.2.3.4 "}) {
    EXPECT_FALSE(IpAddress::parse(text).ok()) << text;
  }
}

TEST(IpPrefix, ClearsHostBitsAndMatches) {
  auto p = IpPrefix::parse("198.19.255.7/15");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->to_string(), "198.18.0.0/15");
  EXPECT_TRUE(p->contains(*IpAddress::parse("198.19.1.1")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("198.20.0.0")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("2001:db8::1")));
  EXPECT_TRUE(p->contains(*IpPrefix::parse("198.18.4.0/24")));
  EXPECT_FALSE(p->contains(*IpPrefix::parse("198.16.0.0/13")));
}

TEST(IpPrefix, Ipv6AndDefaults) {
  auto p = IpPrefix::parse("2001:db8:ff00::/33");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->to_string(), "2001:db8:8000::/33");
  EXPECT_TRUE(IpPrefix::any(IpFamily::kV6).contains(*IpAddress::parse("::1")));
  auto host = IpPrefix::parse("2001:db8::5");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->length(), 128);
}

TEST(IpPrefix, RejectsBadLengths) {
  for (const char* text : {"198.18.0.0/33", "198.18.0.0/", "198.18.0.0/-1", "2001:db8::/129",
                           "198.18.0.0/1x", "/24"}) {
    EXPECT_FALSE(IpPrefix::parse(text).ok()) << text;
  }
}

}  // namespace
}  // namespace uipsec
