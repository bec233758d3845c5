// The ESP header (RFC 4303 §2: SPI and the low 32 bits of the sequence number) and the
// classification of a UDP port-4500 payload as ESP, IKE or NAT-keepalive (RFC 3948 §2.1-2.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "base/strong_int.hpp"

namespace uipsec {

inline constexpr std::size_t kEspHeaderSize = 8;

struct EspHeader {
  Spi spi;
  std::uint32_t sequence_number = 0;  // the low 32 bits; with ESN the high half is not sent
};

// Reads the header at the start of `data`. Fails only when fewer than 8 bytes are present: a
// reserved SPI (0..255) is returned as is and finds no SA.
inline std::optional<EspHeader> parse_esp_header(ByteSpan data) {
  if (data.size() < kEspHeaderSize) return std::nullopt;
  return EspHeader{Spi(load_be32(data.data())), load_be32(data.data() + 4)};
}

// Precondition: `out` has kEspHeaderSize writable bytes.
inline void write_esp_header(std::uint8_t* out, Spi spi, std::uint32_t sequence_number_low) {
  store_be32(out, spi.value());
  store_be32(out + 4, sequence_number_low);
}

enum class UdpPayloadKind : std::uint8_t {
  kEsp,        // at least an ESP header, SPI >= 256
  kIke,        // a non-ESP marker (4 zero bytes, where an SPI of 0 cannot be) and at least one
               // byte of IKE message; strip the marker before handing it to IKE
  kKeepalive,  // exactly one byte, 0xff: a NAT-keepalive, to be dropped silently (§2.3)
  kMalformed,  // anything else: too short for an ESP header, a lone marker, or SPI 1..255
};

// Classifies the payload of a UDP datagram on the NAT-traversal port (the bytes after the UDP
// header). RFC 3948 §2.1: an SPI of 0 never starts ESP, which is what makes the marker work;
// RFC 4303 §2.1 reserves SPIs 1..255.
inline UdpPayloadKind classify_udp_payload(ByteSpan payload) {
  if (payload.size() == 1 && payload[0] == 0xff) return UdpPayloadKind::kKeepalive;
  if (payload.size() < 4) return UdpPayloadKind::kMalformed;
  const std::uint32_t first_word = load_be32(payload.data());
  if (first_word == 0) {
    return payload.size() > 4 ? UdpPayloadKind::kIke : UdpPayloadKind::kMalformed;
  }
  if (payload.size() < kEspHeaderSize || first_word < 256) return UdpPayloadKind::kMalformed;
  return UdpPayloadKind::kEsp;
}

}  // namespace uipsec
