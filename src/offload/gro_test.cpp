#include "offload/gro.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "offload/gso_split.hpp"

namespace uipsec {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Independent of wire/: a plain loop over 16-bit words, complemented.
std::uint16_t naive_checksum(const Bytes& data) {
  std::uint32_t sum = 0;
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

// Whether the TCP checksum of an IP packet is right, computed by hand.
bool tcp_checksum_ok(const Bytes& p) {
  const bool v4 = (p[0] >> 4) == 4;
  const std::size_t l3 = v4 ? 20 : 40;
  Bytes covered;
  if (v4) {
    covered.assign(p.begin() + 12, p.begin() + 20);
  } else {
    covered.assign(p.begin() + 8, p.begin() + 40);
  }
  const std::uint32_t len = static_cast<std::uint32_t>(p.size() - l3);
  covered.insert(covered.end(), {0, 0, static_cast<std::uint8_t>(len >> 8),
                                 static_cast<std::uint8_t>(len), 0, 0, 0, 6});
  covered.insert(covered.end(), p.begin() + static_cast<long>(l3), p.end());
  return naive_checksum(covered) == 0;
}

// A TCP super-packet as the kernel would hand it over, with `total` bytes of payload.
Bytes super_packet(bool v4, std::size_t total, std::uint8_t flags = 0x18) {
  const std::size_t l3 = v4 ? 20 : 40;
  const std::size_t l4 = 32;  // with a timestamp option
  Bytes b(l3 + l4 + total, 0);
  if (v4) {
    b[0] = 0x45;
    put16(b, 2, static_cast<std::uint32_t>(b.size()));
    put16(b, 4, 0x0100);
    put16(b, 6, 0x4000);
    b[8] = 63;
    b[9] = 6;
    for (int i = 0; i < 4; ++i) b[12 + i] = static_cast<std::uint8_t>(198 - i);
    for (int i = 0; i < 4; ++i) b[16 + i] = static_cast<std::uint8_t>(20 + i);
  } else {
    b[0] = 0x60;
    put16(b, 4, static_cast<std::uint32_t>(b.size() - 40));
    b[6] = 6;
    b[7] = 63;
    for (int i = 0; i < 32; ++i) b[8 + i] = static_cast<std::uint8_t>(0x20 + i);
  }
  put16(b, l3, 5201);
  put16(b, l3 + 2, 40000);
  put16(b, l3 + 4, 0x1234);
  put16(b, l3 + 6, 0x5678);
  put16(b, l3 + 8, 0x0bad);
  b[l3 + 12] = 0x80;
  b[l3 + 13] = flags;
  put16(b, l3 + 14, 1000);
  b[l3 + 20] = 1;
  b[l3 + 21] = 1;
  b[l3 + 22] = 8;
  b[l3 + 23] = 10;
  for (std::size_t i = 0; i < total; ++i) b[l3 + l4 + i] = static_cast<std::uint8_t>(i * 13);
  return b;
}

// The packets a peer's TSO would have sent: the super-packet cut with valid checksums.
std::vector<Bytes> segments_of(const Bytes& super, bool v4, std::uint16_t mss) {
  VirtioNetHdr h;
  h.gso_type = v4 ? VirtioNetHdr::kGsoTcpV4 : VirtioNetHdr::kGsoTcpV6;
  h.gso_size = mss;
  h.csum_start = v4 ? 20 : 40;
  h.csum_offset = 16;
  const auto plan = plan_segments(h, super).plan;
  EXPECT_TRUE(plan.has_value());
  std::vector<Bytes> out;
  for (std::size_t i = 0; plan && i < plan->count; ++i) {
    Bytes s(segment_size(*plan, i));
    write_segment(*plan, super, i, s.data());
    out.push_back(std::move(s));
  }
  return out;
}

// Merges `segments` as LinuxTun does (head rewritten, payloads appended) and returns the
// header and the merged packet, or nullopt when fewer than all could join.
std::optional<std::pair<VirtioNetHdr, Bytes>> merge(std::vector<Bytes> segments) {
  const auto head_info = gro_candidate(segments[0]);
  if (!head_info) return std::nullopt;
  GroSegment last = *head_info;
  std::size_t bytes = segments[0].size();
  std::size_t payload = head_info->payload;
  for (std::size_t i = 1; i < segments.size(); ++i) {
    const auto info = gro_candidate(segments[i]);
    if (!info || !can_append(segments[0], *head_info, last, segments[i], *info, i, bytes)) {
      return std::nullopt;
    }
    bytes += info->payload;
    payload += info->payload;
    last = *info;
  }
  Bytes merged = segments[0];
  const VirtioNetHdr hdr = finish_group(merged, *head_info, payload, last.psh);
  for (std::size_t i = 1; i < segments.size(); ++i) {
    merged.insert(merged.end(), segments[i].begin() + head_info->header_len, segments[i].end());
  }
  return std::make_pair(hdr, merged);
}

void expect_round_trip(bool v4, std::size_t total, std::uint16_t mss) {
  const Bytes super = super_packet(v4, total);
  const auto merged = merge(segments_of(super, v4, mss));
  ASSERT_TRUE(merged.has_value());
  const auto& [hdr, packet] = *merged;
  EXPECT_EQ(hdr.flags, VirtioNetHdr::kFlagNeedsCsum);
  EXPECT_EQ(hdr.gso_type, v4 ? VirtioNetHdr::kGsoTcpV4 : VirtioNetHdr::kGsoTcpV6);
  EXPECT_EQ(hdr.gso_size, mss);
  EXPECT_EQ(hdr.hdr_len, (v4 ? 20 : 40) + 32);
  EXPECT_EQ(hdr.csum_start, v4 ? 20 : 40);
  EXPECT_EQ(hdr.csum_offset, 16);
  ASSERT_EQ(packet.size(), super.size());
  // What the kernel does with NEEDS_CSUM: complete the checksum; then it must verify.
  Bytes completed = packet;
  complete_checksum(completed, hdr.csum_start, hdr.csum_offset);
  EXPECT_TRUE(tcp_checksum_ok(completed));
  // Everything else equals the original super-packet (PSH from the last segment).
  Bytes expected = super;
  const std::size_t l3 = v4 ? 20 : 40;
  expected[l3 + 16] = completed[l3 + 16];
  expected[l3 + 17] = completed[l3 + 17];
  if (v4) {
    expected[10] = 0;
    expected[11] = 0;
    put16(expected, 10, naive_checksum(Bytes(expected.begin(), expected.begin() + 20)));
  }
  EXPECT_EQ(completed, expected);
}

TEST(Gro, MergesWhatTsoCutBackIntoTheSuperPacketV4) { expect_round_trip(true, 10000, 1448); }
TEST(Gro, MergesWhatTsoCutBackIntoTheSuperPacketV6) { expect_round_trip(false, 20000, 1428); }
TEST(Gro, MergesUpToTheLargestSuperPacket) { expect_round_trip(true, 65535 - 52, 1448); }

TEST(Gro, RefusesWhatCannotBeCoalesced) {
  const Bytes super = super_packet(true, 5000);
  const auto good = segments_of(super, true, 1000);
  ASSERT_TRUE(merge(good).has_value());
  auto changed = [&](std::size_t index, std::size_t at, std::uint8_t xor_value, bool refix) {
    auto s = good;
    s[index][at] ^= xor_value;
    if (refix) {
      // Recompute the checksums so that only the field itself differs.
      put16(s[index], 10, 0);
      put16(s[index], 10, naive_checksum(Bytes(s[index].begin(), s[index].begin() + 20)));
      const std::uint32_t len = static_cast<std::uint32_t>(s[index].size() - 20);
      Bytes pseudo(s[index].begin() + 12, s[index].begin() + 20);
      pseudo.insert(pseudo.end(),
                    {0, 6, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
      put16(s[index], 36, static_cast<std::uint16_t>(~naive_checksum(pseudo)));
      complete_checksum(s[index], 20, 16);
      // Valid by itself (unless its flags rule it out): the refusal is about the group.
      if ((s[index][33] & ~0x08) == 0x10) {
        EXPECT_TRUE(gro_candidate(s[index]).has_value()) << "field at " << at;
      }
    }
    return s;
  };
  EXPECT_FALSE(merge(changed(2, 60, 0xff, false))) << "a payload byte with a stale checksum";
  EXPECT_FALSE(merge(changed(2, 20, 0x01, true))) << "another source port";
  EXPECT_FALSE(merge(changed(2, 27, 0x01, true))) << "a sequence gap";
  EXPECT_FALSE(merge(changed(2, 35, 0x01, true))) << "another ACK number";
  EXPECT_FALSE(merge(changed(2, 8, 0x01, true))) << "another TTL";
  EXPECT_FALSE(merge(changed(2, 1, 0x01, true))) << "another TOS";
  EXPECT_FALSE(merge(changed(2, 44, 0x01, true))) << "other TCP option bytes";
  EXPECT_FALSE(merge(changed(2, 33, 0x02, true))) << "SYN";
  EXPECT_FALSE(merge(changed(2, 33, 0x08, true))) << "PSH in the middle";
  EXPECT_FALSE(merge(changed(0, 33, 0x40, true))) << "ECE";
  EXPECT_FALSE(merge(changed(2, 15, 0x01, true))) << "another destination address";

  // A segment the inbound path verified right after decryption is not summed again: the flag
  // is trusted (which is why only the inbound path sets it), the rest of the checks are not.
  const auto stale = changed(2, 60, 0xff, false);
  EXPECT_FALSE(gro_candidate(stale[2], /*tcp_checksum_verified=*/false).has_value());
  EXPECT_TRUE(gro_candidate(stale[2], /*tcp_checksum_verified=*/true).has_value());
  Bytes syn = good[2];
  syn[33] |= 0x02;
  EXPECT_FALSE(gro_candidate(syn, /*tcp_checksum_verified=*/true).has_value());

  // Only the last may be shorter; a longer one never joins.
  auto short_middle = segments_of(super_packet(true, 2500), true, 1000);  // 1000 1000 500
  std::swap(short_middle[1], short_middle[2]);
  EXPECT_FALSE(merge(short_middle));
  // A pure ACK (no payload) is not coalesced.
  EXPECT_FALSE(gro_candidate(super_packet(true, 0, 0x10)).has_value());
  // Fragments and IPv4 options are not either.
  Bytes fragment = good[0];
  fragment[6] |= 0x20;
  EXPECT_FALSE(gro_candidate(fragment).has_value());
  for (std::size_t n = 0; n < good[0].size(); ++n) {
    EXPECT_FALSE(gro_candidate(Bytes(good[0].begin(), good[0].begin() + n)).has_value()) << n;
  }
}

TEST(Gro, SameFlowComparesAddressesAndPortsOnly) {
  const Bytes a = super_packet(true, 100);
  GroSegment info;
  info.ipv4 = true;
  info.l3_len = 20;
  info.header_len = 52;
  Bytes b = a;
  b[24] ^= 0xff;  // another sequence number: still the flow
  EXPECT_TRUE(same_flow(a, info, b, info));
  Bytes other_port = a;
  other_port[21] ^= 1;  // source port
  EXPECT_FALSE(same_flow(a, info, other_port, info));
  Bytes other_address = a;
  other_address[19] ^= 1;  // destination address
  EXPECT_FALSE(same_flow(a, info, other_address, info));
  const Bytes v6 = super_packet(false, 100);
  GroSegment info6 = info;
  info6.ipv4 = false;
  info6.l3_len = 40;
  EXPECT_FALSE(same_flow(a, info, v6, info6));
  Bytes v6_other = v6;
  v6_other[39] ^= 1;
  EXPECT_TRUE(same_flow(v6, info6, v6, info6));
  EXPECT_FALSE(same_flow(v6, info6, v6_other, info6));
}

TEST(Gro, StopsAtTheSegmentLimit) {
  const auto segments = segments_of(super_packet(true, 65 * 100), true, 100);
  ASSERT_EQ(segments.size(), 65u);
  const auto head = *gro_candidate(segments[0]);
  const auto last = *gro_candidate(segments[63]);
  const auto next = *gro_candidate(segments[64]);
  EXPECT_FALSE(can_append(segments[0], head, last, segments[64], next, kGroMaxSegments,
                          segments[0].size() + 63 * 100));
  EXPECT_TRUE(can_append(segments[0], head, last, segments[64], next, kGroMaxSegments - 1,
                         segments[0].size() + 63 * 100));
}

}  // namespace
}  // namespace uipsec
