// The first bytes of the upper-layer headers that selectors and checksums need: ports of TCP
// (RFC 9293 §3.1), UDP (RFC 768), UDP-Lite (RFC 3828) and SCTP (RFC 9260 §3.1), type and code of
// ICMP (RFC 792) and ICMPv6 (RFC 4443 §2.1), the TCP data offset, the UDP header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "wire/ip_protocol.hpp"

namespace uipsec {

inline constexpr std::size_t kUdpHeaderSize = 8;
inline constexpr std::size_t kTcpMinHeaderSize = 20;

// True for the protocols whose header starts with a 16-bit source and destination port.
constexpr bool protocol_has_ports(std::uint8_t protocol) {
  return protocol == ip_protocol::kTcp || protocol == ip_protocol::kUdp ||
         protocol == ip_protocol::kUdpLite || protocol == ip_protocol::kSctp;
}

struct PortPair {
  std::uint16_t src = 0;
  std::uint16_t dst = 0;
};

// The ports at the start of `header` (the upper-layer header of `protocol`). Fails when the
// protocol has no ports or fewer than 4 bytes are present.
inline std::optional<PortPair> parse_ports(std::uint8_t protocol, ByteSpan header) {
  if (!protocol_has_ports(protocol) || header.size() < 4) return std::nullopt;
  return PortPair{load_be16(header.data()), load_be16(header.data() + 2)};
}

struct IcmpTypeCode {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
};

// Type and code at the start of an ICMP or ICMPv6 header (the two share the layout). Fails when
// fewer than 2 bytes are present.
inline std::optional<IcmpTypeCode> parse_icmp_type_code(ByteSpan header) {
  if (header.size() < 2) return std::nullopt;
  return IcmpTypeCode{header[0], header[1]};
}

// The TCP header length from its data offset, in bytes: 20..60. Fails when the data offset is
// below 5 or the header does not fit in `header`.
inline std::optional<std::size_t> parse_tcp_header_length(ByteSpan header) {
  if (header.size() < kTcpMinHeaderSize) return std::nullopt;
  const std::size_t length = (std::size_t{header[12]} >> 4) * 4;
  if (length < kTcpMinHeaderSize || length > header.size()) return std::nullopt;
  return length;
}

// The 8-byte UDP header; UDP-Lite shares its layout, with checksum coverage in place of length.
struct UdpHeader {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint16_t length = 0;    // header plus data, in bytes
  std::uint16_t checksum = 0;  // 0: none (IPv4 only)
};

// Reads the header at the start of `data`. Fails when fewer than 8 bytes are present; does not
// check `length` against the span (callers that use the payload must).
inline std::optional<UdpHeader> parse_udp_header(ByteSpan data) {
  if (data.size() < kUdpHeaderSize) return std::nullopt;
  const std::uint8_t* p = data.data();
  return UdpHeader{load_be16(p), load_be16(p + 2), load_be16(p + 4), load_be16(p + 6)};
}

// Precondition: `out` has kUdpHeaderSize writable bytes.
inline void write_udp_header(std::uint8_t* out, const UdpHeader& header) {
  store_be16(out, header.src_port);
  store_be16(out + 2, header.dst_port);
  store_be16(out + 4, header.length);
  store_be16(out + 6, header.checksum);
}

// The UDP checksum field for a sum over pseudo-header, header and data: a computed 0 is sent as
// 0xffff, because 0 means "no checksum" (RFC 768).
constexpr std::uint16_t udp_checksum_finish(std::uint16_t sum) {
  const auto checksum = static_cast<std::uint16_t>(~sum);
  return checksum == 0 ? std::uint16_t{0xffff} : checksum;
}

}  // namespace uipsec
