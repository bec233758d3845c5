// parse_ip_packet: the IPv4 or IPv6 header, the IPv6 extension chain, then ports or ICMP
// type/code from the upper-layer header when this is not a later fragment.
#include "wire/ip_packet.hpp"

#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"
#include "wire/transport_header.hpp"

namespace uipsec {
namespace {

constexpr std::uint16_t kMoreFragments = 0x2000;
constexpr std::uint16_t kFragmentOffsetMask = 0x1fff;

bool parse_ipv4(ByteSpan packet, IpPacketInfo& info) {
  const std::size_t header_length = checked_ipv4_header_length(packet);
  if (header_length == 0) return false;
  const std::uint8_t* p = packet.data();
  const std::uint16_t flags_offset = load_be16(p + 6);
  info.family = IpFamily::kV4;
  info.src.assign(IpFamily::kV4, p + 12);
  info.dst.assign(IpFamily::kV4, p + 16);
  info.protocol = p[9];
  info.header_length = header_length;
  info.total_length = load_be16(p + 2);
  info.tos = p[1];
  info.ttl = p[8];
  info.is_fragment = (flags_offset & (kMoreFragments | kFragmentOffsetMask)) != 0;
  info.is_first_fragment = info.is_fragment && (flags_offset & kFragmentOffsetMask) == 0;
  return true;
}

bool parse_ipv6(ByteSpan packet, IpPacketInfo& info) {
  const auto header = parse_ipv6_header(packet);
  if (!header) return false;
  const auto upper = walk_ipv6_extension_headers(packet, *header);
  if (!upper) return false;
  info.family = IpFamily::kV6;
  info.src.assign(IpFamily::kV6, packet.data() + 8);
  info.dst.assign(IpFamily::kV6, packet.data() + 24);
  info.protocol = upper->protocol;
  info.header_length = upper->offset;
  info.total_length = header->total_length();
  info.tos = header->traffic_class;
  info.ttl = header->hop_limit;
  info.is_fragment = upper->is_fragment;
  info.is_first_fragment = upper->is_fragment && !upper->is_non_first_fragment;
  return true;
}

}  // namespace

bool parse_ip_packet(ByteSpan packet, IpPacketInfo& info) {
  if (packet.empty()) return false;
  switch (packet[0] >> 4) {
    case 4:
      if (!parse_ipv4(packet, info)) return false;
      break;
    case 6:
      if (!parse_ipv6(packet, info)) return false;
      break;
    default:
      return false;
  }
  info.ports_known = false;
  info.src_port = 0;
  info.dst_port = 0;
  info.icmp_known = false;
  info.icmp_type = 0;
  info.icmp_code = 0;
  if (info.is_fragment && !info.is_first_fragment) return true;

  const ByteSpan upper = packet.subspan(info.header_length, info.total_length - info.header_length);
  if (const auto ports = parse_ports(info.protocol, upper)) {
    info.ports_known = true;
    info.src_port = ports->src;
    info.dst_port = ports->dst;
  }
  const std::uint8_t icmp =
      info.family == IpFamily::kV4 ? ip_protocol::kIcmp : ip_protocol::kIcmpv6;
  if (info.protocol == icmp) {
    if (const auto type_code = parse_icmp_type_code(upper)) {
      info.icmp_known = true;
      info.icmp_type = type_code->type;
      info.icmp_code = type_code->code;
    }
  }
  return true;
}

std::optional<IpPacketInfo> parse_ip_packet(ByteSpan packet) {
  std::optional<IpPacketInfo> result(std::in_place);
  if (!parse_ip_packet(packet, *result)) return std::nullopt;
  return result;
}

}  // namespace uipsec
