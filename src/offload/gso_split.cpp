// GSO split (see gso_split.hpp). Per segment: one memcpy of the headers, one of the payload
// chunk, a handful of field stores and one checksum pass; no allocation, no branches on data
// beyond the bounds checked once in plan_segments().
#include "offload/gso_split.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "base/ip_address.hpp"
#include "wire/inet_checksum.hpp"

namespace uipsec {

namespace {

constexpr std::uint8_t kProtocolTcp = 6;
constexpr std::uint8_t kProtocolUdp = 17;
constexpr std::size_t kIpv6HeaderLen = 40;
constexpr std::size_t kUdpHeaderLen = 8;
constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpPsh = 0x08;
constexpr std::uint8_t kTcpCwr = 0x80;

SegmentPlanResult bad() { return {std::nullopt, DropReason::kBadSuperPacket}; }

SegmentPlanResult plan_plain(const VirtioNetHdr& hdr, ByteSpan packet) {
  if (packet.empty()) return bad();  // a header with nothing behind it
  SegmentPlan plan;
  plan.kind = SegmentPlan::Kind::kPlain;
  plan.max_segment_size = static_cast<std::uint32_t>(packet.size());
  if ((hdr.flags & VirtioNetHdr::kFlagNeedsCsum) != 0) {
    // The field (2 bytes) must lie inside the packet, behind the start of the region.
    if (std::size_t{hdr.csum_start} + hdr.csum_offset + 2 > packet.size()) return bad();
    plan.needs_csum = true;
    plan.csum_start = hdr.csum_start;
    plan.csum_offset = hdr.csum_offset;
  }
  return {plan, DropReason::kNone};
}

}  // namespace

SegmentPlanResult plan_segments(const VirtioNetHdr& hdr, ByteSpan packet) {
  const std::uint8_t type = hdr.gso_type & static_cast<std::uint8_t>(~VirtioNetHdr::kGsoEcn);
  if (type == VirtioNetHdr::kGsoNone) return plan_plain(hdr, packet);
  if (type != VirtioNetHdr::kGsoTcpV4 && type != VirtioNetHdr::kGsoTcpV6 &&
      type != VirtioNetHdr::kGsoUdpL4) {
    return bad();  // UFO (IP fragmentation of UDP) is never enabled; unknown types
  }
  if (hdr.gso_size == 0 || packet.empty()) return bad();

  SegmentPlan plan;
  std::uint8_t protocol = 0;
  const unsigned version = packet[0] >> 4;
  if (version == 4) {
    if (type == VirtioNetHdr::kGsoTcpV6 || packet.size() < 20) return bad();
    const std::size_t ihl = std::size_t{packet[0] & 0x0fu} * 4;
    if (ihl < 20 || ihl > packet.size()) return bad();
    if (load_be16(&packet[2]) != packet.size()) return bad();
    // MF or a fragment offset: a fragment cannot be segmented.
    if ((load_be16(&packet[6]) & 0x3fff) != 0) return bad();
    protocol = packet[9];
    plan.ipv4 = true;
    plan.l3_len = static_cast<std::uint16_t>(ihl);
  } else if (version == 6) {
    if (type == VirtioNetHdr::kGsoTcpV4 || packet.size() < kIpv6HeaderLen) return bad();
    if (std::size_t{load_be16(&packet[4])} + kIpv6HeaderLen != packet.size()) return bad();
    protocol = packet[6];  // extension headers are not accepted
    plan.ipv4 = false;
    plan.l3_len = kIpv6HeaderLen;
  } else {
    return bad();
  }
  if (hdr.csum_start != plan.l3_len) return bad();

  std::size_t l4_len = 0;
  if (type == VirtioNetHdr::kGsoUdpL4) {
    if (protocol != kProtocolUdp) return bad();
    l4_len = kUdpHeaderLen;
    plan.kind = SegmentPlan::Kind::kUdp;
  } else {
    if (protocol != kProtocolTcp) return bad();
    if (packet.size() < plan.l3_len + std::size_t{20}) return bad();
    l4_len = static_cast<std::size_t>(packet[plan.l3_len + 12] >> 4) * 4;
    if (l4_len < 20) return bad();
    plan.kind = SegmentPlan::Kind::kTcp;
  }
  const std::size_t header_len = plan.l3_len + l4_len;
  if (header_len > packet.size()) return bad();
  plan.header_len = static_cast<std::uint16_t>(header_len);
  plan.segment_payload = hdr.gso_size;
  plan.payload_len = static_cast<std::uint32_t>(packet.size() - header_len);
  // A super-packet without payload still makes one (header-only) packet.
  plan.count = std::max<std::uint32_t>(
      1, (plan.payload_len + plan.segment_payload - 1) / plan.segment_payload);
  plan.max_segment_size = static_cast<std::uint32_t>(
      header_len + std::min<std::uint32_t>(plan.payload_len, plan.segment_payload));
  return {plan, DropReason::kNone};
}

std::size_t segment_size(const SegmentPlan& plan, std::size_t index) {
  if (plan.kind == SegmentPlan::Kind::kPlain) return plan.max_segment_size;
  const std::size_t offset = index * plan.segment_payload;
  const std::size_t chunk = std::min<std::size_t>(
      plan.segment_payload, plan.payload_len - std::min<std::size_t>(offset, plan.payload_len));
  return plan.header_len + chunk;
}

void complete_checksum(MutableByteSpan packet, std::size_t csum_start, std::size_t csum_offset) {
  std::uint8_t* field = packet.data() + csum_start + csum_offset;
  const std::uint16_t sum =
      inet_sum(ByteSpan(packet.data() + csum_start, packet.size() - csum_start));
  std::uint16_t check = inet_checksum_finish(sum);
  if (check == 0 && csum_offset == 6) check = 0xffff;  // UDP: 0 would mean "no checksum"
  store_be16(field, check);
}

std::size_t write_segment(const SegmentPlan& plan, ByteSpan packet, std::size_t index,
                          std::uint8_t* out) {
  assert(index < plan.count);
  if (plan.kind == SegmentPlan::Kind::kPlain) {
    if (!packet.empty()) std::memcpy(out, packet.data(), packet.size());
    if (plan.needs_csum) {
      complete_checksum(MutableByteSpan(out, packet.size()), plan.csum_start, plan.csum_offset);
    }
    return packet.size();
  }

  const std::size_t size = segment_size(plan, index);
  const std::size_t chunk = size - plan.header_len;
  const std::size_t l3 = plan.l3_len;
  std::memcpy(out, packet.data(), plan.header_len);
  // The payload is copied and summed in one pass; the L4 header, once rewritten, is summed
  // below and added (it ends at an even offset: TCP headers are 4-byte words, UDP's 8 bytes).
  const std::uint16_t payload_sum = inet_sum_copy(
      out + plan.header_len,
      ByteSpan(packet.data() + plan.header_len + index * std::size_t{plan.segment_payload}, chunk));

  const bool first = index == 0;
  const bool last = index + 1 == plan.count;
  IpAddress src;
  IpAddress dst;
  if (plan.ipv4) {
    store_be16(out + 2, static_cast<std::uint16_t>(size));
    store_be16(out + 4, static_cast<std::uint16_t>(load_be16(out + 4) + index));  // wraps
    store_be16(out + 10, 0);
    store_be16(out + 10, inet_checksum(ByteSpan(out, l3)));
    src = IpAddress::from_bytes(IpFamily::kV4, out + 12);
    dst = IpAddress::from_bytes(IpFamily::kV4, out + 16);
  } else {
    store_be16(out + 4, static_cast<std::uint16_t>(size - kIpv6HeaderLen));
    src = IpAddress::from_bytes(IpFamily::kV6, out + 8);
    dst = IpAddress::from_bytes(IpFamily::kV6, out + 24);
  }

  const std::size_t l4_size = size - l3;
  std::uint8_t* l4 = out + l3;
  std::uint8_t protocol;
  std::size_t check_at;
  if (plan.kind == SegmentPlan::Kind::kTcp) {
    protocol = kProtocolTcp;
    check_at = 16;
    store_be32(l4 + 4,
               load_be32(l4 + 4) + static_cast<std::uint32_t>(index * plan.segment_payload));
    std::uint8_t flags = l4[13];
    if (!last) flags = static_cast<std::uint8_t>(flags & ~(kTcpFin | kTcpPsh));
    if (!first) flags = static_cast<std::uint8_t>(flags & ~kTcpCwr);
    l4[13] = flags;
  } else {
    protocol = kProtocolUdp;
    check_at = 6;
    store_be16(l4 + 4, static_cast<std::uint16_t>(l4_size));
  }
  store_be16(l4 + check_at, 0);
  const std::uint16_t pseudo =
      pseudo_header_sum(src, dst, protocol, static_cast<std::uint32_t>(l4_size));
  std::uint16_t check = inet_checksum_finish(
      inet_sum(ByteSpan(l4, plan.header_len - l3), inet_sum_combine(pseudo, payload_sum)));
  if (check == 0 && protocol == kProtocolUdp) check = 0xffff;
  store_be16(l4 + check_at, check);
  return size;
}

}  // namespace uipsec
