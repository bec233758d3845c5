// ICMP "fragmentation needed" / ICMPv6 "packet too big", written in place in front of the
// quoted packet (layout: RFC 792 + RFC 1191 §4; RFC 4443 §3.2).
#include "dataplane/icmp_too_big.hpp"

#include <algorithm>

#include "base/bytes.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {

namespace {

constexpr std::uint8_t kIcmpDestinationUnreachable = 3;
constexpr std::uint8_t kIcmpFragmentationNeeded = 4;
constexpr std::uint8_t kIcmpv6PacketTooBig = 2;
constexpr std::uint8_t kProtocolIcmp = ip_protocol::kIcmp;
constexpr std::uint8_t kProtocolIcmpv6 = ip_protocol::kIcmpv6;
// IP precedence "internetwork control", as Linux's icmp_send marks its errors.
constexpr std::uint8_t kIcmpTos = 0xc0;
constexpr std::uint8_t kHopLimit = 64;

bool is_icmp_error(const IpPacketInfo& info) {
  if (!info.icmp_known) {
    // An ICMP packet whose type we could not read: treat it as an error, the safe side.
    return info.protocol == (info.family == IpFamily::kV4 ? kProtocolIcmp : kProtocolIcmpv6) &&
           !(info.is_fragment && !info.is_first_fragment);
  }
  if (info.family == IpFamily::kV6) return info.icmp_type < 128;
  switch (info.icmp_type) {
    case 3:   // destination unreachable
    case 4:   // source quench
    case 5:   // redirect
    case 11:  // time exceeded
    case 12:  // parameter problem
      return true;
    default:
      return false;
  }
}

bool bad_source(const IpAddress& a) {
  if (a.is_unspecified()) return true;
  const std::uint8_t* b = a.data();
  if (a.is_v4()) {
    return b[0] >= 224 || b[0] == 127;  // multicast, reserved, broadcast; loopback
  }
  if (b[0] == 0xff) return true;  // multicast
  static constexpr std::uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::equal(b, b + 16, kLoopback);
}

}  // namespace

bool may_answer_with_icmp_error(const IpPacketInfo& info) {
  if (bad_source(info.src)) return false;
  if (info.family == IpFamily::kV4) {
    if (info.dst.data()[0] >= 224) return false;  // multicast, broadcast (RFC 1122 §3.2.2)
    if (info.is_fragment && !info.is_first_fragment) return false;
  }
  return !is_icmp_error(info);
}

bool ipv4_dont_fragment(ByteSpan packet) { return packet.size() > 6 && (packet[6] & 0x40) != 0; }

bool build_icmp_too_big(PacketBuffer& packet, const IpPacketInfo& info, std::uint32_t mtu) {
  const bool v4 = info.family == IpFamily::kV4;
  const std::size_t head = v4 ? kIcmpTooBigHeadIpv4 : kIcmpTooBigHeadIpv6;
  const std::size_t limit = v4 ? kIcmpErrorMaxIpv4 : kIcmpErrorMaxIpv6;
  if (packet.headroom() < head) return false;
  // The addresses are read from the packet's header before it is overwritten: `info` holds
  // copies, so the order does not matter.
  const IpAddress source = info.dst;
  const IpAddress destination = info.src;
  const std::size_t quoted = std::min(packet.size(), limit - head);
  packet.truncate(quoted);
  std::uint8_t* p = packet.push_front(head);
  std::fill(p, p + head, std::uint8_t{0});
  const std::size_t icmp_length = 8 + quoted;
  std::uint8_t* icmp = p + (v4 ? 20 : 40);
  if (v4) {
    p[0] = 0x45;
    p[1] = kIcmpTos;
    store_be16(p + 2, static_cast<std::uint16_t>(head + quoted));
    p[8] = kHopLimit;
    p[9] = kProtocolIcmp;
    std::copy(source.data(), source.data() + 4, p + 12);
    std::copy(destination.data(), destination.data() + 4, p + 16);
    store_be16(p + 10, inet_checksum(ByteSpan(p, 20)));
    icmp[0] = kIcmpDestinationUnreachable;
    icmp[1] = kIcmpFragmentationNeeded;
    // RFC 1191 §4: unused (16 bits) then the Next-Hop MTU (16 bits).
    store_be16(icmp + 6, static_cast<std::uint16_t>(std::min<std::uint32_t>(mtu, 0xffff)));
    store_be16(icmp + 2, inet_checksum(ByteSpan(icmp, icmp_length)));
  } else {
    p[0] = 0x60;  // version 6, traffic class 0, flow label 0
    store_be16(p + 4, static_cast<std::uint16_t>(icmp_length));
    p[6] = kProtocolIcmpv6;
    p[7] = kHopLimit;
    std::copy(source.data(), source.data() + 16, p + 8);
    std::copy(destination.data(), destination.data() + 16, p + 24);
    icmp[0] = kIcmpv6PacketTooBig;
    icmp[1] = 0;
    store_be32(icmp + 4, mtu);
    const std::uint16_t sum = inet_sum(ByteSpan(icmp, icmp_length),
                                       pseudo_header_sum(source, destination, kProtocolIcmpv6,
                                                         static_cast<std::uint32_t>(icmp_length)));
    store_be16(icmp + 2, inet_checksum_finish(sum));
  }
  packet.meta = PacketMeta{};
  return true;
}

}  // namespace uipsec
