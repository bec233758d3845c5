// The IPv4 header (RFC 791 §3.1): parse with bounds checks, write a 20-byte header, fix up its
// total length. Options are skipped, never interpreted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "base/ip_address.hpp"

namespace uipsec {

// A header without options; the writer always writes this size.
inline constexpr std::size_t kIpv4HeaderSize = 20;

struct Ipv4Header {
  std::size_t header_length = 0;  // IHL * 4: 20..60, the offset of the payload
  std::size_t total_length = 0;   // the Total Length field: header_length..span size
  std::uint8_t tos = 0;           // DSCP and ECN
  std::uint16_t id = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // in 8-byte units, as on the wire (RFC 791)
  std::uint8_t ttl = 0;
  std::uint8_t protocol = 0;
  std::uint16_t checksum = 0;  // as read; parse does not verify it
  IpAddress src;
  IpAddress dst;

  bool is_fragment() const { return more_fragments || fragment_offset != 0; }
};

// Parses the header at the start of `packet`. Fails unless the version is 4, IHL >= 5, the whole
// header lies in the span and header_length <= total_length <= packet.size(); bytes beyond
// total_length (link padding, TFC padding) are allowed and ignored. Does not verify the
// checksum: see ipv4_header_checksum_valid.
std::optional<Ipv4Header> parse_ipv4_header(ByteSpan packet);

// The checks parse_ipv4_header makes, for parsers that read the fields they need themselves:
// the header length (IHL * 4), or 0 where parse_ipv4_header fails.
inline std::size_t checked_ipv4_header_length(ByteSpan packet) {
  if (packet.size() < kIpv4HeaderSize) return 0;
  const std::uint8_t* p = packet.data();
  if ((p[0] >> 4) != 4) return 0;
  const std::size_t header_length = std::size_t{p[0] & 0x0fu} * 4;
  const std::size_t total_length = load_be16(p + 2);
  if (header_length < kIpv4HeaderSize || header_length > packet.size()) return 0;
  if (total_length < header_length || total_length > packet.size()) return 0;
  return header_length;
}

// True when `packet` starts with a header (IHL >= 5, within the span) whose checksum is right.
bool ipv4_header_checksum_valid(ByteSpan packet);

// What write_ipv4_header puts in the fields that vary; the rest are fixed: version 4, IHL 5,
// fragment offset 0, MF clear.
struct Ipv4HeaderFields {
  std::uint8_t tos = 0;
  std::uint16_t total_length = 0;  // header plus payload, in bytes
  std::uint16_t id = 0;
  bool dont_fragment = false;
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  IpAddress src;
  IpAddress dst;
};

// Writes a 20-byte header with its checksum at `out`.
// Preconditions: `out` has kIpv4HeaderSize writable bytes; src and dst are IPv4.
void write_ipv4_header(std::uint8_t* out, const Ipv4HeaderFields& fields);

// Sets the Total Length field of the header at `header` and updates its checksum incrementally
// (RFC 1624), so a header with options or a wrong checksum stays as right or wrong as it was.
// Precondition: `header` has at least kIpv4HeaderSize writable bytes.
void set_ipv4_total_length(std::uint8_t* header, std::uint16_t total_length);

}  // namespace uipsec
