#include "esp/esp_encapsulation.hpp"

#include "base/bytes.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_packet.hpp"
#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"
#include "wire/transport_header.hpp"

namespace uipsec {

Verdict encapsulate_tunnel(EspTransform& transform, Spi spi, std::uint64_t seq, bool esn,
                           PacketBuffer& packet, const SealOptions& options) {
  if (packet.empty()) return Verdict::drop(DropReason::kNotIp);
  const std::uint8_t version = packet.data()[0] >> 4;
  if (version != 4 && version != 6) return Verdict::drop(DropReason::kNotIp);
  const std::uint8_t next_header = version == 4 ? ip_protocol::kIpv4 : ip_protocol::kIpv6;
  return esp_seal(transform, spi, seq, esn, next_header, packet, options);
}

Verdict encapsulate_transport(EspTransform& transform, Spi spi, std::uint64_t seq, bool esn,
                              PacketBuffer& packet, const SealOptions& options) {
  const auto info = parse_ip_packet(packet.span());
  if (!info) return Verdict::drop(DropReason::kNotIp);
  // A fragment cannot be protected on its own in transport mode: the receiver could not rebuild
  // its header. The kernel hands the TUN device whole packets unless something upstream split them.
  if (info->is_fragment) return Verdict::drop(DropReason::kTransportFragment);
  packet.truncate(info->total_length);
  packet.pull_front(info->header_length);
  return esp_seal(transform, spi, seq, esn, info->protocol, packet, options);
}

Verdict decapsulate_tunnel(std::uint8_t next_header, PacketBuffer& packet, IpPacketInfo* inner) {
  if (next_header != ip_protocol::kIpv4 && next_header != ip_protocol::kIpv6) {
    return Verdict::drop(DropReason::kBadNextHeader);
  }
  // Parsed in place, into the caller's info when it wants one (no copy of a fresh parse).
  IpPacketInfo local;
  IpPacketInfo& info = inner != nullptr ? *inner : local;
  if (!parse_ip_packet(packet.span(), info)) return Verdict::drop(DropReason::kBadInnerPacket);
  const IpFamily expected = next_header == ip_protocol::kIpv4 ? IpFamily::kV4 : IpFamily::kV6;
  if (info.family != expected) return Verdict::drop(DropReason::kBadInnerPacket);
  if (expected == IpFamily::kV4 && !ipv4_header_checksum_valid(packet.span())) {
    return Verdict::drop(DropReason::kBadInnerPacket);
  }
  packet.truncate(info.total_length);  // the parse stays true: the header is unchanged
  return Verdict::deliver_to_tun();
}

namespace {

// RFC 3948 §3.1.2, incremental variant: the pseudo-header's source address goes from `from` to
// `to`. `upper` is the TCP or UDP header and data.
void move_checksum_source(std::uint8_t protocol, const IpAddress& from, const IpAddress& to,
                          MutableByteSpan upper) {
  std::size_t offset = 0;
  if (protocol == ip_protocol::kTcp && upper.size() >= kTcpMinHeaderSize) {
    offset = 16;
  } else if (protocol == ip_protocol::kUdp && upper.size() >= kUdpHeaderSize) {
    offset = 6;
    if (load_be16(&upper[offset]) == 0 && to.is_v4()) return;  // IPv4: no checksum
  } else {
    return;
  }
  const std::uint16_t old_checksum = load_be16(&upper[offset]);
  std::uint16_t updated = inet_checksum_update(old_checksum, from.bytes(), to.bytes());
  // UDP sends a computed 0 as 0xffff (RFC 768); 0 would mean "no checksum".
  if (protocol == ip_protocol::kUdp && updated == 0) updated = 0xffff;
  store_be16(&upper[offset], updated);
}

}  // namespace

Verdict decapsulate_transport(std::uint8_t next_header, const OuterHeader& outer,
                              PacketBuffer& packet, IpPacketInfo* inner) {
  if (next_header == ip_protocol::kIpv4 || next_header == ip_protocol::kIpv6) {
    // An IP-in-IP payload on a transport-mode SA is somebody else's tunnel, not ours to unwrap.
    return Verdict::drop(DropReason::kBadNextHeader);
  }
  const std::size_t payload = packet.size();
  if (outer.original_source && outer.original_source->family() == outer.source.family() &&
      *outer.original_source != outer.source) {
    move_checksum_source(next_header, *outer.original_source, outer.source, packet.span());
  }
  if (outer.source.is_v4()) {
    if (payload + kIpv4HeaderSize > 0xffff) return Verdict::drop(DropReason::kBadInnerPacket);
    std::uint8_t* header = packet.push_front(kIpv4HeaderSize);
    if (header == nullptr) return Verdict::drop(DropReason::kNoRoom);
    Ipv4HeaderFields fields;
    fields.tos = outer.tos;
    fields.total_length = static_cast<std::uint16_t>(payload + kIpv4HeaderSize);
    fields.dont_fragment = true;
    fields.ttl = outer.ttl;
    fields.protocol = next_header;
    fields.src = outer.source;
    fields.dst = outer.destination;
    write_ipv4_header(header, fields);
  } else {
    if (payload > 0xffff) return Verdict::drop(DropReason::kBadInnerPacket);
    std::uint8_t* header = packet.push_front(kIpv6HeaderSize);
    if (header == nullptr) return Verdict::drop(DropReason::kNoRoom);
    Ipv6Header fields;
    fields.traffic_class = outer.tos;
    fields.payload_length = static_cast<std::uint16_t>(payload);
    fields.next_header = next_header;
    fields.hop_limit = outer.ttl;
    fields.src = outer.source;
    fields.dst = outer.destination;
    write_ipv6_header(header, fields);
  }
  // What goes to the TUN device must be a packet the kernel takes: an authentic peer can still
  // send a next header the rebuilt header makes unparseable (an IPv6 extension header with
  // broken contents, an empty IPv6 payload).
  IpPacketInfo local;
  if (!parse_ip_packet(packet.span(), inner != nullptr ? *inner : local)) {
    return Verdict::drop(DropReason::kBadInnerPacket);
  }
  return Verdict::deliver_to_tun();
}

}  // namespace uipsec
