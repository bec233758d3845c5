#include "wire/ipv6_header.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "wire/hex_bytes_for_test.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

using testing::hex_bytes;

constexpr const char* kAddresses =
    "20010db8000000000000000000000001"   // 2001:db8::1
    "20010db8000000000000000000000002";  // 2001:db8::2

// A fixed header (traffic class 0, flow label 0, hop limit 64) with the payload length of `body`.
std::vector<std::uint8_t> ipv6_packet(std::uint8_t next_header, const std::string& body_hex) {
  const auto body = hex_bytes(body_hex);
  auto packet = hex_bytes(std::string("60000000 0000 00 40") + kAddresses);
  store_be16(&packet[4], static_cast<std::uint16_t>(body.size()));
  packet[6] = next_header;
  packet.insert(packet.end(), body.begin(), body.end());
  return packet;
}

constexpr const char* kTcpHeader = "c000 0050 00000001 00000000 5002 ffff 0000 0000";

// Hop-by-Hop (8) -> Destination Options (16) -> Routing (24) -> Fragment (8, first, M) -> TCP.
std::vector<std::uint8_t> chained_packet() {
  const std::string chain =
      "3c 00 0104 00000000"                                    // Hop-by-Hop, PadN
      "2b 01 010c 000000000000000000000000"                    // Destination Options, PadN
      "2c 02 04 00 00000000 20010db8000000000000000000000003"  // Routing
      "06 00 0001 deadbeef";                                   // Fragment: offset 0, M
  return ipv6_packet(ip_protocol::kIpv6HopByHop, chain + kTcpHeader);
}

std::optional<Ipv6UpperLayer> walk(ByteSpan packet) {
  const auto header = parse_ipv6_header(packet);
  if (!header) return std::nullopt;
  return walk_ipv6_extension_headers(packet, *header);
}

TEST(Ipv6Header, ParsesFixedHeader) {
  auto packet = ipv6_packet(ip_protocol::kUdp, "0035 0035 0008 0000");
  packet[0] = 0x6b;  // traffic class 0xb8, flow label 0x12345
  packet[1] = 0x81;
  packet[2] = 0x23;
  packet[3] = 0x45;
  packet[7] = 255;
  const auto h = parse_ipv6_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->traffic_class, 0xb8);
  EXPECT_EQ(h->flow_label, 0x12345u);
  EXPECT_EQ(h->payload_length, 8);
  EXPECT_EQ(h->total_length(), 48u);
  EXPECT_EQ(h->next_header, ip_protocol::kUdp);
  EXPECT_EQ(h->hop_limit, 255);
  EXPECT_EQ(h->src, *IpAddress::parse("2001:db8::1"));
  EXPECT_EQ(h->dst, *IpAddress::parse("2001:db8::2"));
}

TEST(Ipv6Header, RejectsVersionOtherThanSix) {
  auto packet = ipv6_packet(ip_protocol::kUdp, "0035 0035 0008 0000");
  for (const std::uint8_t version : {0, 4, 7, 15}) {
    packet[0] = static_cast<std::uint8_t>(version << 4);
    EXPECT_FALSE(parse_ipv6_header(packet).has_value()) << int{version};
  }
}

TEST(Ipv6Header, RejectsZeroPayloadLength) {
  // A jumbogram (RFC 2675) carries 0 here and its length in a Hop-by-Hop option: unsupported.
  auto packet = ipv6_packet(ip_protocol::kIpv6HopByHop, "3b 00 c2 04 00010000");
  store_be16(&packet[4], 0);
  EXPECT_FALSE(parse_ipv6_header(packet).has_value());
}

TEST(Ipv6Header, RejectsPayloadLengthBeyondSpan) {
  auto packet = ipv6_packet(ip_protocol::kUdp, "0035 0035 0008 0000");
  store_be16(&packet[4], 9);
  EXPECT_FALSE(parse_ipv6_header(packet).has_value());
}

TEST(Ipv6Header, AcceptsBytesBeyondPayloadLength) {
  auto packet = ipv6_packet(ip_protocol::kUdp, "0035 0035 0008 0000");
  packet.resize(100, 0);
  const auto h = parse_ipv6_header(packet);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->total_length(), 48u);
}

TEST(Ipv6Header, RejectsEveryTruncation) {
  const auto packet = chained_packet();
  for (std::size_t n = 0; n < packet.size(); ++n) {
    EXPECT_FALSE(parse_ipv6_header(ByteSpan(packet).first(n)).has_value()) << n;
  }
}

TEST(Ipv6Header, WalksExtensionHeadersToUpperLayer) {
  const auto packet = chained_packet();
  const auto upper = walk(packet);
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->protocol, ip_protocol::kTcp);
  EXPECT_EQ(upper->offset, 96u);
  EXPECT_EQ(upper->next_header_offset, 88u);
  EXPECT_EQ(packet[upper->next_header_offset], ip_protocol::kTcp);
  EXPECT_TRUE(upper->is_fragment);
  EXPECT_FALSE(upper->is_non_first_fragment);
}

TEST(Ipv6Header, WithoutExtensionHeadersTheUpperLayerFollowsTheFixedHeader) {
  const auto packet = ipv6_packet(ip_protocol::kTcp, kTcpHeader);
  const auto upper = walk(packet);
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->protocol, ip_protocol::kTcp);
  EXPECT_EQ(upper->offset, 40u);
  EXPECT_EQ(upper->next_header_offset, 6u);
  EXPECT_FALSE(upper->is_fragment);
}

TEST(Ipv6Header, StopsAtEspAhAndNoNextHeader) {
  for (const std::uint8_t stop : {ip_protocol::kEsp, ip_protocol::kAh, ip_protocol::kNoNextHeader,
                                  ip_protocol::kIcmpv6, ip_protocol::kMobilityHeader}) {
    // A Destination Options header whose next header is `stop`, then 8 bytes that would be a
    // Destination Options header if the walk went on.
    auto packet = ipv6_packet(ip_protocol::kIpv6DestOpts, "00 00 01 04 00000000 3c00000000000000");
    packet[40] = stop;
    const auto upper = walk(packet);
    ASSERT_TRUE(upper.has_value()) << int{stop};
    EXPECT_EQ(upper->protocol, stop);
    EXPECT_EQ(upper->offset, 48u);
    EXPECT_EQ(upper->next_header_offset, 40u);
  }
}

TEST(Ipv6Header, UpperLayerMayStartAtTheEndOfThePacket) {
  const auto packet = ipv6_packet(ip_protocol::kIpv6DestOpts, "3b 00 01 04 00000000");
  const auto upper = walk(packet);
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->protocol, ip_protocol::kNoNextHeader);
  EXPECT_EQ(upper->offset, packet.size());
}

TEST(Ipv6Header, NonFirstFragmentStopsAfterTheFragmentHeader) {
  // Offset 0x00b9 (1480 bytes), M set; next header Destination Options, which is not walked.
  const auto packet = ipv6_packet(ip_protocol::kIpv6Fragment, "3c 00 05c9 00000001 3c00");
  const auto upper = walk(packet);
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->protocol, ip_protocol::kIpv6DestOpts);
  EXPECT_EQ(upper->offset, 48u);
  EXPECT_EQ(upper->next_header_offset, 40u);
  EXPECT_TRUE(upper->is_fragment);
  EXPECT_TRUE(upper->is_non_first_fragment);
}

TEST(Ipv6Header, LastFragmentIsAFragment) {
  const auto packet = ipv6_packet(ip_protocol::kIpv6Fragment, "11 00 05c8 00000001 0000");
  const auto upper = walk(packet);
  ASSERT_TRUE(upper.has_value());
  EXPECT_TRUE(upper->is_fragment);
  EXPECT_TRUE(upper->is_non_first_fragment);
}

TEST(Ipv6Header, AtomicFragmentIsNotAFragment) {
  const auto packet =
      ipv6_packet(ip_protocol::kIpv6Fragment, std::string("06 00 0000 00000001") + kTcpHeader);
  const auto upper = walk(packet);
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->protocol, ip_protocol::kTcp);
  EXPECT_EQ(upper->offset, 48u);
  EXPECT_FALSE(upper->is_fragment);
}

TEST(Ipv6Header, RejectsHopByHopAfterTheFirstHeader) {
  const auto packet =
      ipv6_packet(ip_protocol::kIpv6DestOpts, "00 00 0104 00000000  3b 00 0104 00000000");
  EXPECT_FALSE(walk(packet).has_value());
}

TEST(Ipv6Header, RejectsSecondFragmentHeader) {
  const auto packet =
      ipv6_packet(ip_protocol::kIpv6Fragment, "2c 00 0000 00000001  3b 00 0000 00000002");
  EXPECT_FALSE(walk(packet).has_value());
}

std::vector<std::uint8_t> destination_options_chain(std::size_t count) {
  std::string body;
  for (std::size_t i = 0; i < count; ++i) {
    body += i + 1 < count ? "3c" : "3b";
    body += "00 0104 00000000";
  }
  return ipv6_packet(ip_protocol::kIpv6DestOpts, body);
}

TEST(Ipv6Header, WalksUpToTheExtensionHeaderCap) {
  const auto packet = destination_options_chain(kMaxIpv6ExtensionHeaders);
  const auto upper = walk(packet);
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->protocol, ip_protocol::kNoNextHeader);
  EXPECT_EQ(upper->offset, 40 + 8 * kMaxIpv6ExtensionHeaders);
}

TEST(Ipv6Header, RejectsLongerExtensionHeaderChains) {
  EXPECT_FALSE(walk(destination_options_chain(kMaxIpv6ExtensionHeaders + 1)).has_value());
  // Each header naming another until the bytes run out: a "loop" ends at the cap or the end.
  EXPECT_FALSE(walk(destination_options_chain(1000)).has_value());
  auto endless = destination_options_chain(3);
  endless[40 + 16] = ip_protocol::kIpv6DestOpts;
  EXPECT_FALSE(walk(endless).has_value());
}

TEST(Ipv6Header, RejectsChainCutByPayloadLength) {
  // The span keeps every byte; only the payload length shrinks, so each header in turn crosses
  // the end. Whatever still parses must end inside the shortened packet.
  const auto packet = chained_packet();
  for (std::size_t payload = 1; payload < packet.size() - 40; ++payload) {
    auto cut = packet;
    store_be16(&cut[4], static_cast<std::uint16_t>(payload));
    const auto upper = walk(cut);
    // The full chain ends at 96: any shorter payload cuts one of the headers.
    if (payload < 56) {
      EXPECT_FALSE(upper.has_value()) << payload;
    } else {
      ASSERT_TRUE(upper.has_value()) << payload;
      EXPECT_EQ(upper->offset, 96u);
    }
  }
}

TEST(Ipv6Header, WalkNeverReadsPastAShortSpan) {
  const auto packet = chained_packet();
  const auto header = parse_ipv6_header(packet);
  ASSERT_TRUE(header.has_value());
  // Even given a header parsed from a longer packet, the walk stays inside the span it gets.
  for (std::size_t n = 0; n < 96; ++n) {
    EXPECT_FALSE(walk_ipv6_extension_headers(ByteSpan(packet).first(n), *header).has_value()) << n;
  }
}

TEST(Ipv6Header, WritesKnownHeader) {
  Ipv6Header h;
  h.traffic_class = 0xb8;
  h.flow_label = 0x12345;
  h.payload_length = 1000;
  h.next_header = ip_protocol::kEsp;
  h.hop_limit = 64;
  h.src = *IpAddress::parse("2001:db8::1");
  h.dst = *IpAddress::parse("2001:db8::2");
  std::vector<std::uint8_t> out(kIpv6HeaderSize, 0xee);
  write_ipv6_header(out.data(), h);
  EXPECT_EQ(out, hex_bytes(std::string("6b812345 03e8 32 40") + kAddresses));
  set_ipv6_payload_length(out.data(), 0x1234);
  EXPECT_EQ(load_be16(&out[4]), 0x1234);
}

TEST(Ipv6Header, WriteThenParseRoundTrips) {
  Ipv6Header h;
  h.traffic_class = 0x03;
  h.flow_label = 0xfffff;
  h.payload_length = 8;
  h.next_header = ip_protocol::kUdp;
  h.hop_limit = 1;
  h.src = *IpAddress::parse("fe80::1");
  h.dst = *IpAddress::parse("ff02::1:2");
  std::vector<std::uint8_t> packet(48, 0);
  write_ipv6_header(packet.data(), h);
  const auto parsed = parse_ipv6_header(packet);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->traffic_class, h.traffic_class);
  EXPECT_EQ(parsed->flow_label, h.flow_label);
  EXPECT_EQ(parsed->payload_length, h.payload_length);
  EXPECT_EQ(parsed->next_header, h.next_header);
  EXPECT_EQ(parsed->hop_limit, h.hop_limit);
  EXPECT_EQ(parsed->src, h.src);
  EXPECT_EQ(parsed->dst, h.dst);
}

}  // namespace
}  // namespace uipsec
