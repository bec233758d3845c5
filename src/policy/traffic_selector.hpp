// TrafficSelector: the packet fields an SPD entry or an SA selects on (RFC 4301 §4.4.1.1):
// source and destination prefixes or address ranges, the upper-layer protocol and its ports —
// or, for ICMP and ICMPv6, type and code carried in the port fields as `ip xfrm` does
// (`sport` = type, `dport` = code).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "policy/address_range.hpp"
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
  // An address range instead of a prefix (RFC 4301 §4.4.1.1). When present it is what the side
  // selects, and the prefix beside it is the smallest prefix covering it (what the SPD index
  // and routes use); set_source/set_destination keep the two in step. A range that is exactly a
  // prefix is stored as that prefix, so each set of addresses has one form.
  std::optional<AddressRange> source_range;
  std::optional<AddressRange> destination_range;

  // Both prefixes /0 of one family, any protocol, any ports.
  static TrafficSelector any(IpFamily family);
  IpFamily family() const { return source.family(); }

  // Sets a side to `range` (the prefix to its covering prefix, the range kept unless it is
  // exactly that prefix). Precondition: range.validate() succeeds.
  void set_source(const AddressRange& range);
  void set_destination(const AddressRange& range);

  // True when the packet falls inside the selector. A selector with specific ports never matches
  // a packet whose ports are unknown (a non-first fragment, or too short), as RFC 4301 §4.4.1
  // asks of OPAQUE ports against non-ANY selectors.
  bool matches(const IpPacketInfo& packet) const;
  // The protocol and port (ICMP type/code) part of matches(), for indexes that have already
  // matched the addresses.
  static bool matches_upper_layer(std::uint8_t protocol, const PortRange& source_ports,
                                  const PortRange& destination_ports, const IpPacketInfo& packet);

  // Source and destination families agree, ranges are well-formed and sit inside their
  // covering prefix, port ranges are ordered, ports only with a protocol that has them.
  Result<void> validate() const;

  // "198.18.0.0/24 -> 198.18.1.0/24 proto tcp sport 1024-65535 dport 443"; a range shows as
  // "198.18.0.1-198.18.0.9".
  std::string to_string() const;

  friend bool operator==(const TrafficSelector&, const TrafficSelector&) = default;
};

}  // namespace uipsec

template <>
struct std::hash<uipsec::TrafficSelector> {
  std::size_t operator()(const uipsec::TrafficSelector& s) const noexcept;
};
