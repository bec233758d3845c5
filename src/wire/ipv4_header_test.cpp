#include "wire/ipv4_header.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "wire/hex_bytes_for_test.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

using testing::hex_bytes;

// A 20-byte header, UDP, total length 0x73 = 115, DF, checksum b861, then 95 bytes of payload.
std::vector<std::uint8_t> known_packet() {
  auto packet = hex_bytes(
      "45 00 0073"  // version 4, IHL 5, TOS 0, total length 115
      "0000 4000"   // id 0, DF, offset 0
      "40 11 b861"  // TTL 64, UDP, checksum
      "c0a80001"    // 192.168.0.1
      "c0a800c7");  // 192.168.0.199
  packet.resize(115, 0xab);
  return packet;
}

TEST(Ipv4Header, ParsesKnownHeader) {
  const auto packet = known_packet();
  const auto h = parse_ipv4_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->header_length, 20u);
  EXPECT_EQ(h->total_length, 115u);
  EXPECT_EQ(h->tos, 0);
  EXPECT_EQ(h->id, 0);
  EXPECT_TRUE(h->dont_fragment);
  EXPECT_FALSE(h->more_fragments);
  EXPECT_EQ(h->fragment_offset, 0);
  EXPECT_FALSE(h->is_fragment());
  EXPECT_EQ(h->ttl, 64);
  EXPECT_EQ(h->protocol, ip_protocol::kUdp);
  EXPECT_EQ(h->checksum, 0xb861);
  EXPECT_EQ(h->src, *IpAddress::parse("192.168.0.1"));
  EXPECT_EQ(h->dst, *IpAddress::parse("192.168.0.199"));
  EXPECT_TRUE(ipv4_header_checksum_valid(packet));
}

TEST(Ipv4Header, ChecksumCatchesAChangeInAnyHeaderByte) {
  const auto packet = known_packet();
  for (std::size_t i = 0; i < kIpv4HeaderSize; ++i) {
    auto corrupt = packet;
    corrupt[i] ^= 0x01;
    // Changing the IHL makes the header longer than the bytes summed; still invalid.
    EXPECT_FALSE(ipv4_header_checksum_valid(corrupt)) << "byte " << i;
  }
  // The payload is not covered.
  auto payload_changed = packet;
  payload_changed[50] ^= 0xff;
  EXPECT_TRUE(ipv4_header_checksum_valid(payload_changed));
}

TEST(Ipv4Header, ChecksumCheckRejectsShortOrBadIhl) {
  EXPECT_FALSE(ipv4_header_checksum_valid({}));
  const auto packet = known_packet();
  EXPECT_FALSE(ipv4_header_checksum_valid(ByteSpan(packet).first(19)));
  auto ihl4 = packet;
  ihl4[0] = 0x44;
  EXPECT_FALSE(ipv4_header_checksum_valid(ihl4));
}

TEST(Ipv4Header, RejectsEveryTruncation) {
  const auto packet = known_packet();
  for (std::size_t n = 0; n < packet.size(); ++n) {
    EXPECT_FALSE(parse_ipv4_header(ByteSpan(packet).first(n)).has_value()) << n;
  }
}

TEST(Ipv4Header, AcceptsBytesBeyondTotalLength) {
  auto packet = known_packet();
  packet.resize(200, 0);
  const auto h = parse_ipv4_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->total_length, 115u);
}

TEST(Ipv4Header, RejectsVersionOtherThanFour) {
  auto packet = known_packet();
  for (const std::uint8_t version : {0, 5, 6, 15}) {
    packet[0] = static_cast<std::uint8_t>(version << 4 | 5);
    EXPECT_FALSE(parse_ipv4_header(packet).has_value()) << int{version};
  }
}

TEST(Ipv4Header, RejectsIhlBelowFive) {
  auto packet = known_packet();
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    packet[0] = static_cast<std::uint8_t>(0x40 | ihl);
    EXPECT_FALSE(parse_ipv4_header(packet).has_value()) << int{ihl};
  }
}

TEST(Ipv4Header, RejectsOptionsBeyondSpan) {
  auto packet = known_packet();
  packet[0] = 0x4f;  // 60-byte header
  packet[2] = 0;
  packet[3] = 60;
  EXPECT_FALSE(parse_ipv4_header(ByteSpan(packet).first(59)).has_value());
  EXPECT_TRUE(parse_ipv4_header(ByteSpan(packet).first(60)).has_value());
}

TEST(Ipv4Header, RejectsTotalLengthBeyondSpan) {
  auto packet = known_packet();
  store_be16(&packet[2], 116);
  EXPECT_FALSE(parse_ipv4_header(packet).has_value());
}

TEST(Ipv4Header, RejectsTotalLengthBelowHeaderLength) {
  auto packet = known_packet();
  packet[0] = 0x46;  // 24-byte header
  for (const std::uint16_t total : {0, 19, 20, 23}) {
    store_be16(&packet[2], total);
    EXPECT_FALSE(parse_ipv4_header(packet).has_value()) << total;
  }
  store_be16(&packet[2], 24);
  EXPECT_TRUE(parse_ipv4_header(packet).has_value());
}

TEST(Ipv4Header, SkipsOptions) {
  const auto packet = hex_bytes(
      "46 00 001c  1234 0000  01 06 0000  0a000001 0a000002"
      "94040000"     // router alert option
      "0050 1f90");  // 4 bytes of TCP: ports 80 -> 8080
  const auto h = parse_ipv4_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->header_length, 24u);
  EXPECT_EQ(h->total_length, 28u);
  EXPECT_EQ(h->id, 0x1234);
  EXPECT_EQ(h->ttl, 1);
  EXPECT_EQ(h->protocol, ip_protocol::kTcp);
}

TEST(Ipv4Header, ReadsFragmentFields) {
  // MF set, offset 185 (1480 bytes), then a later fragment with MF clear, then DF alone.
  auto packet = hex_bytes("45 b8 0014  abcd 20b9  08 01 0000  01020304 05060708");
  auto h = parse_ipv4_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->tos, 0xb8);
  EXPECT_TRUE(h->more_fragments);
  EXPECT_FALSE(h->dont_fragment);
  EXPECT_EQ(h->fragment_offset, 185);
  EXPECT_TRUE(h->is_fragment());

  packet[6] = 0x00;
  h = parse_ipv4_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->more_fragments);
  EXPECT_EQ(h->fragment_offset, 185);
  EXPECT_TRUE(h->is_fragment());

  packet[6] = 0x20;
  packet[7] = 0x00;
  h = parse_ipv4_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->more_fragments);
  EXPECT_EQ(h->fragment_offset, 0);
  EXPECT_TRUE(h->is_fragment());
}

TEST(Ipv4Header, WritesKnownHeader) {
  Ipv4HeaderFields fields;
  fields.tos = 0;
  fields.total_length = 115;
  fields.id = 0;
  fields.dont_fragment = true;
  fields.ttl = 64;
  fields.protocol = ip_protocol::kUdp;
  fields.src = *IpAddress::parse("192.168.0.1");
  fields.dst = *IpAddress::parse("192.168.0.199");
  std::vector<std::uint8_t> out(kIpv4HeaderSize, 0xee);
  write_ipv4_header(out.data(), fields);
  EXPECT_EQ(out, hex_bytes("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7"));
}

TEST(Ipv4Header, WriteThenParseRoundTrips) {
  Ipv4HeaderFields fields;
  fields.tos = 0x2e;
  fields.total_length = 1400;
  fields.id = 0xbeef;
  fields.dont_fragment = false;
  fields.ttl = 3;
  fields.protocol = ip_protocol::kEsp;
  fields.src = *IpAddress::parse("203.0.113.9");
  fields.dst = *IpAddress::parse("198.51.100.77");
  std::vector<std::uint8_t> packet(1400, 0);
  write_ipv4_header(packet.data(), fields);
  const auto h = parse_ipv4_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->tos, fields.tos);
  EXPECT_EQ(h->total_length, 1400u);
  EXPECT_EQ(h->id, fields.id);
  EXPECT_FALSE(h->dont_fragment);
  EXPECT_FALSE(h->is_fragment());
  EXPECT_EQ(h->ttl, fields.ttl);
  EXPECT_EQ(h->protocol, ip_protocol::kEsp);
  EXPECT_EQ(h->src, fields.src);
  EXPECT_EQ(h->dst, fields.dst);
  EXPECT_TRUE(ipv4_header_checksum_valid(packet));
}

TEST(Ipv4Header, SetTotalLengthKeepsChecksumValid) {
  auto packet = known_packet();
  for (const std::uint16_t total : {20, 21, 100, 115, 0xffff, 0}) {
    set_ipv4_total_length(packet.data(), total);
    EXPECT_EQ(load_be16(&packet[2]), total);
    EXPECT_TRUE(ipv4_header_checksum_valid(packet)) << total;
  }
}

}  // namespace
}  // namespace uipsec
