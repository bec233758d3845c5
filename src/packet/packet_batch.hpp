// PacketBatch: the unit of work of the packet path. Every stage takes a whole batch (a vector of
// packets) so that per-call costs — syscalls, lookups cached across packets, virtual calls —
// are paid once per batch, never once per packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "packet/packet_buffer.hpp"
#include "packet/verdict.hpp"

namespace uipsec {

// The batch size wireguard-go settled on for TUN and UDP vectors.
inline constexpr std::size_t kMaxBatch = 128;

struct PacketBatch {
  std::array<PacketBuffer*, kMaxBatch> packets{};
  std::array<Verdict, kMaxBatch> verdicts{};
  std::size_t size = 0;
  // Packets the I/O layer dropped while filling this batch (a malformed super-packet, say), by
  // reason; the owner adds them to its drop counters. `io_drop_total` is their sum, so that a
  // batch without drops costs one test.
  std::array<std::uint32_t, kDropReasonCount> io_drops{};
  std::uint32_t io_drop_total = 0;

  bool full() const { return size == kMaxBatch; }
  // Precondition: !full().
  void push(PacketBuffer* p) { packets[size++] = p; }
  void note_io_drop(DropReason reason) {
    ++io_drops[static_cast<std::size_t>(reason)];
    ++io_drop_total;
  }
  void clear() {
    size = 0;
    if (io_drop_total != 0) {
      io_drops.fill(0);
      io_drop_total = 0;
    }
  }
};

}  // namespace uipsec
