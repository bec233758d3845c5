// PacketBatch: the unit of work of the packet path. Every stage takes a whole batch (a vector of
// packets) so that per-call costs — syscalls, lookups cached across packets, virtual calls —
// are paid once per batch, never once per packet.
#pragma once

#include <array>
#include <cstddef>

#include "packet/packet_buffer.hpp"
#include "packet/verdict.hpp"

namespace uipsec {

// The batch size wireguard-go settled on for TUN and UDP vectors.
inline constexpr std::size_t kMaxBatch = 128;

struct PacketBatch {
  std::array<PacketBuffer*, kMaxBatch> packets{};
  std::array<Verdict, kMaxBatch> verdicts{};
  std::size_t size = 0;

  bool full() const { return size == kMaxBatch; }
  // Precondition: !full().
  void push(PacketBuffer* p) { packets[size++] = p; }
  void clear() { size = 0; }
};

}  // namespace uipsec
