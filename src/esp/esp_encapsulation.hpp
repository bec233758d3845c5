// Tunnel and transport mode on top of esp_seal/esp_open (RFC 4303 §3.1, RFC 4301 §5): what is
// protected, which next header it gets, and what the receiver rebuilds.
//
// Tunnel mode carries the whole inner IP packet (next header 4 or 41). Transport mode protects the
// upper-layer data only; the outer IP header is the one the sending socket builds from the SA's
// addresses, which in transport mode are the packet's own, so the packet's IP header (and any
// IPv6 extension headers in front of the upper layer) is dropped on the way out and rebuilt on
// the way in.
#pragma once

#include <cstdint>
#include <optional>

#include "esp/esp_packet.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

// Before: packet.data() is an IP packet (from the TUN device). After kSendToPeer: the ESP packet.
Verdict encapsulate_tunnel(EspTransform& transform, Spi spi, std::uint64_t seq, bool esn,
                           PacketBuffer& packet, const SealOptions& options = {});
Verdict encapsulate_transport(EspTransform& transform, Spi spi, std::uint64_t seq, bool esn,
                              PacketBuffer& packet, const SealOptions& options = {});

// After esp_open: checks that the payload is an IP packet of the family `next_header` names (4 or
// 41), that its header is sound, and trims TFC padding behind it (RFC 4303 §2.7). When it
// delivers and `inner` is given, *inner is the parse of the packet as it now is (so the caller
// need not parse it again); after a drop *inner is unspecified.
Verdict decapsulate_tunnel(std::uint8_t next_header, PacketBuffer& packet,
                           IpPacketInfo* inner = nullptr);

// What the receiver knows of the outer header of a transport-mode packet.
struct OuterHeader {
  OuterHeader(IpAddress source_address, IpAddress destination_address, std::uint8_t tos_byte = 0,
              std::uint8_t hop_limit = 64)
      : source(source_address), destination(destination_address), tos(tos_byte), ttl(hop_limit) {}

  IpAddress source;
  IpAddress destination;
  std::uint8_t tos = 0;
  std::uint8_t ttl = 64;
  // UDP-encapsulated transport mode behind a NAT (RFC 3948 §3.1.2): the peer's address before
  // the NAT (`encap ... OADDR`), which its TCP/UDP checksum covers. When set and different from
  // `source`, the checksum is moved from it to `source` incrementally.
  std::optional<IpAddress> original_source;
};
// After esp_open: prepends an IP header (outer addresses, protocol = next_header) so the TUN
// device receives a whole packet; with an original source, fixes the TCP or UDP checksum (an
// IPv4 UDP checksum of 0, "none", stays 0; other protocols carry no pseudo-header sum).
// `inner` as for decapsulate_tunnel.
Verdict decapsulate_transport(std::uint8_t next_header, const OuterHeader& outer,
                              PacketBuffer& packet, IpPacketInfo* inner = nullptr);

}  // namespace uipsec
