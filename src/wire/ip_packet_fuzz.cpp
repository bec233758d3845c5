// Fuzzes every parser of untrusted bytes in wire/ on the same input and traps when a result
// points outside the input, contradicts another parser, or a writer does not round-trip.
#include <cstdint>
#include <cstring>

#include "wire/esp_header.hpp"
#include "wire/inet_checksum.hpp"
#include "wire/ip_packet.hpp"
#include "wire/ip_protocol.hpp"
#include "wire/ipv4_header.hpp"
#include "wire/ipv6_header.hpp"
#include "wire/transport_header.hpp"

namespace {

using namespace uipsec;

void check(bool belief) {
  if (!belief) __builtin_trap();
}

std::uint16_t naive_sum(ByteSpan data) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    sum += std::uint32_t{data[i]} << 8 | (i + 1 < data.size() ? data[i + 1] : 0u);
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(sum);
}

void fuzz_ip_packet(ByteSpan data) {
  const auto info = parse_ip_packet(data);
  if (!info) return;
  check(!data.empty());
  check(static_cast<int>(info->family) == data[0] >> 4);
  check(info->src.family() == info->family && info->dst.family() == info->family);
  check(info->header_length <= info->total_length && info->total_length <= data.size());
  check(!info->is_first_fragment || info->is_fragment);
  const bool later_fragment = info->is_fragment && !info->is_first_fragment;
  if (info->ports_known) {
    check(!later_fragment && protocol_has_ports(info->protocol));
    check(info->header_length + 4 <= info->total_length);
    check(info->src_port == load_be16(&data[info->header_length]));
  }
  if (info->icmp_known) {
    check(!later_fragment && !info->ports_known);
    check(info->header_length + 2 <= info->total_length);
    check(info->icmp_type == data[info->header_length]);
  }
}

void fuzz_ipv4(ByteSpan data) {
  const auto h = parse_ipv4_header(data);
  if (!h) return;
  check(h->header_length >= kIpv4HeaderSize && h->header_length <= 60);
  check(h->header_length % 4 == 0);
  check(h->header_length <= h->total_length && h->total_length <= data.size());
  check(h->fragment_offset <= 0x1fff);
  const auto info = parse_ip_packet(data);
  check(info.has_value() && info->total_length == h->total_length &&
        info->header_length == h->header_length && info->protocol == h->protocol);

  // Setting the total length keeps a right checksum right and a wrong one wrong (RFC 1624).
  std::uint8_t header[60];
  std::memcpy(header, data.data(), h->header_length);
  const ByteSpan header_span(header, h->header_length);
  const bool valid = ipv4_header_checksum_valid(header_span);
  set_ipv4_total_length(header, static_cast<std::uint16_t>(h->header_length));
  check(ipv4_header_checksum_valid(header_span) == valid);

  // A header the writer can express comes back byte for byte, with a right checksum.
  if (h->header_length == kIpv4HeaderSize && !h->more_fragments && h->fragment_offset == 0 &&
      (data[6] & 0x80) == 0) {
    Ipv4HeaderFields fields;
    fields.tos = h->tos;
    fields.total_length = static_cast<std::uint16_t>(h->total_length);
    fields.id = h->id;
    fields.dont_fragment = h->dont_fragment;
    fields.ttl = h->ttl;
    fields.protocol = h->protocol;
    fields.src = h->src;
    fields.dst = h->dst;
    std::uint8_t out[kIpv4HeaderSize];
    write_ipv4_header(out, fields);
    check(std::memcmp(out, data.data(), 10) == 0 &&
          std::memcmp(out + 12, data.data() + 12, 8) == 0);
    check(ipv4_header_checksum_valid(ByteSpan(out, kIpv4HeaderSize)));
  }
}

void fuzz_ipv6(ByteSpan data) {
  const auto h = parse_ipv6_header(data);
  if (!h) return;
  check(h->payload_length > 0 && h->total_length() <= data.size());
  check(h->flow_label <= 0xfffff);
  std::uint8_t out[kIpv6HeaderSize];
  write_ipv6_header(out, *h);
  check(std::memcmp(out, data.data(), kIpv6HeaderSize) == 0);

  const auto upper = walk_ipv6_extension_headers(data, *h);
  const auto info = parse_ip_packet(data);
  check(upper.has_value() == info.has_value());
  if (!upper) return;
  check(upper->offset >= kIpv6HeaderSize && upper->offset <= h->total_length());
  check(upper->next_header_offset < upper->offset);
  check(data[upper->next_header_offset] == upper->protocol);
  check(!upper->is_non_first_fragment || upper->is_fragment);
  check(info->header_length == upper->offset && info->protocol == upper->protocol);
}

void fuzz_udp_payload(ByteSpan data) {
  const auto esp = parse_esp_header(data);
  check(esp.has_value() == (data.size() >= kEspHeaderSize));
  switch (classify_udp_payload(data)) {
    case UdpPayloadKind::kEsp:
      check(esp.has_value() && esp->spi.value() >= 256);
      break;
    case UdpPayloadKind::kIke:
      check(data.size() > 4 && load_be32(data.data()) == 0);
      break;
    case UdpPayloadKind::kKeepalive:
      check(data.size() == 1 && data[0] == 0xff);
      break;
    case UdpPayloadKind::kMalformed:
      check(!esp.has_value() || esp->spi.value() < 256);
      break;
  }
}

void fuzz_checksum(ByteSpan data) {
  const std::uint16_t sum = inet_sum(data);
  check(sum == naive_sum(data));
  const std::size_t split = data.empty() ? 0 : data[0] % (data.size() + 1);
  check(inet_sum_combine(inet_sum(data.first(split)), inet_sum(data.subspan(split)), split) == sum);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan input(data, size);
  fuzz_ip_packet(input);
  fuzz_ipv4(input);
  fuzz_ipv6(input);
  fuzz_udp_payload(input);
  fuzz_checksum(input);
  return 0;
}
