// TCP GRO in user space: consecutive decrypted TCP segments of one flow become one super-packet,
// written to the TUN device in one writev() behind a virtio-net header (GSO_TCPV4/V6, NEEDS_CSUM)
// that lets the kernel's receive path treat it like a GRO packet from a NIC — one trip through
// the stack per 64 KiB instead of per segment.
//
// Flow: gro_candidate() parses a packet once and verifies its checksums (the kernel trusts a
// NEEDS_CSUM packet's checksum, so a corrupt segment must not hide inside one) -> can_append()
// decides whether the next segment continues the group (same flow, in order, same headers,
// only ACK, PSH only on the last) -> finish_group() rewrites the head's lengths and checksum
// fields and returns the header. The payloads of the others are written from where they lie.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "offload/virtio_net_hdr.hpp"

namespace uipsec {

// A TCP segment that may be coalesced: IPv4 without options or fragmentation, or IPv6 without
// extension headers; valid header and TCP checksums; payload > 0; flags ACK or ACK|PSH.
struct GroSegment {
  bool ipv4 = false;
  std::uint16_t l3_len = 0;      // 20 or 40
  std::uint16_t header_len = 0;  // IP + TCP header
  std::uint16_t payload = 0;     // TCP payload bytes
  std::uint32_t seq = 0;
  bool psh = false;
};

// Most segments in one super-packet (the kernel's GRO stops at 64 as well).
inline constexpr std::size_t kGroMaxSegments = 64;
// Flows coalesced at once within one batch (the kernel's GRO keeps 8 per NAPI list as well);
// a ninth flow's segments go out alone until a group closes.
inline constexpr std::size_t kGroMaxFlows = 8;

// Parses `packet` (a whole IP packet); nullopt when it cannot be coalesced. With
// `tcp_checksum_verified` (PacketMeta::tcp_checksum_verified: the inbound path verified it
// right after decryption) the TCP checksum is trusted, not summed again.
std::optional<GroSegment> gro_candidate(ByteSpan packet, bool tcp_checksum_verified = false);

// Whether `next` may follow `last` in a group headed by `head` that has `segments` segments
// and `bytes` bytes (head's headers plus every payload) so far.
bool can_append(ByteSpan head, const GroSegment& head_info, const GroSegment& last_info,
                ByteSpan next, const GroSegment& next_info, std::size_t segments,
                std::size_t bytes);

// Whether two candidates belong to one TCP flow (family, addresses and ports), whatever their
// order: a segment that cannot follow its flow's open group closes it (writes keep each flow's
// order; different flows may pass each other).
bool same_flow(ByteSpan a, const GroSegment& a_info, ByteSpan b, const GroSegment& b_info);

// Turns the head packet's headers into those of a super-packet with `payload_total` bytes of
// TCP payload (lengths, IPv4 header checksum, PSH when the last segment had it, and the TCP
// checksum field holding the pseudo-header sum) and returns its virtio-net header.
// Precondition: head_info came from gro_candidate(head), and the group had 2+ segments.
VirtioNetHdr finish_group(MutableByteSpan head, const GroSegment& head_info,
                          std::size_t payload_total, bool psh);

}  // namespace uipsec
