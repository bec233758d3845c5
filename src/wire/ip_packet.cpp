// parse_ip_packet: the IPv4 or IPv6 header, the IPv6 extension chain, then ports or ICMP
// type/code from the upper-layer header when this is not a later fragment.
#include "wire/ip_packet.hpp"

#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"
#include "wire/transport_header.hpp"

namespace uipsec {
namespace {

std::optional<IpPacketInfo> parse_ipv4(ByteSpan packet) {
  const auto header = parse_ipv4_header(packet);
  if (!header) return std::nullopt;
  IpPacketInfo info;
  info.family = IpFamily::kV4;
  info.src = header->src;
  info.dst = header->dst;
  info.protocol = header->protocol;
  info.header_length = header->header_length;
  info.total_length = header->total_length;
  info.tos = header->tos;
  info.ttl = header->ttl;
  info.is_fragment = header->is_fragment();
  info.is_first_fragment = info.is_fragment && header->fragment_offset == 0;
  return info;
}

std::optional<IpPacketInfo> parse_ipv6(ByteSpan packet) {
  const auto header = parse_ipv6_header(packet);
  if (!header) return std::nullopt;
  const auto upper = walk_ipv6_extension_headers(packet, *header);
  if (!upper) return std::nullopt;
  IpPacketInfo info;
  info.family = IpFamily::kV6;
  info.src = header->src;
  info.dst = header->dst;
  info.protocol = upper->protocol;
  info.header_length = upper->offset;
  info.total_length = header->total_length();
  info.tos = header->traffic_class;
  info.ttl = header->hop_limit;
  info.is_fragment = upper->is_fragment;
  info.is_first_fragment = upper->is_fragment && !upper->is_non_first_fragment;
  return info;
}

}  // namespace

std::optional<IpPacketInfo> parse_ip_packet(ByteSpan packet) {
  if (packet.empty()) return std::nullopt;
  std::optional<IpPacketInfo> info;
  switch (packet[0] >> 4) {
    case 4:
      info = parse_ipv4(packet);
      break;
    case 6:
      info = parse_ipv6(packet);
      break;
    default:
      return std::nullopt;
  }
  if (!info) return std::nullopt;
  if (info->is_fragment && !info->is_first_fragment) return info;

  const ByteSpan upper =
      packet.subspan(info->header_length, info->total_length - info->header_length);
  if (const auto ports = parse_ports(info->protocol, upper)) {
    info->ports_known = true;
    info->src_port = ports->src;
    info->dst_port = ports->dst;
  }
  const std::uint8_t icmp =
      info->family == IpFamily::kV4 ? ip_protocol::kIcmp : ip_protocol::kIcmpv6;
  if (info->protocol == icmp) {
    if (const auto type_code = parse_icmp_type_code(upper)) {
      info->icmp_known = true;
      info->icmp_type = type_code->type;
      info->icmp_code = type_code->code;
    }
  }
  return info;
}

}  // namespace uipsec
