// IkeDatagram: one IKE message the worker saw on the NAT-T socket (non-ESP marker stripped,
// RFC 3948 §2.2), on its way to the control thread and from there to the registered IKE handler.
// The queue between them has fixed slots of kMaxIkeMessage bytes each, allocated at start-up:
// a full queue or a larger message is a counted drop (ike-queue-full, ike-too-big).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/bounded_queue.hpp"
#include "packet/packet_meta.hpp"

namespace uipsec {

// The largest IKE message relayed: strongSwan's default charon.max_packet. Longer IKE messages
// need IKE fragmentation (RFC 7383), which keeps each datagram near the path MTU.
inline constexpr std::size_t kMaxIkeMessage = 10000;
// Slots of the worker -> control thread queue: 32 x ~10 KB = 313 KiB (docs/MEMORY.md).
inline constexpr std::size_t kIkeQueueSlots = 32;

struct IkeDatagram {
  Endpoint remote;
  Endpoint local;
  std::uint32_t size = 0;  // bytes of the IKE message (without the marker)
  // False: no handler was registered when the worker saw it; only its endpoints and size were
  // kept (for `uipsec monitor`), `bytes` is empty.
  bool has_payload = false;
  std::array<std::uint8_t, kMaxIkeMessage> bytes;
};
using IkeDatagramQueue = BoundedQueue<IkeDatagram>;

}  // namespace uipsec
