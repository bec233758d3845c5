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

#include "esp/esp_packet.hpp"

namespace uipsec {

// Before: packet.data() is an IP packet (from the TUN device). After kSendToPeer: the ESP packet.
Verdict encapsulate_tunnel(EspTransform& transform, Spi spi, std::uint64_t seq, bool esn,
                           PacketBuffer& packet, const SealOptions& options = {});
Verdict encapsulate_transport(EspTransform& transform, Spi spi, std::uint64_t seq, bool esn,
                              PacketBuffer& packet, const SealOptions& options = {});

// After esp_open: checks that the payload is an IP packet of the family `next_header` names (4 or
// 41), that its header is sound, and trims TFC padding behind it (RFC 4303 §2.7).
Verdict decapsulate_tunnel(std::uint8_t next_header, PacketBuffer& packet);

// What the receiver knows of the outer header of a transport-mode packet.
struct OuterHeader {
  IpAddress source;
  IpAddress destination;
  std::uint8_t tos = 0;
  std::uint8_t ttl = 64;
};
// After esp_open: prepends an IP header (outer addresses, protocol = next_header) so the TUN
// device receives a whole packet.
Verdict decapsulate_transport(std::uint8_t next_header, const OuterHeader& outer,
                              PacketBuffer& packet);

}  // namespace uipsec
