// PacketMeta: what travels with a packet besides its bytes — the outer endpoints it arrived
// from or leaves for, and the offload information of a super-packet.
#pragma once

#include <cstdint>

#include "base/ip_address.hpp"

namespace uipsec {

// How ESP travels between the peers.
enum class Encapsulation : std::uint8_t {
  kNone,      // raw ESP, IP protocol 50
  kEspInUdp,  // RFC 3948, usually port 4500
};

struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;  // 0 for raw ESP
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct PacketMeta {
  // Inbound: the peer the datagram came from and the local address/port it was sent to.
  // Outbound, after sealing: where the ESP packet goes and from where.
  Endpoint remote;
  Endpoint local;
  Encapsulation encapsulation = Encapsulation::kNone;
  // Set by the paths: the SPI of the SA that sealed or opened the packet (for statistics and
  // events; 0 when none).
  std::uint32_t spi = 0;
  // Segment size of an offloaded super-packet (virtio-net gso_size / UDP_GRO); 0 when plain.
  std::uint16_t segment_size = 0;
  // The outer header's TOS / Traffic Class byte (DSCP and ECN): outbound, what the socket puts
  // in the ESP packet's header; inbound, what the ESP packet's header carried (0 when the
  // socket cannot tell). esp/tunnel_tos.hpp combines it with the inner packet's.
  std::uint8_t tos = 0;
  // Inbound, set by the inbound path when the TUN writer coalesces TCP segments
  // (Dataplane::verify_tcp_checksums): the decrypted packet is an IPv4 (no options) or IPv6 (no
  // extension headers) TCP segment whose checksum was verified over its bytes as they are now,
  // right after decryption while they were in the cache; the coalescer then skips the sum.
  bool tcp_checksum_verified = false;
};

}  // namespace uipsec
