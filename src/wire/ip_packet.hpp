// One parse of an IPv4 or IPv6 packet for the SPD lookup (RFC 4301 §4.4.1.1 selectors) and the
// check of a decrypted inner packet (RFC 4301 §5.2): addresses, upper-layer protocol and ports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "base/ip_address.hpp"

namespace uipsec {

// Plain values; nothing points into the parsed bytes. Offsets count from the packet start.
struct IpPacketInfo {
  IpFamily family = IpFamily::kV4;
  IpAddress src;
  IpAddress dst;
  // The upper-layer protocol: IPv4's Protocol field; for IPv6 the next header that ends the
  // extension chain (see Ipv6UpperLayer::protocol), which may be ESP, AH or No Next Header.
  std::uint8_t protocol = 0;
  // Where the upper-layer header starts: the IPv4 header length, or the IPv6 fixed header plus
  // extension headers. header_length <= total_length.
  std::size_t header_length = 0;
  // The length the IP header claims (IPv4 Total Length, IPv6 40 + Payload Length), at most the
  // span; bytes beyond it (TFC padding, RFC 4303 §2.7) are the caller's to trim.
  std::size_t total_length = 0;
  std::uint8_t tos = 0;  // IPv4 TOS or IPv6 Traffic Class: DSCP and ECN
  std::uint8_t ttl = 0;  // IPv4 TTL or IPv6 Hop Limit
  // Any fragment, first or later (IPv4 MF or offset; IPv6 Fragment header with M or offset).
  bool is_fragment = false;
  // A fragment with offset 0: the upper-layer header is (at least partly) here.
  bool is_first_fragment = false;
  // Ports and ICMP type/code are separate fields rather than RFC 4301's packing of type and code
  // into the port selectors; the policy code decides how to match them.
  // True when `protocol` has ports (TCP, UDP, UDP-Lite, SCTP), this is not a later fragment and
  // the first 4 bytes of the upper-layer header lie within total_length.
  bool ports_known = false;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  // True for ICMP over IPv4 or ICMPv6 over IPv6 under the same conditions, with 2 bytes present.
  bool icmp_known = false;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;
};

// Parses the packet at the start of `packet`; the version nibble chooses IPv4 or IPv6. Fails when
// parse_ipv4_header, parse_ipv6_header or walk_ipv6_extension_headers would. Does not verify the
// IPv4 header checksum (ipv4_header_checksum_valid does) nor look beyond the port fields.
std::optional<IpPacketInfo> parse_ip_packet(ByteSpan packet);

// The same parse into `info`, in place (the packet path's form: no copy of a freshly written
// result). Returns false where parse_ip_packet returns nullopt; `info` is then unspecified.
bool parse_ip_packet(ByteSpan packet, IpPacketInfo& info);

// Whether two parses agree on every field an SPD lookup reads (RFC 4301 §4.4.1.1 selectors:
// addresses, protocol, ports or ICMP type and code, and which of them are known). Packets of one
// flow (the segments of one TSO super-packet) do, so one lookup serves them all.
inline bool same_selectors(const IpPacketInfo& a, const IpPacketInfo& b) {
  return a.src == b.src && a.dst == b.dst && a.protocol == b.protocol &&
         a.ports_known == b.ports_known && a.src_port == b.src_port && a.dst_port == b.dst_port &&
         a.icmp_known == b.icmp_known && a.icmp_type == b.icmp_type && a.icmp_code == b.icmp_code &&
         a.is_fragment == b.is_fragment && a.is_first_fragment == b.is_first_fragment;
}

}  // namespace uipsec
