#include "offload/gso_split.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace uipsec {
namespace {

using Bytes = std::vector<std::uint8_t>;

// An independent checksum: a plain loop over 16-bit words, nothing shared with wire/.
std::uint16_t naive_checksum(const Bytes& data, std::uint32_t start_sum = 0) {
  std::uint32_t sum = start_sum;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    sum += std::uint32_t{data[i]} << 8 | (i + 1 < data.size() ? data[i + 1] : 0u);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

void put16(Bytes& b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}

Bytes payload_bytes(std::size_t n, std::uint8_t seed) {
  Bytes p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(seed + i * 7);
  return p;
}

struct Flow {
  bool ipv4 = true;
  bool tcp = true;
  std::uint16_t ip_id = 0x1234;
  std::uint32_t seq = 1000;
  std::uint8_t tcp_flags = 0x18;  // PSH ACK
  std::size_t tcp_options = 12;   // NOP NOP timestamp
  bool gso_ecn = false;           // VIRTIO_NET_HDR_GSO_ECN in the header
};

// Builds one complete IP packet of `flow` carrying `payload`, every field and checksum filled in
// by hand (the expected output, and the input with other lengths).
Bytes build_packet(const Flow& flow, const Bytes& payload, std::uint16_t ip_id, std::uint32_t seq,
                   std::uint8_t tcp_flags, bool checksum = true) {
  const std::size_t l3 = flow.ipv4 ? 20 : 40;
  const std::size_t l4 = flow.tcp ? 20 + flow.tcp_options : 8;
  Bytes b(l3 + l4 + payload.size(), 0);
  const std::uint8_t proto = flow.tcp ? 6 : 17;
  Bytes src = flow.ipv4 ? Bytes{198, 18, 0, 1}
                        : Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Bytes dst = flow.ipv4 ? Bytes{198, 19, 0, 2}
                        : Bytes{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  if (flow.ipv4) {
    b[0] = 0x45;
    put16(b, 2, static_cast<std::uint32_t>(b.size()));
    put16(b, 4, ip_id);
    put16(b, 6, 0x4000);  // DF
    b[8] = 64;
    b[9] = proto;
    std::copy(src.begin(), src.end(), b.begin() + 12);
    std::copy(dst.begin(), dst.end(), b.begin() + 16);
    if (checksum) put16(b, 10, naive_checksum(Bytes(b.begin(), b.begin() + 20)));
  } else {
    b[0] = 0x60;
    put16(b, 4, static_cast<std::uint32_t>(b.size() - 40));
    b[6] = proto;
    b[7] = 64;
    std::copy(src.begin(), src.end(), b.begin() + 8);
    std::copy(dst.begin(), dst.end(), b.begin() + 24);
  }
  if (flow.tcp) {
    put16(b, l3, 40000);
    put16(b, l3 + 2, 5201);
    put32(b, l3 + 4, seq);
    put32(b, l3 + 8, 0xabcdef01);
    b[l3 + 12] = static_cast<std::uint8_t>((l4 / 4) << 4);
    b[l3 + 13] = tcp_flags;
    put16(b, l3 + 14, 502);
    for (std::size_t i = 20; i < l4; ++i) b[l3 + i] = i < 22 ? 1 : static_cast<std::uint8_t>(i);
  } else {
    put16(b, l3, 40000);
    put16(b, l3 + 2, 4433);
    put16(b, l3 + 4, static_cast<std::uint32_t>(l4 + payload.size()));
  }
  std::copy(payload.begin(), payload.end(), b.begin() + static_cast<long>(l3 + l4));
  if (checksum) {
    // Pseudo-header by hand: addresses, protocol, L4 length.
    Bytes pseudo(src);
    pseudo.insert(pseudo.end(), dst.begin(), dst.end());
    const std::uint32_t len = static_cast<std::uint32_t>(b.size() - l3);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<std::uint8_t>(len >> 8),
                                 static_cast<std::uint8_t>(len), 0, 0, 0, proto});
    Bytes covered(pseudo);
    covered.insert(covered.end(), b.begin() + static_cast<long>(l3), b.end());
    std::uint16_t c = naive_checksum(covered);
    if (c == 0 && !flow.tcp) c = 0xffff;
    put16(b, l3 + (flow.tcp ? 16 : 6), c);
  }
  return b;
}

std::vector<Bytes> split(const VirtioNetHdr& hdr, const Bytes& packet) {
  auto result = plan_segments(hdr, packet);
  EXPECT_TRUE(result.plan.has_value());
  std::vector<Bytes> out;
  if (!result.plan) return out;
  for (std::size_t i = 0; i < result.plan->count; ++i) {
    Bytes seg(segment_size(*result.plan, i));
    EXPECT_EQ(write_segment(*result.plan, packet, i, seg.data()), seg.size());
    out.push_back(std::move(seg));
  }
  return out;
}

VirtioNetHdr gso_header(const Flow& flow, std::uint16_t gso_size) {
  VirtioNetHdr h;
  h.flags = VirtioNetHdr::kFlagNeedsCsum;
  h.gso_type = !flow.tcp ? VirtioNetHdr::kGsoUdpL4
                         : (flow.ipv4 ? VirtioNetHdr::kGsoTcpV4 : VirtioNetHdr::kGsoTcpV6);
  h.gso_size = gso_size;
  h.csum_start = flow.ipv4 ? 20 : 40;
  h.csum_offset = flow.tcp ? 16 : 6;
  h.hdr_len = 0xffff;  // a lie: must not matter
  if (flow.gso_ecn) h.gso_type |= VirtioNetHdr::kGsoEcn;
  return h;
}

// Splits a super-packet of `total` payload bytes and compares every segment with one built by
// hand from the same flow.
void expect_split_matches(const Flow& flow, std::size_t total, std::uint16_t gso_size) {
  const Bytes payload = payload_bytes(total, 3);
  // The input's checksums are partial in reality; garbage must not matter either.
  const Bytes super = build_packet(flow, payload, flow.ip_id, flow.seq, flow.tcp_flags, false);
  const auto segments = split(gso_header(flow, gso_size), super);
  const std::size_t expected_count = std::max<std::size_t>(1, (total + gso_size - 1) / gso_size);
  ASSERT_EQ(segments.size(), expected_count);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::size_t off = i * gso_size;
    const Bytes chunk(payload.begin() + static_cast<long>(off),
                      payload.begin() + static_cast<long>(std::min(total, off + gso_size)));
    std::uint8_t flags = flow.tcp_flags;
    if (i + 1 != segments.size()) flags &= static_cast<std::uint8_t>(~0x09);  // FIN, PSH
    if (i != 0) flags &= static_cast<std::uint8_t>(~0x80);                    // CWR
    const Bytes expected = build_packet(flow, chunk, static_cast<std::uint16_t>(flow.ip_id + i),
                                        static_cast<std::uint32_t>(flow.seq + off), flags);
    EXPECT_EQ(segments[i], expected) << "segment " << i;
  }
}

TEST(GsoSplit, TcpV4SegmentsMatchHandBuiltOnes) {
  expect_split_matches(Flow{}, 4000, 1448);  // 1448, 1448, 1104
}

TEST(GsoSplit, TcpV4ExactMultiple) { expect_split_matches(Flow{}, 3 * 1000, 1000); }

TEST(GsoSplit, TcpV4FinPshOnlyOnLastCwrOnlyOnFirst) {
  Flow flow;
  flow.tcp_flags = 0x80 | 0x10 | 0x08 | 0x01;  // CWR ACK PSH FIN
  expect_split_matches(flow, 5000, 1200);
}

// TUN_F_TSO_ECN: the kernel hands over super-packets of ECN flows with the GSO ECN bit; they
// split like any other, CWR on the first segment only (tcp_gso_segment).
TEST(GsoSplit, EcnSuperPacketsKeepCwrOnTheFirstSegment) {
  Flow flow;
  flow.gso_ecn = true;
  flow.tcp_flags = 0x80 | 0x10;  // CWR ACK
  expect_split_matches(flow, 5000, 1200);
  flow.ipv4 = false;
  expect_split_matches(flow, 5000, 1200);
}

TEST(GsoSplit, TcpV4IpIdWraps) {
  Flow flow;
  flow.ip_id = 0xfffe;
  expect_split_matches(flow, 4000, 1000);
}

TEST(GsoSplit, TcpV4SequenceWraps) {
  Flow flow;
  flow.seq = 0xffffffff - 1500;
  expect_split_matches(flow, 4000, 1000);
}

TEST(GsoSplit, TcpV6SegmentsMatchHandBuiltOnes) {
  Flow flow;
  flow.ipv4 = false;
  expect_split_matches(flow, 60000, 1428);
}

TEST(GsoSplit, TcpWithoutOptions) {
  Flow flow;
  flow.tcp_options = 0;
  expect_split_matches(flow, 2921, 1460);
}

TEST(GsoSplit, UdpV4AndV6) {
  Flow v4;
  v4.tcp = false;
  expect_split_matches(v4, 3500, 1200);
  Flow v6 = v4;
  v6.ipv4 = false;
  expect_split_matches(v6, 3500, 1200);
}

TEST(GsoSplit, LargestSuperPacket) {
  Flow flow;
  expect_split_matches(flow, 65535 - 20 - 32, 1448);
}

TEST(GsoSplit, PayloadShorterThanOneSegment) { expect_split_matches(Flow{}, 500, 1448); }

TEST(GsoSplit, HeaderOnlySuperPacketGivesOnePacket) { expect_split_matches(Flow{}, 0, 1448); }

TEST(GsoSplit, PlainPacketChecksumIsCompleted) {
  Flow flow;
  const Bytes payload = payload_bytes(777, 9);
  const Bytes expected = build_packet(flow, payload, 7, 99, 0x18);
  // What the kernel hands over with NEEDS_CSUM: the field holds the pseudo-header sum.
  Bytes partial = expected;
  const std::uint32_t len = static_cast<std::uint32_t>(partial.size() - 20);
  Bytes pseudo = {198,
                  18,
                  0,
                  1,
                  198,
                  19,
                  0,
                  2,
                  0,
                  6,
                  static_cast<std::uint8_t>(len >> 8),
                  static_cast<std::uint8_t>(len)};
  put16(partial, 36, static_cast<std::uint16_t>(~naive_checksum(pseudo)));
  VirtioNetHdr hdr;
  hdr.flags = VirtioNetHdr::kFlagNeedsCsum;
  hdr.csum_start = 20;
  hdr.csum_offset = 16;
  const auto segments = split(hdr, partial);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0], expected);
}

TEST(GsoSplit, PlainPacketWithoutNeedsCsumIsCopiedUnchanged) {
  const Bytes packet = build_packet(Flow{}, payload_bytes(100, 1), 7, 99, 0x18);
  Bytes garbage = packet;
  garbage[36] ^= 0x55;
  const auto segments = split(VirtioNetHdr{}, garbage);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0], garbage);
}

void expect_bad(const VirtioNetHdr& hdr, const Bytes& packet) {
  const auto result = plan_segments(hdr, packet);
  EXPECT_FALSE(result.plan.has_value());
  EXPECT_EQ(result.reason, DropReason::kBadSuperPacket);
}

TEST(GsoSplit, RejectsMalformedSuperPackets) {
  const Flow flow;
  const Bytes good = build_packet(flow, payload_bytes(3000, 1), 1, 1, 0x10);
  const VirtioNetHdr hdr = gso_header(flow, 1000);
  ASSERT_TRUE(plan_segments(hdr, good).plan.has_value());

  VirtioNetHdr h = hdr;
  h.gso_size = 0;
  expect_bad(h, good);
  h = hdr;
  h.gso_type = VirtioNetHdr::kGsoTcpV6;  // family mismatch
  expect_bad(h, good);
  h = hdr;
  h.gso_type = VirtioNetHdr::kGsoUdpL4;  // protocol mismatch
  expect_bad(h, good);
  h = hdr;
  h.gso_type = VirtioNetHdr::kGsoUdp;  // UFO
  expect_bad(h, good);
  h = hdr;
  h.gso_type = 9;
  expect_bad(h, good);
  h = hdr;
  h.csum_start = 24;
  expect_bad(h, good);

  Bytes b = good;
  put16(b, 2, static_cast<std::uint32_t>(b.size() - 1));  // total length disagrees
  expect_bad(hdr, b);
  b = good;
  put16(b, 6, 0x2000);  // more fragments
  expect_bad(hdr, b);
  b = good;
  b[32] = 0x40;  // TCP data offset 4 words
  expect_bad(hdr, b);
  b = good;
  b[32] = 0xf0;  // data offset 60 bytes: fine by itself...
  b.resize(20 + 40);
  put16(b, 2, static_cast<std::uint32_t>(b.size()));  // ...but beyond the packet
  expect_bad(hdr, b);
  b = good;
  b[0] = 0x4f;  // IHL 60 with the TCP header misplaced: csum_start disagrees
  expect_bad(hdr, b);
  b = good;
  b[0] = 0x55;  // version 5
  expect_bad(hdr, b);

  for (std::size_t n = 0; n < 60; ++n) expect_bad(hdr, Bytes(good.begin(), good.begin() + n));
  expect_bad(VirtioNetHdr{}, Bytes{});  // a header alone (found by fuzzing)

  VirtioNetHdr plain;
  plain.flags = VirtioNetHdr::kFlagNeedsCsum;
  plain.csum_start = static_cast<std::uint16_t>(good.size() - 1);
  plain.csum_offset = 0;
  expect_bad(plain, good);  // field would cross the end
  plain.csum_start = 20;
  plain.csum_offset = 0xffff;
  expect_bad(plain, good);
}

TEST(GsoSplit, RejectsIpv6ExtensionHeaders) {
  Flow flow;
  flow.ipv4 = false;
  Bytes b = build_packet(flow, payload_bytes(3000, 1), 1, 1, 0x10, false);
  b[6] = 0;  // hop-by-hop options
  expect_bad(gso_header(flow, 1000), b);
}

}  // namespace
}  // namespace uipsec
