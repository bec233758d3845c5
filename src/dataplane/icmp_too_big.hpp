// ICMP "fragmentation needed and DF set" (RFC 792, type 3 code 4, with the next-hop MTU of
// RFC 1191 §4) and ICMPv6 "packet too big" (RFC 4443 §3.2, type 2 code 0) built from the packet
// that did not fit, in that packet's own buffer, for the TUN device (path_mtu.hpp decides when).
//
// The error quotes as much of the packet as fits in 576 bytes (IPv4, RFC 1812 §4.3.2.3) or in
// the IPv6 minimum MTU, 1280 (RFC 4443 §2.4 (c)). It goes to the packet's source and comes from
// the packet's destination: uipsec has no address of its own on the TUN side, a local address
// as source would be a martian for the kernel, and the destination is routed through the TUN
// device, so also a strict rp_filter takes it; senders match errors by the quoted packet
// (Linux's icmp_unreach / icmpv6_notify look only at that).
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/packet_buffer.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

// Largest ICMP error: IPv4 576 (RFC 1812), IPv6 1280 (RFC 4443).
inline constexpr std::size_t kIcmpErrorMaxIpv4 = 576;
inline constexpr std::size_t kIcmpErrorMaxIpv6 = 1280;
// Bytes put in front of the quoted packet: IP header and the 8-byte ICMP header.
inline constexpr std::size_t kIcmpTooBigHeadIpv4 = 20 + 8;
inline constexpr std::size_t kIcmpTooBigHeadIpv6 = 40 + 8;

// Whether the packet may be answered with an ICMP error at all (RFC 1122 §3.2.2, RFC 4443
// §2.4 (e)): not an ICMP error itself (nor an ICMPv6 error, types below 128), not from the
// unspecified, a multicast or the limited broadcast address (nor a loopback one), not an IPv4
// packet to a multicast or broadcast address, not a later IPv4 fragment.
bool may_answer_with_icmp_error(const IpPacketInfo& info);

// Whether an IPv4 packet has Don't Fragment set. Precondition: `packet` parsed as IPv4.
bool ipv4_dont_fragment(ByteSpan packet);

// Turns `packet` (the IP packet `info` describes, at least info.header_length bytes) into the
// ICMP error for its source saying the next hop's MTU is `mtu` (IPv4: at most 65535), with the
// checksums filled in. Returns false, changing nothing, when the buffer lacks the headroom
// (kIcmpTooBigHead*). Takes no decision: see may_answer_with_icmp_error.
bool build_icmp_too_big(PacketBuffer& packet, const IpPacketInfo& info, std::uint32_t mtu);

}  // namespace uipsec
