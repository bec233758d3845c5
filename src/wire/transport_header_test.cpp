#include "wire/transport_header.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "wire/hex_bytes_for_test.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

using testing::hex_bytes;

TEST(TransportHeader, ReadsPortsOfTcpUdpUdpLiteAndSctp) {
  const auto header = hex_bytes("1194 01f4 0000 0000");
  for (const std::uint8_t protocol :
       {ip_protocol::kTcp, ip_protocol::kUdp, ip_protocol::kUdpLite, ip_protocol::kSctp}) {
    const auto ports = parse_ports(protocol, header);
    ASSERT_TRUE(ports.has_value()) << int{protocol};
    EXPECT_EQ(ports->src, 4500);
    EXPECT_EQ(ports->dst, 500);
    EXPECT_TRUE(parse_ports(protocol, ByteSpan(header).first(4)).has_value());
    EXPECT_FALSE(parse_ports(protocol, ByteSpan(header).first(3)).has_value());
  }
}

TEST(TransportHeader, OtherProtocolsHaveNoPorts) {
  const auto header = hex_bytes("1194 01f4 0000 0000");
  for (const std::uint8_t protocol : {ip_protocol::kIcmp, ip_protocol::kIcmpv6, ip_protocol::kEsp,
                                      ip_protocol::kAh, ip_protocol::kIpv4, ip_protocol::kIpv6,
                                      ip_protocol::kNoNextHeader, ip_protocol::kMobilityHeader}) {
    EXPECT_FALSE(protocol_has_ports(protocol)) << int{protocol};
    EXPECT_FALSE(parse_ports(protocol, header).has_value()) << int{protocol};
  }
}

TEST(TransportHeader, ReadsIcmpTypeAndCode) {
  const auto echo = hex_bytes("08 00 f7ff 0000 0000");
  const auto type_code = parse_icmp_type_code(echo);
  ASSERT_TRUE(type_code.has_value());
  EXPECT_EQ(type_code->type, 8);
  EXPECT_EQ(type_code->code, 0);
  const auto unreachable = hex_bytes("03 0d");
  EXPECT_EQ(parse_icmp_type_code(unreachable)->code, 13);
  EXPECT_FALSE(parse_icmp_type_code(ByteSpan(echo).first(1)).has_value());
}

TEST(TransportHeader, ReadsTcpHeaderLengthFromDataOffset) {
  auto tcp = hex_bytes("c000 0050 00000001 00000000 5002 ffff 0000 0000");
  EXPECT_EQ(parse_tcp_header_length(tcp), 20u);
  tcp[12] = 0x60;  // 24 bytes, only 20 present
  EXPECT_FALSE(parse_tcp_header_length(tcp).has_value());
  tcp.resize(24, 1);
  EXPECT_EQ(parse_tcp_header_length(tcp), 24u);
  tcp[12] = 0x40;  // 16 bytes: below the minimum
  EXPECT_FALSE(parse_tcp_header_length(tcp).has_value());
  EXPECT_FALSE(parse_tcp_header_length(ByteSpan(tcp).first(19)).has_value());
}

TEST(TransportHeader, UdpHeaderRoundTrips) {
  const auto bytes = hex_bytes("1194 1194 000c 79d9 70696e67");
  const auto udp = parse_udp_header(bytes);
  ASSERT_TRUE(udp.has_value());
  EXPECT_EQ(udp->src_port, 4500);
  EXPECT_EQ(udp->dst_port, 4500);
  EXPECT_EQ(udp->length, 12);
  EXPECT_EQ(udp->checksum, 0x79d9);
  std::vector<std::uint8_t> out(kUdpHeaderSize);
  write_udp_header(out.data(), *udp);
  EXPECT_EQ(out, std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 8));
  for (std::size_t n = 0; n < kUdpHeaderSize; ++n) {
    EXPECT_FALSE(parse_udp_header(ByteSpan(bytes).first(n)).has_value()) << n;
  }
}

TEST(TransportHeader, UdpChecksumOfZeroIsSentAsAllOnes) {
  EXPECT_EQ(udp_checksum_finish(0xffff), 0xffff);
  EXPECT_EQ(udp_checksum_finish(0x0000), 0xffff);
  EXPECT_EQ(udp_checksum_finish(0x1234), 0xedcb);
}

TEST(TransportHeader, ComputesUdpChecksumOverPseudoHeader) {
  auto udp = hex_bytes("1194 1194 000c 0000 70696e67");
  const auto src = *IpAddress::parse("192.0.2.1");
  const auto dst = *IpAddress::parse("192.0.2.2");
  const std::uint16_t sum = inet_sum(
      udp, pseudo_header_sum(src, dst, ip_protocol::kUdp, static_cast<std::uint32_t>(udp.size())));
  EXPECT_EQ(udp_checksum_finish(sum), 0x79d9);
}

}  // namespace
}  // namespace uipsec
