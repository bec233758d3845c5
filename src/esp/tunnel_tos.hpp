// DSCP and ECN across a tunnel-mode SA: what the outer header carries of the inner packet's
// Traffic Class / TOS byte, and what the inner packet takes from the outer one on the way out
// of the tunnel — RFC 6040 (ECN, "normal mode") with Linux's `ip xfrm state` flags:
//   noecn            (XFRM_STATE_NOECN) the outer ECN field is Not-ECT and the outer ECN field
//                    is ignored on decapsulation;
//   decap-dscp       (XFRM_STATE_DECAP_DSCP) the outer DSCP replaces the inner one on
//                    decapsulation (otherwise the inner DSCP is kept);
//   dont-encap-dscp  (`extra-flag`, XFRM_SA_XFLAG_DONT_ENCAP_DSCP) the outer DSCP is 0 instead of
//                    a copy of the inner one.
// Transport mode has one IP header: its TOS is the packet's own both ways, nothing to combine.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.hpp"

namespace uipsec {

struct TosOptions {
  bool no_ecn = false;
  bool decap_dscp = false;
  bool dont_encap_dscp = false;
};

// ECN codepoints (RFC 3168), the low two bits of the TOS / Traffic Class byte.
inline constexpr std::uint8_t kEcnMask = 0x03;
inline constexpr std::uint8_t kNotEct = 0x00;
inline constexpr std::uint8_t kEct1 = 0x01;
inline constexpr std::uint8_t kEct0 = 0x02;
inline constexpr std::uint8_t kCe = 0x03;

// The outer TOS byte for an inner packet with TOS byte `inner` (RFC 6040 §4.1, normal mode: the
// ECN field is copied, CE included).
constexpr std::uint8_t encapsulated_tos(std::uint8_t inner, const TosOptions& options) {
  const auto dscp = static_cast<std::uint8_t>(options.dont_encap_dscp ? 0 : inner & ~kEcnMask);
  const auto ecn = static_cast<std::uint8_t>(options.no_ecn ? kNotEct : inner & kEcnMask);
  return static_cast<std::uint8_t>(dscp | ecn);
}

// The inner packet's new TOS byte after a packet with outer TOS `outer` was decapsulated
// (RFC 6040 §4.2, Figure 4), or nullopt when it must be dropped: CE outside, Not-ECT inside —
// congestion the inner transport could never hear of.
constexpr std::optional<std::uint8_t> decapsulated_tos(std::uint8_t inner, std::uint8_t outer,
                                                       const TosOptions& options) {
  const auto dscp =
      static_cast<std::uint8_t>(options.decap_dscp ? outer & ~kEcnMask : inner & ~kEcnMask);
  auto ecn = static_cast<std::uint8_t>(inner & kEcnMask);
  if (!options.no_ecn) {
    const auto outer_ecn = static_cast<std::uint8_t>(outer & kEcnMask);
    if (outer_ecn == kCe) {
      if (ecn == kNotEct) return std::nullopt;
      ecn = kCe;
    } else if (outer_ecn == kEct1 && ecn == kEct0) {
      ecn = kEct1;
    }
  }
  return static_cast<std::uint8_t>(dscp | ecn);
}

// Reads the TOS / Traffic Class byte of the IPv4 or IPv6 packet `packet` (at least its fixed
// header, version already checked by the caller).
std::uint8_t read_tos(ByteSpan packet);
// Writes it, keeping an IPv4 header checksum valid (RFC 1624 incremental update).
void write_tos(MutableByteSpan packet, std::uint8_t tos);

}  // namespace uipsec
