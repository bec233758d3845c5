// GSO split: cutting a TCP or UDP super-packet (up to 64 KiB, read from a TUN device with
// TSO/USO offloads on) into the MTU-sized packets the kernel would have sent, in user space,
// so that each becomes its own ESP packet (RFC 4303 has no segmentation of its own).
//
// Flow: plan_segments() checks the virtio-net header against the packet once (never trusting
// hdr_len) -> write_segment() builds segment i into a caller's buffer: headers copied, IPv4
// total length / ID + i / header checksum, IPv6 payload length, TCP sequence + i * gso_size
// with FIN and PSH only on the last segment and CWR only on the first, UDP length, and the full
// L4 checksum computed in software (after encryption nothing could offload it).
// A plain packet (gso_type NONE) is one "segment": copied, its partial checksum completed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "offload/virtio_net_hdr.hpp"
#include "packet/drop_reason.hpp"

namespace uipsec {

struct SegmentPlan {
  enum class Kind : std::uint8_t { kPlain, kTcp, kUdp };
  Kind kind = Kind::kPlain;
  bool ipv4 = false;
  // Plain packets: whether the checksum at csum_start + csum_offset must be completed.
  bool needs_csum = false;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
  // Segmented packets: bytes of the IP header (IPv4 with options, or IPv6's 40)...
  std::uint16_t l3_len = 0;
  // ... and of IP plus TCP/UDP header, copied in front of every segment.
  std::uint16_t header_len = 0;
  // Payload bytes per segment (the last may carry fewer).
  std::uint16_t segment_payload = 0;
  // Payload bytes in the whole super-packet.
  std::uint32_t payload_len = 0;
  // How many packets write_segment makes: 1 for a plain packet.
  std::uint32_t count = 1;
  // Bytes of the largest segment (the first).
  std::uint32_t max_segment_size = 0;
};

// The outcome of planning: a plan, or why the super-packet must be dropped.
struct SegmentPlanResult {
  std::optional<SegmentPlan> plan;
  DropReason reason = DropReason::kNone;
};

// Checks `packet` (the IP packet behind the header, as read) against `hdr`. Accepts
// gso_type NONE (any non-empty packet; the checksum region is bounds-checked when NEEDS_CSUM is
// set) and
// TCPV4 / TCPV6 / UDP_L4 super-packets: IPv4 without fragmentation or IPv6 whose next header is
// TCP/UDP directly, length fields equal to the bytes read, csum_start at the L4 header,
// gso_size > 0. Everything else (including UFO) is kBadSuperPacket. Reads only `packet`.
SegmentPlanResult plan_segments(const VirtioNetHdr& hdr, ByteSpan packet);

// The size of segment `index` (< plan.count).
std::size_t segment_size(const SegmentPlan& plan, std::size_t index);

// Writes segment `index` (< plan.count) of `packet` (the one the plan was made for) to `out`,
// which must hold segment_size(plan, index) bytes; returns that size. No allocation.
std::size_t write_segment(const SegmentPlan& plan, ByteSpan packet, std::size_t index,
                          std::uint8_t* out);

// Completes a partial checksum in place: the field at csum_start + csum_offset holds the
// pseudo-header sum; the one's-complement sum from csum_start to the end is stored complemented
// (0 becomes 0xffff for UDP, csum_offset 6). Precondition: the plan's bounds (plan_segments).
void complete_checksum(MutableByteSpan packet, std::size_t csum_start, std::size_t csum_offset);

}  // namespace uipsec
