// The IPv6 fixed header and the extension header chain (RFC 8200 §3, §4): parse with bounds
// checks, find the upper-layer header, write a 40-byte fixed header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "base/ip_address.hpp"

namespace uipsec {

inline constexpr std::size_t kIpv6HeaderSize = 40;
// A chain longer than this is treated as malformed; RFC 8200 §4.1's recommended order needs at
// most six before the upper layer.
inline constexpr std::size_t kMaxIpv6ExtensionHeaders = 8;

struct Ipv6Header {
  std::uint8_t traffic_class = 0;  // DSCP and ECN
  std::uint32_t flow_label = 0;    // 20 bits
  std::uint16_t payload_length = 0;
  std::uint8_t next_header = 0;
  std::uint8_t hop_limit = 0;
  IpAddress src;
  IpAddress dst;

  // The fixed header plus the payload, in bytes.
  std::size_t total_length() const { return kIpv6HeaderSize + payload_length; }
};

// Parses the fixed header at the start of `packet`. Fails unless the version is 6 and
// 40 + payload_length <= packet.size(); a payload length of 0 (a jumbogram, RFC 2675, or an
// empty packet) is rejected. Bytes beyond total_length() are allowed and ignored.
std::optional<Ipv6Header> parse_ipv6_header(ByteSpan packet);

// Where the extension header chain ends. Offsets count from the start of the packet.
struct Ipv6UpperLayer {
  // The first next-header value that is not Hop-by-Hop, Routing, Fragment or Destination
  // Options: an upper layer (TCP, UDP, ICMPv6, ...), ESP, AH or No Next Header. For a non-first
  // fragment, the Fragment header's next header.
  std::uint8_t protocol = 0;
  // Where the header of `protocol` starts (for a non-first fragment: where the fragment data
  // starts). At most total_length(); equal when nothing follows the chain.
  std::size_t offset = 0;
  // The byte holding `protocol`: 6 (in the fixed header) or the first byte of the last extension
  // header. ESP transport mode rewrites it to 50 and inserts its header at `offset`.
  std::size_t next_header_offset = 6;
  // A Fragment header with a nonzero offset or the M flag set (an atomic fragment, offset 0 and
  // no M, is not a fragment: RFC 6946).
  bool is_fragment = false;
  // A Fragment header with a nonzero offset: the bytes at `offset` are not a header.
  bool is_non_first_fragment = false;
};

// Walks the extension headers of `packet`, whose fixed header `header` was parsed from it, never
// past header.total_length() nor the span. Fails on a truncated header, a Hop-by-Hop header
// anywhere but first, a second Fragment header, or more than kMaxIpv6ExtensionHeaders.
std::optional<Ipv6UpperLayer> walk_ipv6_extension_headers(ByteSpan packet,
                                                          const Ipv6Header& header);

// Writes the 40-byte fixed header at `out`, version 6.
// Preconditions: `out` has kIpv6HeaderSize writable bytes; src and dst are IPv6.
void write_ipv6_header(std::uint8_t* out, const Ipv6Header& header);

// Sets the Payload Length field of the fixed header at `header` (which has no checksum).
inline void set_ipv6_payload_length(std::uint8_t* header, std::uint16_t payload_length) {
  store_be16(header + 4, payload_length);
}

}  // namespace uipsec
