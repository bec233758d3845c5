#include "wire/ip_packet.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "wire/hex_bytes_for_test.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

using testing::hex_bytes;

// IPv4 10.0.0.1 -> 10.0.0.2, TOS 0x10, TTL 63, header checksum left 0 (not checked here).
std::vector<std::uint8_t> ipv4_packet(std::uint8_t protocol, const std::string& payload_hex,
                                      std::uint16_t flags_offset = 0) {
  const auto payload = hex_bytes(payload_hex);
  auto packet = hex_bytes("45 10 0000 0001 0000 3f 00 0000 0a000001 0a000002");
  store_be16(&packet[2], static_cast<std::uint16_t>(20 + payload.size()));
  store_be16(&packet[6], flags_offset);
  packet[9] = protocol;
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

// IPv6 2001:db8::1 -> 2001:db8::2, traffic class 0x28, hop limit 7.
std::vector<std::uint8_t> ipv6_packet(std::uint8_t next_header, const std::string& body_hex) {
  const auto body = hex_bytes(body_hex);
  auto packet = hex_bytes(
      "62800000 0000 00 07"
      "20010db8000000000000000000000001 20010db8000000000000000000000002");
  store_be16(&packet[4], static_cast<std::uint16_t>(body.size()));
  packet[6] = next_header;
  packet.insert(packet.end(), body.begin(), body.end());
  return packet;
}

constexpr const char* kTcp = "c000 0050 00000001 00000000 5002 ffff 0000 0000";  // 49152 -> 80
constexpr const char* kUdp = "0035 1194 000c 0000 01020304";                     // 53 -> 4500
constexpr const char* kIcmpEcho = "08 00 f7fe 0001 0000";

void expect_every_truncation_rejected(const std::vector<std::uint8_t>& packet) {
  for (std::size_t n = 0; n < packet.size(); ++n) {
    EXPECT_FALSE(parse_ip_packet(ByteSpan(packet).first(n)).has_value()) << n;
  }
}

TEST(IpPacket, ParsesIpv4Tcp) {
  const auto packet = ipv4_packet(ip_protocol::kTcp, kTcp);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->family, IpFamily::kV4);
  EXPECT_EQ(info->src, *IpAddress::parse("10.0.0.1"));
  EXPECT_EQ(info->dst, *IpAddress::parse("10.0.0.2"));
  EXPECT_EQ(info->protocol, ip_protocol::kTcp);
  EXPECT_EQ(info->header_length, 20u);
  EXPECT_EQ(info->total_length, 40u);
  EXPECT_EQ(info->tos, 0x10);
  EXPECT_EQ(info->ttl, 63);
  EXPECT_FALSE(info->is_fragment);
  EXPECT_FALSE(info->is_first_fragment);
  EXPECT_TRUE(info->ports_known);
  EXPECT_EQ(info->src_port, 49152);
  EXPECT_EQ(info->dst_port, 80);
  EXPECT_FALSE(info->icmp_known);
  expect_every_truncation_rejected(packet);
}

TEST(IpPacket, ParsesIpv4Udp) {
  const auto packet = ipv4_packet(ip_protocol::kUdp, kUdp);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->protocol, ip_protocol::kUdp);
  EXPECT_TRUE(info->ports_known);
  EXPECT_EQ(info->src_port, 53);
  EXPECT_EQ(info->dst_port, 4500);
  expect_every_truncation_rejected(packet);
}

TEST(IpPacket, ParsesIpv4IcmpTypeAndCode) {
  const auto packet = ipv4_packet(ip_protocol::kIcmp, kIcmpEcho);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->protocol, ip_protocol::kIcmp);
  EXPECT_FALSE(info->ports_known);
  EXPECT_TRUE(info->icmp_known);
  EXPECT_EQ(info->icmp_type, 8);
  EXPECT_EQ(info->icmp_code, 0);
  expect_every_truncation_rejected(packet);
}

TEST(IpPacket, Ipv4EspHasNeitherPortsNorIcmp) {
  const auto packet = ipv4_packet(ip_protocol::kEsp, "c0ffee01 00000001 00000000");
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->protocol, ip_protocol::kEsp);
  EXPECT_FALSE(info->ports_known);
  EXPECT_FALSE(info->icmp_known);
}

TEST(IpPacket, Ipv4FirstFragmentHasPorts) {
  const auto packet = ipv4_packet(ip_protocol::kUdp, kUdp, 0x2000);  // MF, offset 0
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->is_fragment);
  EXPECT_TRUE(info->is_first_fragment);
  EXPECT_TRUE(info->ports_known);
  EXPECT_EQ(info->dst_port, 4500);
}

TEST(IpPacket, Ipv4LaterFragmentHasNoPorts) {
  for (const std::uint16_t flags_offset : {0x2001, 0x0001, 0x40b9}) {
    const auto packet = ipv4_packet(ip_protocol::kUdp, kUdp, flags_offset);
    const auto info = parse_ip_packet(packet);
    ASSERT_TRUE(info.has_value());
    EXPECT_TRUE(info->is_fragment);
    EXPECT_FALSE(info->is_first_fragment);
    EXPECT_FALSE(info->ports_known);
  }
}

TEST(IpPacket, PortsBeyondTotalLengthAreUnknown) {
  // Only 3 bytes of UDP lie within the total length; the rest is padding.
  auto packet = ipv4_packet(ip_protocol::kUdp, kUdp);
  store_be16(&packet[2], 23);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->total_length, 23u);
  EXPECT_FALSE(info->ports_known);
}

TEST(IpPacket, AcceptsPaddingBeyondTotalLength) {
  auto packet = ipv4_packet(ip_protocol::kTcp, kTcp);
  packet.resize(packet.size() + 37, 0);  // TFC padding after the inner packet
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->total_length, 40u);
  EXPECT_TRUE(info->ports_known);
}

TEST(IpPacket, ParsesIpv6TcpAfterExtensionHeaders) {
  const std::string chain =
      "3c 00 0104 00000000"   // Hop-by-Hop
      "06 00 0104 00000000";  // Destination Options
  const auto packet = ipv6_packet(ip_protocol::kIpv6HopByHop, chain + kTcp);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->family, IpFamily::kV6);
  EXPECT_EQ(info->src, *IpAddress::parse("2001:db8::1"));
  EXPECT_EQ(info->dst, *IpAddress::parse("2001:db8::2"));
  EXPECT_EQ(info->protocol, ip_protocol::kTcp);
  EXPECT_EQ(info->header_length, 56u);
  EXPECT_EQ(info->total_length, 76u);
  EXPECT_EQ(info->tos, 0x28);
  EXPECT_EQ(info->ttl, 7);
  EXPECT_FALSE(info->is_fragment);
  EXPECT_TRUE(info->ports_known);
  EXPECT_EQ(info->src_port, 49152);
  EXPECT_EQ(info->dst_port, 80);
  expect_every_truncation_rejected(packet);
}

TEST(IpPacket, ParsesIpv6IcmpTypeAndCode) {
  const auto packet = ipv6_packet(ip_protocol::kIcmpv6, "80 00 0000 0001 0001");
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->protocol, ip_protocol::kIcmpv6);
  EXPECT_TRUE(info->icmp_known);
  EXPECT_EQ(info->icmp_type, 128);
  EXPECT_EQ(info->icmp_code, 0);
  expect_every_truncation_rejected(packet);
}

TEST(IpPacket, IcmpNumberOfTheOtherFamilyIsNotIcmp) {
  const auto v6 = parse_ip_packet(ipv6_packet(ip_protocol::kIcmp, kIcmpEcho));
  ASSERT_TRUE(v6.has_value());
  EXPECT_FALSE(v6->icmp_known);
  const auto v4 = parse_ip_packet(ipv4_packet(ip_protocol::kIcmpv6, kIcmpEcho));
  ASSERT_TRUE(v4.has_value());
  EXPECT_FALSE(v4->icmp_known);
}

TEST(IpPacket, Ipv6FirstFragmentHasPorts) {
  const auto packet =
      ipv6_packet(ip_protocol::kIpv6Fragment, std::string("11 00 0001 00000009") + kUdp);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->is_fragment);
  EXPECT_TRUE(info->is_first_fragment);
  EXPECT_EQ(info->protocol, ip_protocol::kUdp);
  EXPECT_EQ(info->header_length, 48u);
  EXPECT_TRUE(info->ports_known);
  EXPECT_EQ(info->src_port, 53);
}

TEST(IpPacket, Ipv6LaterFragmentHasNoPorts) {
  const auto packet =
      ipv6_packet(ip_protocol::kIpv6Fragment, std::string("11 00 00b8 00000009") + kUdp);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->is_fragment);
  EXPECT_FALSE(info->is_first_fragment);
  EXPECT_EQ(info->protocol, ip_protocol::kUdp);
  EXPECT_EQ(info->header_length, 48u);
  EXPECT_FALSE(info->ports_known);
}

TEST(IpPacket, RejectsUnknownVersionsAndEmptyInput) {
  EXPECT_FALSE(parse_ip_packet({}).has_value());
  auto packet = ipv4_packet(ip_protocol::kTcp, kTcp);
  for (const std::uint8_t version : {0, 1, 5, 7, 15}) {
    packet[0] = static_cast<std::uint8_t>(version << 4 | 5);
    EXPECT_FALSE(parse_ip_packet(packet).has_value()) << int{version};
  }
}

TEST(IpPacket, RejectsMalformedIpv6Chain) {
  // Hop-by-Hop after Destination Options.
  const auto packet =
      ipv6_packet(ip_protocol::kIpv6DestOpts, "00 00 0104 00000000 06 00 0104 00000000");
  EXPECT_FALSE(parse_ip_packet(packet).has_value());
}

}  // namespace
}  // namespace uipsec
