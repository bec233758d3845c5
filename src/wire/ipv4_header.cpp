// IPv4 header parse and write (RFC 791 §3.1).
//
//   0: version(4) IHL(4)   1: TOS        2-3: total length
//   4-5: identification    6-7: flags(3: reserved, DF, MF) fragment offset(13)
//   8: TTL   9: protocol   10-11: header checksum   12-15: source   16-19: destination
#include "wire/ipv4_header.hpp"

#include <cassert>
#include <cstring>

#include "wire/inet_checksum.hpp"

namespace uipsec {
namespace {

constexpr std::uint16_t kDontFragment = 0x4000;
constexpr std::uint16_t kMoreFragments = 0x2000;
constexpr std::uint16_t kFragmentOffsetMask = 0x1fff;

}  // namespace

std::optional<Ipv4Header> parse_ipv4_header(ByteSpan packet) {
  const std::size_t header_length = checked_ipv4_header_length(packet);
  if (header_length == 0) return std::nullopt;
  const std::uint8_t* p = packet.data();
  std::optional<Ipv4Header> result(std::in_place);
  Ipv4Header& h = *result;
  h.header_length = header_length;
  h.total_length = load_be16(p + 2);
  h.tos = p[1];
  h.id = load_be16(p + 4);
  const std::uint16_t flags_offset = load_be16(p + 6);
  h.dont_fragment = (flags_offset & kDontFragment) != 0;
  h.more_fragments = (flags_offset & kMoreFragments) != 0;
  h.fragment_offset = flags_offset & kFragmentOffsetMask;
  h.ttl = p[8];
  h.protocol = p[9];
  h.checksum = load_be16(p + 10);
  h.src.assign(IpFamily::kV4, p + 12);
  h.dst.assign(IpFamily::kV4, p + 16);
  return result;
}

bool ipv4_header_checksum_valid(ByteSpan packet) {
  if (packet.size() < kIpv4HeaderSize) return false;
  const std::size_t header_length = std::size_t{packet[0] & 0x0fu} * 4;
  if (header_length < kIpv4HeaderSize || header_length > packet.size()) return false;
  // A header that holds its right checksum sums to 0xffff, so its checksum comes out 0.
  return inet_checksum(packet.first(header_length)) == 0;
}

void write_ipv4_header(std::uint8_t* out, const Ipv4HeaderFields& fields) {
  assert(fields.src.is_v4() && fields.dst.is_v4() && "IPv4 header with IPv6 addresses");
  out[0] = 0x45;
  out[1] = fields.tos;
  store_be16(out + 2, fields.total_length);
  store_be16(out + 4, fields.id);
  store_be16(out + 6, fields.dont_fragment ? kDontFragment : 0);
  out[8] = fields.ttl;
  out[9] = fields.protocol;
  store_be16(out + 10, 0);
  std::memcpy(out + 12, fields.src.data(), 4);
  std::memcpy(out + 16, fields.dst.data(), 4);
  store_be16(out + 10, inet_checksum(ByteSpan(out, kIpv4HeaderSize)));
}

void set_ipv4_total_length(std::uint8_t* header, std::uint16_t total_length) {
  const std::uint16_t old_length = load_be16(header + 2);
  store_be16(header + 2, total_length);
  store_be16(header + 10, inet_checksum_update(load_be16(header + 10), old_length, total_length));
}

}  // namespace uipsec
