#include "policy/traffic_selector.hpp"

#include <gtest/gtest.h>

#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

IpPacketInfo packet(const char* src, const char* dst, std::uint8_t protocol = 0,
                    std::uint16_t sport = 0, std::uint16_t dport = 0) {
  IpPacketInfo p;
  p.src = *IpAddress::parse(src);
  p.dst = *IpAddress::parse(dst);
  p.family = p.src.family();
  p.protocol = protocol;
  if (protocol == ip_protocol::kTcp || protocol == ip_protocol::kUdp) {
    p.ports_known = true;
    p.src_port = sport;
    p.dst_port = dport;
  }
  if (protocol == ip_protocol::kIcmp || protocol == ip_protocol::kIcmpv6) {
    p.icmp_known = true;
    p.icmp_type = static_cast<std::uint8_t>(sport);
    p.icmp_code = static_cast<std::uint8_t>(dport);
  }
  return p;
}

TrafficSelector selector(const char* src, const char* dst) {
  TrafficSelector ts;
  ts.source = *IpPrefix::parse(src);
  ts.destination = *IpPrefix::parse(dst);
  return ts;
}

TEST(TrafficSelector, MatchesPrefixesAndFamily) {
  const auto ts = selector("198.18.0.0/24", "198.18.1.0/24");
  EXPECT_TRUE(ts.matches(packet("198.18.0.7", "198.18.1.9")));
  EXPECT_FALSE(ts.matches(packet("198.18.1.9", "198.18.0.7")));
  EXPECT_FALSE(ts.matches(packet("2001:db8::1", "2001:db8::2")));
  EXPECT_TRUE(TrafficSelector::any(IpFamily::kV6).matches(packet("2001:db8::1", "2001:db8::2")));
}

TEST(TrafficSelector, MatchesProtocolAndPortRanges) {
  auto ts = selector("0.0.0.0/0", "0.0.0.0/0");
  ts.protocol = ip_protocol::kTcp;
  ts.destination_ports = PortRange{443, 443};
  ts.source_ports = PortRange{1024, 65535};
  EXPECT_TRUE(ts.matches(packet("198.18.0.1", "198.18.0.2", ip_protocol::kTcp, 40000, 443)));
  EXPECT_FALSE(ts.matches(packet("198.18.0.1", "198.18.0.2", ip_protocol::kTcp, 80, 443)));
  EXPECT_FALSE(ts.matches(packet("198.18.0.1", "198.18.0.2", ip_protocol::kUdp, 40000, 443)));
  auto unknown_ports = packet("198.18.0.1", "198.18.0.2", ip_protocol::kTcp, 40000, 443);
  unknown_ports.ports_known = false;  // a later fragment
  EXPECT_FALSE(ts.matches(unknown_ports)) << "OPAQUE ports never match specific port selectors";
  ts.source_ports = PortRange::any();
  ts.destination_ports = PortRange::any();
  EXPECT_TRUE(ts.matches(unknown_ports)) << "ANY port selectors match OPAQUE ports";
}

TEST(TrafficSelector, MatchesIcmpTypeAndCodeInThePortFields) {
  auto ts = selector("0.0.0.0/0", "0.0.0.0/0");
  ts.protocol = ip_protocol::kIcmp;
  ts.source_ports = PortRange::single(8);  // echo request
  EXPECT_TRUE(ts.matches(packet("198.18.0.1", "198.18.0.2", ip_protocol::kIcmp, 8, 0)));
  EXPECT_FALSE(ts.matches(packet("198.18.0.1", "198.18.0.2", ip_protocol::kIcmp, 0, 0)));
}

TEST(TrafficSelector, ValidationNamesTheProblem) {
  auto mixed = selector("198.18.0.0/24", "2001:db8::/32");
  EXPECT_FALSE(mixed.validate().ok());
  auto ports_without_protocol = selector("0.0.0.0/0", "0.0.0.0/0");
  ports_without_protocol.destination_ports = PortRange::single(80);
  auto r = ports_without_protocol.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("ports need a protocol"), std::string::npos);
  auto backwards = selector("0.0.0.0/0", "0.0.0.0/0");
  backwards.protocol = ip_protocol::kUdp;
  backwards.source_ports = PortRange{10, 5};
  EXPECT_FALSE(backwards.validate().ok());
}

TEST(TrafficSelector, IcmpWithoutTypeOrCodeIsValid) {
  auto ts = selector("0.0.0.0/0", "0.0.0.0/0");
  ts.protocol = ip_protocol::kIcmp;
  EXPECT_TRUE(ts.validate().ok());
  ts.source_ports = PortRange::single(8);
  EXPECT_TRUE(ts.validate().ok());
  ts.source_ports = PortRange::single(300);
  EXPECT_FALSE(ts.validate().ok());
}

TEST(TrafficSelector, FormatsLikeAHuman) {
  auto ts = selector("198.18.0.0/24", "198.18.1.0/24");
  ts.protocol = ip_protocol::kTcp;
  ts.destination_ports = PortRange::single(443);
  EXPECT_EQ(ts.to_string(), "198.18.0.0/24 -> 198.18.1.0/24 proto 6 dport 443");
}

TEST(TrafficSelector, MatchesAddressRanges) {
  auto ts = selector("0.0.0.0/0", "198.18.1.0/24");
  ts.set_source(*AddressRange::parse("198.18.0.10-198.18.0.20"));
  EXPECT_EQ(ts.source.to_string(), "198.18.0.0/27") << "the covering prefix";
  ASSERT_TRUE(ts.source_range.has_value());
  EXPECT_TRUE(ts.validate().ok());
  EXPECT_TRUE(ts.matches(packet("198.18.0.10", "198.18.1.9")));
  EXPECT_TRUE(ts.matches(packet("198.18.0.20", "198.18.1.9")));
  EXPECT_FALSE(ts.matches(packet("198.18.0.21", "198.18.1.9")))
      << "inside the prefix, outside the range";
  EXPECT_FALSE(ts.matches(packet("198.18.0.9", "198.18.1.9")));
  EXPECT_EQ(ts.to_string(), "198.18.0.10-198.18.0.20 -> 198.18.1.0/24");
  ts.set_destination(*AddressRange::parse("198.18.1.0-198.18.1.255"));
  EXPECT_FALSE(ts.destination_range.has_value()) << "a range that is a prefix is kept as one";
  EXPECT_EQ(ts, [] {
    auto same = selector("0.0.0.0/0", "198.18.1.0/24");
    same.set_source(*AddressRange::parse("198.18.0.10-198.18.0.20"));
    return same;
  }());
}

TEST(TrafficSelector, ValidationChecksRangesAgainstTheirPrefix) {
  auto ts = selector("198.18.0.0/24", "198.18.1.0/24");
  ts.source_range = *AddressRange::parse("198.18.0.10-198.18.0.20");
  auto r = ts.validate();
  ASSERT_FALSE(r.ok()) << "the prefix must be the range's covering prefix";
  EXPECT_NE(r.error().message().find("198.18.0.0/27"), std::string::npos) << r.error().message();
  ts.source = *IpPrefix::parse("198.18.0.0/27");
  EXPECT_TRUE(ts.validate().ok());
  ts.source_range = *AddressRange::parse("198.18.0.0-198.18.0.31");
  r = ts.validate();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("give it as a prefix"), std::string::npos);
  ts.source_range =
      AddressRange{*IpAddress::parse("198.18.0.20"), *IpAddress::parse("198.18.0.10")};
  EXPECT_FALSE(ts.validate().ok());
}

TEST(TrafficSelector, HashAgreesWithEquality) {
  auto a = selector("198.18.0.0/24", "198.18.1.0/24");
  auto b = a;
  EXPECT_EQ(std::hash<TrafficSelector>{}(a), std::hash<TrafficSelector>{}(b));
  b.set_source(*AddressRange::parse("198.18.0.1-198.18.0.2"));
  EXPECT_NE(a, b);
  b.protocol = ip_protocol::kTcp;
  EXPECT_NE(std::hash<TrafficSelector>{}(a), std::hash<TrafficSelector>{}(b));
}

}  // namespace
}  // namespace uipsec
