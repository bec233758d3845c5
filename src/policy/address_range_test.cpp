#include "policy/address_range.hpp"

#include <gtest/gtest.h>

namespace uipsec {
namespace {

AddressRange range(const char* text) { return *AddressRange::parse(text); }
IpAddress address(const char* text) { return *IpAddress::parse(text); }

TEST(AddressRange, ParsesAndContainsBothEnds) {
  const AddressRange r = range("198.18.0.1-198.18.0.9");
  EXPECT_TRUE(r.contains(address("198.18.0.1")));
  EXPECT_TRUE(r.contains(address("198.18.0.9")));
  EXPECT_FALSE(r.contains(address("198.18.0.10")));
  EXPECT_FALSE(r.contains(address("198.18.0.0")));
  EXPECT_FALSE(r.contains(address("::198.18.0.5"))) << "other family";
  EXPECT_EQ(r.to_string(), "198.18.0.1-198.18.0.9");
  const AddressRange v6 = range("2001:db8::1-2001:db8::1:0");
  EXPECT_TRUE(v6.contains(address("2001:db8::ffff")));
  EXPECT_FALSE(v6.contains(address("2001:db8::1:1")));
}

TEST(AddressRange, RefusesWhatIsNotARange) {
  EXPECT_FALSE(AddressRange::parse("198.18.0.1").ok());
  EXPECT_FALSE(AddressRange::parse("198.18.0.9-198.18.0.1").ok()) << "first > last";
  EXPECT_FALSE(AddressRange::parse("198.18.0.1-2001:db8::1").ok()) << "two families";
  EXPECT_FALSE(AddressRange::parse("198.18.0.1-").ok());
  EXPECT_FALSE(AddressRange::parse("198.18.0.1-198.18.0.2-198.18.0.3").ok());
  auto r = AddressRange::parse("198.18.0.9-198.18.0.1");
  EXPECT_NE(r.error().message().find("empty"), std::string::npos);
}

TEST(AddressRange, CoveringPrefixIsTheLongestThatHoldsTheRange) {
  EXPECT_EQ(range("198.18.0.1-198.18.0.9").covering_prefix().to_string(), "198.18.0.0/28");
  EXPECT_EQ(range("198.18.0.1-198.18.0.1").covering_prefix().to_string(), "198.18.0.1/32");
  EXPECT_EQ(range("127.255.255.255-128.0.0.0").covering_prefix().to_string(), "0.0.0.0/0");
  EXPECT_EQ(range("2001:db8::1-2001:db8::1:0").covering_prefix().to_string(), "2001:db8::/111");
}

TEST(AddressRange, KnowsWhenItIsExactlyAPrefix) {
  EXPECT_EQ(range("198.18.0.0-198.18.0.255").as_prefix()->to_string(), "198.18.0.0/24");
  EXPECT_EQ(range("198.18.0.5-198.18.0.5").as_prefix()->to_string(), "198.18.0.5/32");
  EXPECT_EQ(range("0.0.0.0-255.255.255.255").as_prefix()->to_string(), "0.0.0.0/0");
  EXPECT_FALSE(range("198.18.0.0-198.18.0.254").as_prefix().has_value());
  EXPECT_FALSE(range("198.18.0.1-198.18.0.255").as_prefix().has_value());
  EXPECT_EQ(AddressRange::of(*IpPrefix::parse("2001:db8::/64")).to_string(),
            "2001:db8::-2001:db8::ffff:ffff:ffff:ffff");
}

}  // namespace
}  // namespace uipsec
