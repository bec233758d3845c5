// ICMP "fragmentation needed" / ICMPv6 "packet too big": layout, quoting limits and checksums,
// the checksums recomputed here word by word rather than with the code under test.
#include "dataplane/icmp_too_big.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "dataplane/dataplane_test_support.hpp"

namespace uipsec {
namespace {

using test::addr;
using test::udp_packet;

// RFC 1071 the slow way: 32-bit accumulation of big-endian words, folded at the end.
std::uint16_t naive_checksum(const std::vector<std::uint8_t>& bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    const std::uint32_t hi = bytes[i];
    const std::uint32_t lo = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum += (hi << 8) | lo;
  }
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::vector<std::uint8_t> bytes_of(const PacketBuffer& p) {
  return {p.data(), p.data() + p.size()};
}

struct Built {
  std::vector<std::uint8_t> original;
  std::vector<std::uint8_t> icmp;
};

Built build(std::vector<std::uint8_t> original, std::uint32_t mtu) {
  std::vector<std::uint8_t> storage(kLargeBufferCapacity);
  PacketBuffer p(storage.data(), static_cast<std::uint32_t>(storage.size()));
  EXPECT_TRUE(p.assign(original));
  const auto info = parse_ip_packet(p.span());
  EXPECT_TRUE(info.has_value());
  EXPECT_TRUE(build_icmp_too_big(p, *info, mtu));
  return {std::move(original), bytes_of(p)};
}

std::vector<std::uint8_t> with_df(std::vector<std::uint8_t> packet) {
  packet[6] |= 0x40;
  packet[10] = packet[11] = 0;
  const std::uint16_t sum = naive_checksum({packet.begin(), packet.begin() + 20});
  packet[10] = static_cast<std::uint8_t>(sum >> 8);
  packet[11] = static_cast<std::uint8_t>(sum);
  return packet;
}

TEST(IcmpTooBig, Ipv4FragmentationNeededQuotesUpTo576Bytes) {
  const Built b = build(with_df(udp_packet("198.18.10.5", "198.18.20.7", 1000, 2000, 1400)), 1318);
  const std::vector<std::uint8_t>& icmp = b.icmp;
  ASSERT_EQ(icmp.size(), 576u);  // RFC 1812 4.3.2.3: as much as fits in 576 bytes
  EXPECT_EQ(icmp[0], 0x45);
  EXPECT_EQ((icmp[2] << 8) | icmp[3], 576);
  EXPECT_EQ(icmp[9], 1);  // ICMP
  // From the packet's destination, to its source.
  EXPECT_EQ(IpAddress::from_bytes(IpFamily::kV4, &icmp[12]), addr("198.18.20.7"));
  EXPECT_EQ(IpAddress::from_bytes(IpFamily::kV4, &icmp[16]), addr("198.18.10.5"));
  EXPECT_EQ(naive_checksum({icmp.begin(), icmp.begin() + 20}), 0);  // header checksum verifies
  EXPECT_EQ(icmp[20], 3);                                           // destination unreachable
  EXPECT_EQ(icmp[21], 4);                                           // fragmentation needed
  EXPECT_EQ(icmp[24], 0);                                           // unused
  EXPECT_EQ(icmp[25], 0);
  EXPECT_EQ((icmp[26] << 8) | icmp[27], 1318);  // RFC 1191 next-hop MTU
  EXPECT_EQ(naive_checksum({icmp.begin() + 20, icmp.end()}), 0);
  // The quote is the original packet's first 548 bytes, unchanged.
  EXPECT_TRUE(std::equal(icmp.begin() + 28, icmp.end(), b.original.begin()));
  // What it built is an IP packet the parser takes, ICMP type 3 code 4.
  const auto info = parse_ip_packet(ByteSpan(icmp.data(), icmp.size()));
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->icmp_known);
  EXPECT_EQ(info->icmp_type, 3);
  EXPECT_EQ(info->icmp_code, 4);
}

TEST(IcmpTooBig, ShortPacketIsQuotedWhole) {
  const Built b = build(with_df(udp_packet("198.18.10.5", "198.18.20.7", 1, 2, 13)), 600);
  ASSERT_EQ(b.icmp.size(), 28 + b.original.size());  // odd length: checksum pads a zero byte
  EXPECT_EQ(naive_checksum({b.icmp.begin() + 20, b.icmp.end()}), 0);
  EXPECT_TRUE(std::equal(b.icmp.begin() + 28, b.icmp.end(), b.original.begin()));
}

TEST(IcmpTooBig, Ipv6PacketTooBigQuotesUpTo1280Bytes) {
  const Built b = build(udp_packet("2001:db8:10::5", "2001:db8:20::7", 1000, 2000, 1400), 1338);
  const std::vector<std::uint8_t>& icmp = b.icmp;
  ASSERT_EQ(icmp.size(), 1280u);  // RFC 4443 2.4 (c)
  EXPECT_EQ(icmp[0] >> 4, 6);
  EXPECT_EQ((icmp[4] << 8) | icmp[5], 1240);  // payload length
  EXPECT_EQ(icmp[6], 58);
  EXPECT_EQ(IpAddress::from_bytes(IpFamily::kV6, &icmp[8]), addr("2001:db8:20::7"));
  EXPECT_EQ(IpAddress::from_bytes(IpFamily::kV6, &icmp[24]), addr("2001:db8:10::5"));
  EXPECT_EQ(icmp[40], 2);  // packet too big
  EXPECT_EQ(icmp[41], 0);
  const std::uint32_t mtu = (std::uint32_t{icmp[44]} << 24) | (std::uint32_t{icmp[45]} << 16) |
                            (std::uint32_t{icmp[46]} << 8) | icmp[47];
  EXPECT_EQ(mtu, 1338u);
  // Checksum over the pseudo-header (RFC 8200 8.1) and the message, built by hand.
  std::vector<std::uint8_t> covered(icmp.begin() + 8, icmp.begin() + 40);  // addresses
  const std::uint32_t length = 1240;
  for (int shift : {24, 16, 8, 0}) covered.push_back(static_cast<std::uint8_t>(length >> shift));
  covered.insert(covered.end(), {0, 0, 0, 58});
  covered.insert(covered.end(), icmp.begin() + 40, icmp.end());
  EXPECT_EQ(naive_checksum(covered), 0);
  EXPECT_TRUE(std::equal(icmp.begin() + 48, icmp.end(), b.original.begin()));
}

TEST(IcmpTooBig, NeedsHeadroomAndChangesNothingWithout) {
  std::vector<std::uint8_t> storage(4096);
  PacketBuffer p(storage.data(), 4096, /*headroom=*/20);
  const auto original = with_df(udp_packet("198.18.10.5", "198.18.20.7", 1, 2, 100));
  ASSERT_TRUE(p.assign(original, 20));
  const auto info = parse_ip_packet(p.span());
  ASSERT_TRUE(info);
  EXPECT_FALSE(build_icmp_too_big(p, *info, 1000));
  EXPECT_EQ(bytes_of(p), original);
}

TEST(IcmpTooBig, NeverAnswersErrorsOrNonUnicastSources) {
  auto info_of = [](const std::vector<std::uint8_t>& bytes) {
    return *parse_ip_packet(ByteSpan(bytes.data(), bytes.size()));
  };
  IpPacketInfo ok = info_of(udp_packet("198.18.10.5", "198.18.20.7", 1, 2, 10));
  EXPECT_TRUE(may_answer_with_icmp_error(ok));
  IpPacketInfo v = ok;
  v.src = addr("0.0.0.0");
  EXPECT_FALSE(may_answer_with_icmp_error(v));
  v.src = addr("224.0.0.1");
  EXPECT_FALSE(may_answer_with_icmp_error(v));
  v.src = addr("127.0.0.1");
  EXPECT_FALSE(may_answer_with_icmp_error(v));
  v = ok;
  v.dst = addr("255.255.255.255");
  EXPECT_FALSE(may_answer_with_icmp_error(v));
  v = ok;
  v.is_fragment = true;  // a later fragment
  EXPECT_FALSE(may_answer_with_icmp_error(v));
  v.is_first_fragment = true;
  EXPECT_TRUE(may_answer_with_icmp_error(v));
  v = ok;
  v.protocol = 1;
  v.ports_known = false;
  v.icmp_known = true;
  v.icmp_type = 3;  // an ICMP error is never answered with one (RFC 1122 3.2.2)
  EXPECT_FALSE(may_answer_with_icmp_error(v));
  v.icmp_type = 8;  // echo request: fine
  EXPECT_TRUE(may_answer_with_icmp_error(v));
  IpPacketInfo six = info_of(udp_packet("2001:db8:10::5", "2001:db8:20::7", 1, 2, 10));
  EXPECT_TRUE(may_answer_with_icmp_error(six));
  six.dst = addr("ff02::1");  // RFC 4443 2.4 (e.3): "packet too big" goes also for multicast
  EXPECT_TRUE(may_answer_with_icmp_error(six));
  six.protocol = 58;
  six.icmp_known = true;
  six.icmp_type = 1;  // destination unreachable: an error
  EXPECT_FALSE(may_answer_with_icmp_error(six));
  six.icmp_type = 128;  // echo request
  EXPECT_TRUE(may_answer_with_icmp_error(six));
  six.src = addr("::1");
  EXPECT_FALSE(may_answer_with_icmp_error(six));
}

TEST(IcmpTooBig, DontFragmentBit) {
  const auto plain = udp_packet("198.18.10.5", "198.18.20.7", 1, 2, 10);
  EXPECT_FALSE(ipv4_dont_fragment(ByteSpan(plain.data(), plain.size())));
  const auto df = with_df(plain);
  EXPECT_TRUE(ipv4_dont_fragment(ByteSpan(df.data(), df.size())));
}

}  // namespace
}  // namespace uipsec
