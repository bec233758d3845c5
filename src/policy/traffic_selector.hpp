// TrafficSelector: the packet fields an SPD entry or an SA selects on (RFC 4301 §4.4.1.1):
// source and destination prefixes, the upper-layer protocol and its ports — or, for ICMP and
// ICMPv6, type and code carried in the port fields as `ip xfrm` does (`sport` = type,
// `dport` = code).
#pragma once

#include <cstdint>
#include <string>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 65535;

  static PortRange any() { return {}; }
  static PortRange single(std::uint16_t port) { return {port, port}; }
  bool is_any() const { return first == 0 && last == 65535; }
  bool contains(std::uint16_t port) const { return port >= first && port <= last; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct TrafficSelector {
  IpPrefix source = IpPrefix::any(IpFamily::kV4);
  IpPrefix destination = IpPrefix::any(IpFamily::kV4);
  std::uint8_t protocol = 0;    // 0: any
  PortRange source_ports;       // ICMP/ICMPv6: type
  PortRange destination_ports;  // ICMP/ICMPv6: code

  // Both prefixes /0 of one family, any protocol, any ports.
  static TrafficSelector any(IpFamily family);
  IpFamily family() const { return source.family(); }

  // True when the packet falls inside the selector. A selector with specific ports never matches
  // a packet whose ports are unknown (a non-first fragment, or too short), as RFC 4301 §4.4.1
  // asks of OPAQUE ports against non-ANY selectors.
  bool matches(const IpPacketInfo& packet) const;

  // Source and destination families agree, port ranges are ordered, ports only with a protocol
  // that has them.
  Result<void> validate() const;

  // "198.18.0.0/24 -> 198.18.1.0/24 proto tcp sport 1024-65535 dport 443"
  std::string to_string() const;

  friend bool operator==(const TrafficSelector&, const TrafficSelector&) = default;
};

}  // namespace uipsec
