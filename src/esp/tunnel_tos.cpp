#include "esp/tunnel_tos.hpp"

#include "wire/inet_checksum.hpp"

namespace uipsec {

std::uint8_t read_tos(ByteSpan packet) {
  if (packet[0] >> 4 == 4) return packet[1];
  // IPv6: version (4 bits), Traffic Class (8 bits), flow label (20 bits).
  return static_cast<std::uint8_t>((packet[0] & 0x0f) << 4 | packet[1] >> 4);
}

void write_tos(MutableByteSpan packet, std::uint8_t tos) {
  if (packet[0] >> 4 == 4) {
    const std::uint16_t old_word = load_be16(&packet[0]);
    packet[1] = tos;
    const std::uint16_t new_word = load_be16(&packet[0]);
    store_be16(&packet[10], inet_checksum_update(load_be16(&packet[10]), old_word, new_word));
    return;
  }
  packet[0] = static_cast<std::uint8_t>((packet[0] & 0xf0) | tos >> 4);
  packet[1] = static_cast<std::uint8_t>((packet[1] & 0x0f) | (tos & 0x0f) << 4);
}

}  // namespace uipsec
