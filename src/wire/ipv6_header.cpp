// IPv6 fixed header and extension header chain (RFC 8200 §3, §4).
//
//   0-3: version(4) traffic class(8) flow label(20)   4-5: payload length
//   6: next header   7: hop limit   8-23: source   24-39: destination
// Hop-by-Hop, Routing and Destination Options: next header(8), length in 8-byte units beyond
// the first 8 (8), ...; Fragment (8 bytes): next header(8), reserved(8), offset(13) res(2) M(1).
#include "wire/ipv6_header.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "wire/ip_protocol.hpp"

namespace uipsec {
namespace {

constexpr std::size_t kFragmentHeaderSize = 8;

}  // namespace

std::optional<Ipv6Header> parse_ipv6_header(ByteSpan packet) {
  if (packet.size() < kIpv6HeaderSize) return std::nullopt;
  const std::uint8_t* p = packet.data();
  const std::uint32_t first_word = load_be32(p);
  if ((first_word >> 28) != 6) return std::nullopt;
  Ipv6Header h;
  h.traffic_class = static_cast<std::uint8_t>(first_word >> 20);
  h.flow_label = first_word & 0xfffffu;
  h.payload_length = load_be16(p + 4);
  if (h.payload_length == 0 || h.total_length() > packet.size()) return std::nullopt;
  h.next_header = p[6];
  h.hop_limit = p[7];
  h.src = IpAddress::from_bytes(IpFamily::kV6, p + 8);
  h.dst = IpAddress::from_bytes(IpFamily::kV6, p + 24);
  return h;
}

std::optional<Ipv6UpperLayer> walk_ipv6_extension_headers(ByteSpan packet,
                                                          const Ipv6Header& header) {
  const std::size_t limit = std::min(packet.size(), header.total_length());
  if (limit < kIpv6HeaderSize) return std::nullopt;
  const std::uint8_t* p = packet.data();
  Ipv6UpperLayer result;
  result.protocol = header.next_header;
  result.offset = kIpv6HeaderSize;
  result.next_header_offset = 6;
  bool seen_fragment_header = false;
  for (std::size_t walked = 0;; ++walked) {
    const std::uint8_t protocol = result.protocol;
    const bool is_extension =
        protocol == ip_protocol::kIpv6HopByHop || protocol == ip_protocol::kIpv6Route ||
        protocol == ip_protocol::kIpv6DestOpts || protocol == ip_protocol::kIpv6Fragment;
    if (!is_extension) return result;
    if (walked == kMaxIpv6ExtensionHeaders) return std::nullopt;

    const std::size_t offset = result.offset;
    const std::size_t remaining = limit - offset;
    std::size_t length;
    if (protocol == ip_protocol::kIpv6Fragment) {
      if (seen_fragment_header || remaining < kFragmentHeaderSize) return std::nullopt;
      seen_fragment_header = true;
      length = kFragmentHeaderSize;
    } else {
      // RFC 8200 §4.3: Hop-by-Hop Options only directly after the fixed header.
      if (protocol == ip_protocol::kIpv6HopByHop && offset != kIpv6HeaderSize) return std::nullopt;
      if (remaining < 2) return std::nullopt;
      length = (std::size_t{p[offset + 1]} + 1) * 8;
      if (remaining < length) return std::nullopt;
    }
    result.protocol = p[offset];
    result.next_header_offset = offset;
    result.offset = offset + length;
    if (protocol == ip_protocol::kIpv6Fragment) {
      const std::uint16_t offset_flags = load_be16(p + offset + 2);
      const bool more_fragments = (offset_flags & 1u) != 0;
      const bool nonzero_offset = (offset_flags >> 3) != 0;
      result.is_fragment = more_fragments || nonzero_offset;
      // What follows a later fragment is the middle of the payload: nothing more to walk.
      if (nonzero_offset) {
        result.is_non_first_fragment = true;
        return result;
      }
    }
  }
}

void write_ipv6_header(std::uint8_t* out, const Ipv6Header& header) {
  assert(header.src.is_v6() && header.dst.is_v6() && "IPv6 header with IPv4 addresses");
  store_be32(out, (std::uint32_t{6} << 28) | (std::uint32_t{header.traffic_class} << 20) |
                      (header.flow_label & 0xfffffu));
  store_be16(out + 4, header.payload_length);
  out[6] = header.next_header;
  out[7] = header.hop_limit;
  std::memcpy(out + 8, header.src.data(), 16);
  std::memcpy(out + 24, header.dst.data(), 16);
}

}  // namespace uipsec
