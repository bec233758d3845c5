// TCP GRO in user space (see gro.hpp). The rules follow what Linux's tcp_gro_receive accepts
// for a flow: the same addresses, ports, ACK number, TOS/traffic class, TTL/hop limit, DF and
// TCP options; contiguous sequence numbers; no segment longer than the first, none after a
// shorter one; nothing but ACK in the middle; PSH ends a group.
#include "offload/gro.hpp"

#include <cstring>

#include "base/ip_address.hpp"
#include "wire/inet_checksum.hpp"

namespace uipsec {

namespace {

constexpr std::uint8_t kProtocolTcp = 6;
constexpr std::uint8_t kTcpAck = 0x10;
constexpr std::uint8_t kTcpPsh = 0x08;

// Sum of the TCP pseudo-header for `tcp_length` bytes of TCP.
std::uint16_t tcp_pseudo_sum(ByteSpan packet, bool ipv4, std::size_t tcp_length) {
  if (ipv4) {
    return pseudo_header_sum(IpAddress::from_bytes(IpFamily::kV4, packet.data() + 12),
                             IpAddress::from_bytes(IpFamily::kV4, packet.data() + 16), kProtocolTcp,
                             static_cast<std::uint32_t>(tcp_length));
  }
  return pseudo_header_sum(IpAddress::from_bytes(IpFamily::kV6, packet.data() + 8),
                           IpAddress::from_bytes(IpFamily::kV6, packet.data() + 24), kProtocolTcp,
                           static_cast<std::uint32_t>(tcp_length));
}

}  // namespace

std::optional<GroSegment> gro_candidate(ByteSpan packet, bool tcp_checksum_verified) {
  GroSegment s;
  if (packet.size() < 20) return std::nullopt;
  const unsigned version = packet[0] >> 4;
  if (version == 4) {
    if (packet[0] != 0x45 || packet[9] != kProtocolTcp) return std::nullopt;
    if (load_be16(&packet[2]) != packet.size()) return std::nullopt;
    if ((load_be16(&packet[6]) & 0x3fff) != 0) return std::nullopt;  // a fragment
    if (inet_checksum(packet.first(20)) != 0) return std::nullopt;
    s.ipv4 = true;
    s.l3_len = 20;
  } else if (version == 6) {
    if (packet.size() < 40 || packet[6] != kProtocolTcp) return std::nullopt;
    if (std::size_t{load_be16(&packet[4])} + 40 != packet.size()) return std::nullopt;
    s.l3_len = 40;
  } else {
    return std::nullopt;
  }
  if (packet.size() < s.l3_len + std::size_t{20}) return std::nullopt;
  const std::uint8_t* tcp = packet.data() + s.l3_len;
  const std::size_t tcp_header = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  if (tcp_header < 20 || s.l3_len + tcp_header >= packet.size()) return std::nullopt;  // no data
  const std::uint8_t flags = tcp[13];
  if ((flags & ~kTcpPsh) != kTcpAck) return std::nullopt;  // SYN, FIN, RST, URG, ECE, CWR
  if (!tcp_checksum_verified) {
    const std::size_t tcp_length = packet.size() - s.l3_len;
    const std::uint16_t sum =
        inet_sum(ByteSpan(tcp, tcp_length), tcp_pseudo_sum(packet, s.ipv4, tcp_length));
    if (inet_checksum_finish(sum) != 0) return std::nullopt;
  }
  s.header_len = static_cast<std::uint16_t>(s.l3_len + tcp_header);
  s.payload = static_cast<std::uint16_t>(packet.size() - s.header_len);
  s.seq = load_be32(tcp + 4);
  s.psh = (flags & kTcpPsh) != 0;
  return s;
}

bool can_append(ByteSpan head, const GroSegment& head_info, const GroSegment& last_info,
                ByteSpan next, const GroSegment& next_info, std::size_t segments,
                std::size_t bytes) {
  if (segments >= kGroMaxSegments || last_info.psh) return false;
  if (next_info.ipv4 != head_info.ipv4 || next_info.header_len != head_info.header_len) {
    return false;
  }
  if (last_info.payload != head_info.payload || next_info.payload > head_info.payload) {
    return false;  // only the last segment may be shorter
  }
  if (next_info.seq != last_info.seq + last_info.payload) return false;
  const std::size_t limit = head_info.ipv4 ? 65535 : 65535 + 40;
  if (bytes + next_info.payload > limit) return false;
  const std::uint8_t* h = head.data();
  const std::uint8_t* n = next.data();
  const std::size_t l3 = head_info.l3_len;
  if (head_info.ipv4) {
    // TOS, DF (flags), TTL, protocol, addresses; not the length, ID or checksum.
    if (h[1] != n[1] || (h[6] & 0x40) != (n[6] & 0x40) || h[8] != n[8] ||
        std::memcmp(h + 12, n + 12, 8) != 0) {
      return false;
    }
  } else {
    // Version, traffic class, flow label; next header, hop limit, addresses.
    if (std::memcmp(h, n, 4) != 0 || std::memcmp(h + 6, n + 6, 34) != 0) return false;
  }
  // Ports, ACK number, data offset, flags other than PSH, window; options byte for byte.
  if (std::memcmp(h + l3, n + l3, 4) != 0 || std::memcmp(h + l3 + 8, n + l3 + 8, 5) != 0 ||
      (h[l3 + 13] & ~kTcpPsh) != (n[l3 + 13] & ~kTcpPsh) ||
      std::memcmp(h + l3 + 14, n + l3 + 14, 2) != 0 ||
      std::memcmp(h + l3 + 20, n + l3 + 20, head_info.header_len - l3 - 20) != 0) {
    return false;
  }
  return true;
}

bool same_flow(ByteSpan a, const GroSegment& a_info, ByteSpan b, const GroSegment& b_info) {
  if (a_info.ipv4 != b_info.ipv4) return false;
  const std::uint8_t* x = a.data();
  const std::uint8_t* y = b.data();
  // Addresses (IPv4 12..19, IPv6 8..39), then the ports right after the fixed header.
  const bool addresses =
      a_info.ipv4 ? std::memcmp(x + 12, y + 12, 8) == 0 : std::memcmp(x + 8, y + 8, 32) == 0;
  return addresses && std::memcmp(x + a_info.l3_len, y + b_info.l3_len, 4) == 0;
}

VirtioNetHdr finish_group(MutableByteSpan head, const GroSegment& head_info,
                          std::size_t payload_total, bool psh) {
  std::uint8_t* h = head.data();
  const std::size_t l3 = head_info.l3_len;
  const std::size_t total = head_info.header_len + payload_total;
  const std::size_t tcp_length = total - l3;
  if (head_info.ipv4) {
    store_be16(h + 2, static_cast<std::uint16_t>(total));
    store_be16(h + 10, 0);
    store_be16(h + 10, inet_checksum(ByteSpan(h, 20)));
  } else {
    store_be16(h + 4, static_cast<std::uint16_t>(total - 40));
  }
  if (psh) h[l3 + 13] = static_cast<std::uint8_t>(h[l3 + 13] | kTcpPsh);
  // CHECKSUM_PARTIAL: the field holds the pseudo-header sum; the kernel adds the rest.
  store_be16(h + l3 + 16, tcp_pseudo_sum(ByteSpan(h, head.size()), head_info.ipv4, tcp_length));
  VirtioNetHdr hdr;
  hdr.flags = VirtioNetHdr::kFlagNeedsCsum;
  hdr.gso_type = head_info.ipv4 ? VirtioNetHdr::kGsoTcpV4 : VirtioNetHdr::kGsoTcpV6;
  hdr.hdr_len = head_info.header_len;
  hdr.gso_size = head_info.payload;
  hdr.csum_start = static_cast<std::uint16_t>(l3);
  hdr.csum_offset = 16;
  return hdr;
}

}  // namespace uipsec
