// How many bytes an I/O layer may place into a freshly acquired packet buffer: everything behind
// the default headroom except the tailroom the outbound path needs for ESP padding and the ICV,
// so that a packet read from the TUN device is sealed in place without moving.
#pragma once

#include <algorithm>
#include <cstddef>

#include "packet/packet_buffer.hpp"

namespace uipsec {

// Precondition: `buffer` is empty (just acquired or reset).
inline std::size_t receive_room(const PacketBuffer& buffer) {
  const std::size_t behind = buffer.tailroom();
  // Buffers too small to keep the full tailroom (tests use small pools) give all they have.
  const std::size_t room = behind > kPacketTailroom ? behind - kPacketTailroom : behind;
  return std::min(room, kMaxPacketSize);
}

}  // namespace uipsec
