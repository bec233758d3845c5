#include "esp/esp_encapsulation.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "esp/esp_test_support.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_packet.hpp"
#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"
#include "wire/transport_header.hpp"

namespace uipsec {
namespace {

using test::OwnedBuffer;
using test::pattern;
using Bytes = std::vector<std::uint8_t>;

constexpr Spi kSpi(0x2000);

IpAddress address(const char* text) { return *IpAddress::parse(text); }

const IpAddress kSrc4 = address("192.0.2.1");
const IpAddress kDst4 = address("198.51.100.7");
const IpAddress kSrc6 = address("2001:db8::1");
const IpAddress kDst6 = address("2001:db8:ffff::7");

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// True when the TCP or UDP checksum of `segment` verifies under the pseudo-header of src/dst.
bool upper_layer_checksum_valid(const IpAddress& src, const IpAddress& dst, std::uint8_t protocol,
                                ByteSpan segment) {
  const std::uint16_t pseudo =
      pseudo_header_sum(src, dst, protocol, static_cast<std::uint32_t>(segment.size()));
  return inet_sum(segment, pseudo) == 0xffff;
}

// A TCP segment (RFC 9293 §3.1: 20-byte header, PSH+ACK) carrying `data`, checksum included.
Bytes tcp_segment(const IpAddress& src, const IpAddress& dst, const Bytes& data) {
  Bytes s(kTcpMinHeaderSize);
  store_be16(&s[0], 49152);       // source port
  store_be16(&s[2], 443);         // destination port
  store_be32(&s[4], 0x01020304);  // sequence number
  store_be32(&s[8], 0x0a0b0c0d);  // acknowledgment number
  s[12] = 5 << 4;                 // data offset: 5 words
  s[13] = 0x18;                   // PSH, ACK
  store_be16(&s[14], 64240);      // window
  s = concat(s, data);
  const std::uint16_t sum = inet_sum(
      s, pseudo_header_sum(src, dst, ip_protocol::kTcp, static_cast<std::uint32_t>(s.size())));
  store_be16(&s[16], inet_checksum_finish(sum));
  return s;
}

// A UDP datagram (RFC 768) carrying `data`, checksum included.
Bytes udp_datagram(const IpAddress& src, const IpAddress& dst, const Bytes& data) {
  Bytes d(kUdpHeaderSize);
  write_udp_header(d.data(), UdpHeader{5353, 53, static_cast<std::uint16_t>(8 + data.size()), 0});
  d = concat(d, data);
  const std::uint16_t sum = inet_sum(
      d, pseudo_header_sum(src, dst, ip_protocol::kUdp, static_cast<std::uint32_t>(d.size())));
  store_be16(&d[6], udp_checksum_finish(sum));
  return d;
}

// An IPv4 packet with the header decapsulate_transport writes (DF, TTL 64, ID 0, no options), so
// that a transport-mode round trip gives back the very same bytes.
Bytes ipv4_packet(std::uint8_t protocol, const Bytes& upper, const IpAddress& src = kSrc4,
                  const IpAddress& dst = kDst4) {
  Bytes p(kIpv4HeaderSize);
  Ipv4HeaderFields f;
  f.total_length = static_cast<std::uint16_t>(kIpv4HeaderSize + upper.size());
  f.dont_fragment = true;
  f.ttl = 64;
  f.protocol = protocol;
  f.src = src;
  f.dst = dst;
  write_ipv4_header(p.data(), f);
  return concat(p, upper);
}

// An IPv6 packet: fixed header (hop limit 64), then `extensions` (whose first next header is
// `first`), then the upper layer.
Bytes ipv6_packet(std::uint8_t first, const Bytes& extensions, const Bytes& upper,
                  const IpAddress& src = kSrc6, const IpAddress& dst = kDst6) {
  Bytes p(kIpv6HeaderSize);
  Ipv6Header h;
  h.payload_length = static_cast<std::uint16_t>(extensions.size() + upper.size());
  h.next_header = first;
  h.hop_limit = 64;
  h.src = src;
  h.dst = dst;
  write_ipv6_header(p.data(), h);
  return concat(concat(p, extensions), upper);
}

// An 8-byte Hop-by-Hop or Destination Options header holding one PadN option (RFC 8200 §4.2).
Bytes options_header(std::uint8_t next_header) { return {next_header, 0, 1, 4, 0, 0, 0, 0}; }

// An IPv6 Fragment header (RFC 8200 §4.5); offset in 8-byte units.
Bytes fragment_header(std::uint8_t next_header, std::uint16_t offset, bool more) {
  Bytes f{next_header, 0, 0, 0, 0, 0, 0x12, 0x34};
  store_be16(&f[2], static_cast<std::uint16_t>(offset << 3 | (more ? 1 : 0)));
  return f;
}

test::Suite gcm() { return test::make_suite("gcm", EspCipher::kAesGcm, 20); }
test::Suite cbc() {
  return test::make_suite("cbc", EspCipher::kAesCbc, 16, EspIntegrity::kHmacSha256, 128);
}

// One sender and one receiver of an SA, and the steps of a packet between them.
class SaPair {
 public:
  explicit SaPair(const test::Suite& suite = gcm())
      : sender_(test::make_transform(suite.algorithms)),
        receiver_(test::make_transform(suite.algorithms)),
        window_(64) {}

  // Seals `packet` in the given mode; returns the verdict and leaves the ESP packet in `b`.
  Verdict seal(bool tunnel, const Bytes& packet, OwnedBuffer& b) {
    EXPECT_TRUE(b->assign(packet));
    return tunnel ? encapsulate_tunnel(sender_, kSpi, ++seq_, false, *b)
                  : encapsulate_transport(sender_, kSpi, ++seq_, false, *b);
  }
  // Opens the ESP packet in `b`.
  OpenResult open(OwnedBuffer& b) { return esp_open(receiver_, window_, false, *b); }

  // Seals a payload with an arbitrary next header, as a peer could (esp_seal directly).
  void seal_raw(std::uint8_t next_header, const Bytes& payload, OwnedBuffer& b) {
    ASSERT_TRUE(b->assign(payload));
    ASSERT_EQ(esp_seal(sender_, kSpi, ++seq_, false, next_header, *b), Verdict::send_to_peer());
  }

 private:
  EspTransform sender_;
  EspTransform receiver_;
  ReplayWindow window_;
  std::uint64_t seq_ = 0;
};

// ---- Tunnel mode ----

TEST(EspEncapsulation, TunnelSealOfIpv4CarriesNextHeader4) {
  SaPair sa;
  OwnedBuffer b;
  const Bytes inner = ipv4_packet(ip_protocol::kUdp, udp_datagram(kSrc4, kDst4, pattern(30)));
  ASSERT_EQ(sa.seal(true, inner, b), Verdict::send_to_peer());
  const OpenResult r = sa.open(b);
  ASSERT_EQ(r.verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(r.next_header, ip_protocol::kIpv4);
  EXPECT_EQ(b.bytes(), inner) << "tunnel mode carries the whole inner packet";
}

TEST(EspEncapsulation, TunnelSealOfIpv6CarriesNextHeader41) {
  SaPair sa;
  OwnedBuffer b;
  const Bytes inner = ipv6_packet(ip_protocol::kTcp, {}, tcp_segment(kSrc6, kDst6, pattern(30)));
  ASSERT_EQ(sa.seal(true, inner, b), Verdict::send_to_peer());
  const OpenResult r = sa.open(b);
  ASSERT_EQ(r.verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(r.next_header, ip_protocol::kIpv6);
  EXPECT_EQ(b.bytes(), inner);
}

TEST(EspEncapsulation, TunnelSealRefusesWhatIsNotIp) {
  SaPair sa;
  OwnedBuffer b;
  EXPECT_EQ(sa.seal(true, {}, b), Verdict::drop(DropReason::kNotIp));
  Bytes version5 = ipv4_packet(ip_protocol::kUdp, pattern(8));
  version5[0] = 0x55;
  EXPECT_EQ(sa.seal(true, version5, b), Verdict::drop(DropReason::kNotIp));
}

TEST(EspEncapsulation, DecapsulateTunnelRejectsNextHeaderThatIsNotIpInIp) {
  OwnedBuffer b;
  const Bytes inner = ipv4_packet(ip_protocol::kUdp, udp_datagram(kSrc4, kDst4, pattern(8)));
  for (std::uint8_t nh : {ip_protocol::kTcp, ip_protocol::kUdp, ip_protocol::kNoNextHeader,
                          ip_protocol::kEsp, std::uint8_t{0}}) {
    ASSERT_TRUE(b->assign(inner));
    EXPECT_EQ(decapsulate_tunnel(nh, *b), Verdict::drop(DropReason::kBadNextHeader)) << int{nh};
  }
}

TEST(EspEncapsulation, DecapsulateTunnelRejectsFamilyThatDisagreesWithNextHeader) {
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(ipv6_packet(ip_protocol::kUdp, {}, udp_datagram(kSrc6, kDst6, {}))));
  EXPECT_EQ(decapsulate_tunnel(ip_protocol::kIpv4, *b), Verdict::drop(DropReason::kBadInnerPacket));
  ASSERT_TRUE(b->assign(ipv4_packet(ip_protocol::kUdp, udp_datagram(kSrc4, kDst4, {}))));
  EXPECT_EQ(decapsulate_tunnel(ip_protocol::kIpv6, *b), Verdict::drop(DropReason::kBadInnerPacket));

  // The same through a whole SA: a peer that labels an IPv6 packet as IPv4.
  SaPair sa;
  sa.seal_raw(ip_protocol::kIpv4,
              ipv6_packet(ip_protocol::kUdp, {}, udp_datagram(kSrc6, kDst6, {})), b);
  const OpenResult r = sa.open(b);
  ASSERT_EQ(r.verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(decapsulate_tunnel(r.next_header, *b), Verdict::drop(DropReason::kBadInnerPacket));
}

TEST(EspEncapsulation, DecapsulateTunnelRejectsPayloadThatIsNotAnIpPacket) {
  OwnedBuffer b;
  const Bytes not_ip[] = {
      {},                                          // nothing
      pattern(40, 0x10),                           // version 1
      Bytes{0x45, 0, 0, 20},                       // shorter than a header
      ipv4_packet(ip_protocol::kUdp, pattern(8)),  // total length beyond the data
      Bytes{0x60, 0, 0, 0, 0, 8, 17, 64},          // IPv6 fixed header cut short
  };
  for (std::size_t i = 0; i < std::size(not_ip); ++i) {
    Bytes payload = not_ip[i];
    if (i == 3) payload.resize(payload.size() - 1);
    ASSERT_TRUE(b->assign(payload));
    const std::uint8_t nh =
        !payload.empty() && payload[0] >> 4 == 6 ? ip_protocol::kIpv6 : ip_protocol::kIpv4;
    EXPECT_EQ(decapsulate_tunnel(nh, *b), Verdict::drop(DropReason::kBadInnerPacket)) << i;
  }
}

TEST(EspEncapsulation, DecapsulateTunnelRejectsBrokenIpv4HeaderChecksum) {
  OwnedBuffer b;
  Bytes inner = ipv4_packet(ip_protocol::kUdp, udp_datagram(kSrc4, kDst4, pattern(12)));
  ASSERT_TRUE(b->assign(inner));
  EXPECT_EQ(decapsulate_tunnel(ip_protocol::kIpv4, *b), Verdict::deliver_to_tun());
  inner[8] ^= 0x01;  // TTL changed, checksum not updated
  ASSERT_TRUE(b->assign(inner));
  EXPECT_EQ(decapsulate_tunnel(ip_protocol::kIpv4, *b), Verdict::drop(DropReason::kBadInnerPacket));
}

TEST(EspEncapsulation, DecapsulateTunnelTrimsTfcPaddingAfterTheInnerPacket) {
  const Bytes inner4 = ipv4_packet(ip_protocol::kUdp, udp_datagram(kSrc4, kDst4, pattern(12)));
  const Bytes inner6 = ipv6_packet(ip_protocol::kTcp, {}, tcp_segment(kSrc6, kDst6, pattern(5)));
  for (const Bytes& inner : {inner4, inner6}) {
    // RFC 4303 §2.7: the sender may pad the inner packet; the receiver cuts at its length.
    SaPair sa;
    OwnedBuffer b;
    const std::uint8_t nh = inner[0] >> 4 == 4 ? ip_protocol::kIpv4 : ip_protocol::kIpv6;
    sa.seal_raw(nh, concat(inner, Bytes(37, 0)), b);
    const OpenResult r = sa.open(b);
    ASSERT_EQ(r.verdict, Verdict::deliver_to_tun());
    EXPECT_EQ(b->size(), inner.size() + 37);
    IpPacketInfo parsed;
    EXPECT_EQ(decapsulate_tunnel(r.next_header, *b, &parsed), Verdict::deliver_to_tun());
    EXPECT_EQ(b.bytes(), inner);
    // What it hands back is the parse of the trimmed packet, as parsing it again would give.
    const auto again = parse_ip_packet(b->span());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(parsed.total_length, inner.size());
    EXPECT_EQ(parsed.total_length, again->total_length);
    EXPECT_EQ(parsed.src, again->src);
    EXPECT_EQ(parsed.dst, again->dst);
    EXPECT_EQ(parsed.protocol, again->protocol);
    EXPECT_EQ(parsed.ports_known, again->ports_known);
    EXPECT_EQ(parsed.dst_port, again->dst_port);
  }
}

// ---- Transport mode ----

TEST(EspEncapsulation, TransportStripsTheIpv4HeaderAndSealsTheUpperLayer) {
  SaPair sa;
  OwnedBuffer b;
  const Bytes segment = tcp_segment(kSrc4, kDst4, pattern(33));
  // A header with options (IHL 6) and link-layer padding behind the packet: neither is sealed.
  Bytes packet = ipv4_packet(ip_protocol::kTcp, concat({1, 1, 1, 0}, segment));
  packet[0] = 0x46;
  set_ipv4_total_length(packet.data(), static_cast<std::uint16_t>(packet.size()));
  store_be16(&packet[10], 0);
  store_be16(&packet[10], inet_checksum(ByteSpan(packet.data(), 24)));
  ASSERT_TRUE(ipv4_header_checksum_valid(packet));
  packet = concat(packet, Bytes(6, 0));

  ASSERT_EQ(sa.seal(false, packet, b), Verdict::send_to_peer());
  const OpenResult r = sa.open(b);
  ASSERT_EQ(r.verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(r.next_header, ip_protocol::kTcp);
  EXPECT_EQ(b.bytes(), segment);
}

TEST(EspEncapsulation, TransportStripsIpv6ExtensionHeaders) {
  SaPair sa;
  OwnedBuffer b;
  const Bytes datagram = udp_datagram(kSrc6, kDst6, pattern(21));
  const Bytes extensions =
      concat(options_header(ip_protocol::kIpv6DestOpts), options_header(ip_protocol::kUdp));
  ASSERT_EQ(sa.seal(false, ipv6_packet(ip_protocol::kIpv6HopByHop, extensions, datagram), b),
            Verdict::send_to_peer());
  const OpenResult r = sa.open(b);
  ASSERT_EQ(r.verdict, Verdict::deliver_to_tun());
  EXPECT_EQ(r.next_header, ip_protocol::kUdp) << "the protocol at the end of the chain";
  EXPECT_EQ(b.bytes(), datagram);
}

TEST(EspEncapsulation, TransportRefusesFragments) {
  SaPair sa;
  OwnedBuffer b;
  const Bytes datagram = udp_datagram(kSrc4, kDst4, pattern(16));

  Bytes first = ipv4_packet(ip_protocol::kUdp, datagram);
  first[6] = 0x20;  // MF, offset 0
  Bytes later = ipv4_packet(ip_protocol::kUdp, datagram);
  store_be16(&later[6], 0x0003);  // offset 3 * 8 bytes
  for (Bytes* p : {&first, &later}) {
    store_be16(&(*p)[10], 0);
    store_be16(&(*p)[10], inet_checksum(ByteSpan(p->data(), kIpv4HeaderSize)));
    EXPECT_EQ(sa.seal(false, *p, b), Verdict::drop(DropReason::kTransportFragment));
  }

  const Bytes first6 = ipv6_packet(ip_protocol::kIpv6Fragment,
                                   fragment_header(ip_protocol::kUdp, 0, true), datagram);
  EXPECT_EQ(sa.seal(false, first6, b), Verdict::drop(DropReason::kTransportFragment));
  const Bytes later6 = ipv6_packet(ip_protocol::kIpv6Fragment,
                                   fragment_header(ip_protocol::kUdp, 2, false), datagram);
  EXPECT_EQ(sa.seal(false, later6, b), Verdict::drop(DropReason::kTransportFragment));

  // An atomic fragment (offset 0, no M) is a whole packet (RFC 6946) and may go.
  const Bytes atomic = ipv6_packet(ip_protocol::kIpv6Fragment,
                                   fragment_header(ip_protocol::kUdp, 0, false), datagram);
  EXPECT_EQ(sa.seal(false, atomic, b), Verdict::send_to_peer());
}

TEST(EspEncapsulation, TransportRefusesWhatIsNotIp) {
  SaPair sa;
  OwnedBuffer b;
  EXPECT_EQ(sa.seal(false, pattern(40, 0x10), b), Verdict::drop(DropReason::kNotIp));
  EXPECT_EQ(sa.seal(false, {}, b), Verdict::drop(DropReason::kNotIp));
}

TEST(EspEncapsulation, DecapsulateTransportRebuildsTheIpv4Header) {
  const Bytes segment = tcp_segment(kSrc4, kDst4, pattern(50));
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(segment));
  const OuterHeader outer{kSrc4, kDst4, 0xb8, 57};
  IpPacketInfo parsed;
  ASSERT_EQ(decapsulate_transport(ip_protocol::kTcp, outer, *b, &parsed),
            Verdict::deliver_to_tun());

  const ByteSpan packet = b->span();
  ASSERT_EQ(packet.size(), kIpv4HeaderSize + segment.size());
  EXPECT_EQ(parsed.total_length, packet.size()) << "the parse of the rebuilt packet";
  EXPECT_EQ(parsed.protocol, ip_protocol::kTcp);
  EXPECT_EQ(parsed.src, kSrc4);
  EXPECT_TRUE(ipv4_header_checksum_valid(packet));
  const auto header = parse_ipv4_header(packet);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->header_length, kIpv4HeaderSize);
  EXPECT_EQ(header->total_length, packet.size());
  EXPECT_EQ(header->protocol, ip_protocol::kTcp);
  EXPECT_EQ(header->src, kSrc4);
  EXPECT_EQ(header->dst, kDst4);
  EXPECT_EQ(header->tos, 0xb8);
  EXPECT_EQ(header->ttl, 57);
  EXPECT_FALSE(header->is_fragment());
  EXPECT_TRUE(
      upper_layer_checksum_valid(kSrc4, kDst4, ip_protocol::kTcp, packet.subspan(kIpv4HeaderSize)));
}

TEST(EspEncapsulation, DecapsulateTransportRebuildsTheIpv6Header) {
  const Bytes datagram = udp_datagram(kSrc6, kDst6, pattern(70));
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(datagram));
  const OuterHeader outer{kSrc6, kDst6, 0x20, 9};
  ASSERT_EQ(decapsulate_transport(ip_protocol::kUdp, outer, *b), Verdict::deliver_to_tun());

  const ByteSpan packet = b->span();
  ASSERT_EQ(packet.size(), kIpv6HeaderSize + datagram.size());
  const auto header = parse_ipv6_header(packet);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->payload_length, datagram.size());
  EXPECT_EQ(header->next_header, ip_protocol::kUdp);
  EXPECT_EQ(header->traffic_class, 0x20);
  EXPECT_EQ(header->hop_limit, 9);
  EXPECT_EQ(header->src, kSrc6);
  EXPECT_EQ(header->dst, kDst6);
  const auto info = parse_ip_packet(packet);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->ports_known);
  EXPECT_EQ(info->dst_port, 53);
  EXPECT_TRUE(
      upper_layer_checksum_valid(kSrc6, kDst6, ip_protocol::kUdp, packet.subspan(kIpv6HeaderSize)));
}

// RFC 3948 §3.1.2: a peer behind a NAT computed its checksums with its private address; the
// rebuilt header carries the NAT's. The original address from `encap ... OADDR` moves them.
TEST(EspEncapsulation, DecapsulateTransportMovesTcpChecksumFromTheOriginalAddress) {
  const IpAddress original = address("10.1.2.3");
  const Bytes segment = tcp_segment(original, kDst4, pattern(61));  // odd length on purpose
  OuterHeader outer{kSrc4, kDst4};
  outer.original_source = original;
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(segment));
  ASSERT_EQ(decapsulate_transport(ip_protocol::kTcp, outer, *b), Verdict::deliver_to_tun());
  const ByteSpan upper = b->span().subspan(kIpv4HeaderSize);
  EXPECT_TRUE(upper_layer_checksum_valid(kSrc4, kDst4, ip_protocol::kTcp, upper));
  EXPECT_FALSE(upper_layer_checksum_valid(original, kDst4, ip_protocol::kTcp, upper));

  // Without the original address the checksum is left alone (and no longer verifies).
  ASSERT_TRUE(b->assign(segment));
  ASSERT_EQ(decapsulate_transport(ip_protocol::kTcp, OuterHeader{kSrc4, kDst4}, *b),
            Verdict::deliver_to_tun());
  EXPECT_FALSE(upper_layer_checksum_valid(kSrc4, kDst4, ip_protocol::kTcp,
                                          b->span().subspan(kIpv4HeaderSize)));
}

TEST(EspEncapsulation, DecapsulateTransportMovesUdpChecksumButKeepsAnIpv4ZeroChecksum) {
  const IpAddress original = address("172.16.9.9");
  OuterHeader outer{kSrc4, kDst4};
  outer.original_source = original;
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(udp_datagram(original, kDst4, pattern(33))));
  ASSERT_EQ(decapsulate_transport(ip_protocol::kUdp, outer, *b), Verdict::deliver_to_tun());
  const ByteSpan upper = b->span().subspan(kIpv4HeaderSize);
  EXPECT_NE(load_be16(&upper[6]), 0);
  EXPECT_TRUE(upper_layer_checksum_valid(kSrc4, kDst4, ip_protocol::kUdp, upper));

  Bytes unchecked = udp_datagram(original, kDst4, pattern(33));
  store_be16(&unchecked[6], 0);  // IPv4 UDP without a checksum
  ASSERT_TRUE(b->assign(unchecked));
  ASSERT_EQ(decapsulate_transport(ip_protocol::kUdp, outer, *b), Verdict::deliver_to_tun());
  EXPECT_EQ(load_be16(&b->span()[kIpv4HeaderSize + 6]), 0);
}

TEST(EspEncapsulation, DecapsulateTransportMovesIpv6ChecksumsAndLeavesOtherProtocols) {
  const IpAddress original = address("2001:db8:aaaa::5");
  OuterHeader outer{kSrc6, kDst6};
  outer.original_source = original;
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(tcp_segment(original, kDst6, pattern(100))));
  ASSERT_EQ(decapsulate_transport(ip_protocol::kTcp, outer, *b), Verdict::deliver_to_tun());
  EXPECT_TRUE(upper_layer_checksum_valid(kSrc6, kDst6, ip_protocol::kTcp,
                                         b->span().subspan(kIpv6HeaderSize)));

  // RFC 3948 §3.1.2 names TCP and UDP; any other protocol's bytes are never touched.
  const Bytes other = pattern(40);
  ASSERT_TRUE(b->assign(other));
  ASSERT_EQ(decapsulate_transport(253, outer, *b), Verdict::deliver_to_tun());
  const ByteSpan payload = b->span().subspan(kIpv6HeaderSize);
  EXPECT_EQ(Bytes(payload.begin(), payload.end()), other);

  // A truncated TCP header is not "fixed" past its end.
  ASSERT_TRUE(b->assign(Bytes(10, 0x77)));
  ASSERT_EQ(decapsulate_transport(ip_protocol::kTcp, outer, *b), Verdict::deliver_to_tun());
  EXPECT_EQ(Bytes(b->span().begin() + kIpv6HeaderSize, b->span().end()), Bytes(10, 0x77));
}

TEST(EspEncapsulation, DecapsulateTransportRefusesIpInIp) {
  OwnedBuffer b;
  const Bytes inner = ipv4_packet(ip_protocol::kUdp, udp_datagram(kSrc4, kDst4, pattern(4)));
  for (std::uint8_t nh : {ip_protocol::kIpv4, ip_protocol::kIpv6}) {
    for (const OuterHeader& outer : {OuterHeader{kSrc4, kDst4}, OuterHeader{kSrc6, kDst6}}) {
      ASSERT_TRUE(b->assign(inner));
      EXPECT_EQ(decapsulate_transport(nh, outer, *b), Verdict::drop(DropReason::kBadNextHeader))
          << int{nh};
      EXPECT_EQ(b.bytes(), inner) << "nothing prepended";
    }
  }
}

TEST(EspEncapsulation, DecapsulateTransportRefusesAPayloadTooLongForIpv4) {
  OwnedBuffer b;
  ASSERT_TRUE(b->assign(Bytes(0xffff - kIpv4HeaderSize + 1, 0)));
  EXPECT_EQ(decapsulate_transport(ip_protocol::kUdp, OuterHeader{kSrc4, kDst4}, *b),
            Verdict::drop(DropReason::kBadInnerPacket));
  ASSERT_TRUE(b->assign(Bytes(0xffff - kIpv4HeaderSize, 0)));
  EXPECT_EQ(decapsulate_transport(ip_protocol::kUdp, OuterHeader{kSrc4, kDst4}, *b),
            Verdict::deliver_to_tun());
}

// ---- Round trips: mode x family x protocol x algorithm ----

enum class Mode { kTunnel, kTransport };
using RoundTrip = std::tuple<test::Suite, Mode, IpFamily, std::uint8_t>;

class EspEncapsulationRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(EspEncapsulationRoundTrip, ReceiverGetsTheSentPacketBack) {
  const auto& [suite, mode, family, protocol] = GetParam();
  const bool v4 = family == IpFamily::kV4;
  const IpAddress& src = v4 ? kSrc4 : kSrc6;
  const IpAddress& dst = v4 ? kDst4 : kDst6;
  const bool tunnel = mode == Mode::kTunnel;

  SaPair sa(suite);
  for (std::size_t data_size : {0, 1, 15, 100, 1300}) {
    const Bytes data = pattern(data_size, static_cast<std::uint8_t>(data_size));
    const Bytes upper =
        protocol == ip_protocol::kTcp ? tcp_segment(src, dst, data) : udp_datagram(src, dst, data);
    const Bytes packet = v4 ? ipv4_packet(protocol, upper) : ipv6_packet(protocol, {}, upper);

    OwnedBuffer b;
    ASSERT_EQ(sa.seal(tunnel, packet, b), Verdict::send_to_peer());
    const OpenResult r = sa.open(b);
    ASSERT_EQ(r.verdict, Verdict::deliver_to_tun()) << to_string(r.verdict.reason);
    if (tunnel) {
      EXPECT_EQ(r.next_header, v4 ? ip_protocol::kIpv4 : ip_protocol::kIpv6);
      ASSERT_EQ(decapsulate_tunnel(r.next_header, *b), Verdict::deliver_to_tun());
    } else {
      EXPECT_EQ(r.next_header, protocol);
      EXPECT_EQ(b.bytes(), upper) << "transport mode carries only the upper layer";
      // The receiver's SA addresses are the packet's own in transport mode.
      ASSERT_EQ(decapsulate_transport(r.next_header, OuterHeader{src, dst, 0, 64}, *b),
                Verdict::deliver_to_tun());
    }
    // The sent packets carry exactly what the receiver rebuilds (DF, TTL 64, ID 0), so both modes
    // give back the same bytes.
    EXPECT_EQ(b.bytes(), packet) << data_size;
    const auto info = parse_ip_packet(b->span());
    ASSERT_TRUE(info.has_value());
    if (v4) {
      EXPECT_TRUE(ipv4_header_checksum_valid(b->span()));
    }
    EXPECT_TRUE(upper_layer_checksum_valid(info->src, info->dst, info->protocol,
                                           b->span().subspan(info->header_length)));
  }
}

std::string round_trip_name(const ::testing::TestParamInfo<RoundTrip>& param_info) {
  const auto& [suite, mode, family, protocol] = param_info.param;
  return suite.name + (mode == Mode::kTunnel ? "_tunnel" : "_transport") +
         (family == IpFamily::kV4 ? "_ipv4" : "_ipv6") +
         (protocol == ip_protocol::kTcp ? "_tcp" : "_udp");
}

INSTANTIATE_TEST_SUITE_P(ModesFamiliesProtocols, EspEncapsulationRoundTrip,
                         ::testing::Combine(::testing::Values(gcm(), cbc()),
                                            ::testing::Values(Mode::kTunnel, Mode::kTransport),
                                            ::testing::Values(IpFamily::kV4, IpFamily::kV6),
                                            ::testing::Values(ip_protocol::kTcp,
                                                              ip_protocol::kUdp)),
                         round_trip_name);

}  // namespace
}  // namespace uipsec
