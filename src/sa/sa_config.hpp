// SaConfig: everything an SA is made of when it is added — what `ip xfrm state add` and
// strongSwan's kernel_ipsec_t.add_sa can express: addresses, SPI, reqid, mode, algorithms and
// keys, encapsulation, anti-replay window, initial sequence numbers, ESN, lifetimes, selector.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "base/huge_arena.hpp"
#include "base/ip_address.hpp"
#include "base/result.hpp"
#include "base/strong_int.hpp"
#include "esp/esp_algorithms.hpp"
#include "packet/packet_meta.hpp"
#include "policy/traffic_selector.hpp"

namespace uipsec {

enum class IpsecMode : std::uint8_t { kTunnel, kTransport };

// Which way an SA carries traffic. Linux states have no direction (XFRMA_SA_DIR is optional):
// kAny SAs serve both lookups, as `ip xfrm state` users expect.
enum class SaDirection : std::uint8_t { kAny, kIn, kOut };

// Identifies an SA as Linux does: destination address, SPI (protocol is always ESP).
struct SaId {
  IpAddress destination;
  Spi spi;
  friend bool operator==(const SaId&, const SaId&) = default;
  friend auto operator<=>(const SaId&, const SaId&) = default;
  std::string to_string() const;
};

// One set of limits; 0 means no limit. Time limits count seconds since the SA was added and since
// its first use.
struct LifetimeLimits {
  std::uint64_t bytes = 0;
  std::uint64_t packets = 0;
  std::uint64_t add_seconds = 0;
  std::uint64_t use_seconds = 0;
  bool unlimited() const {
    return bytes == 0 && packets == 0 && add_seconds == 0 && use_seconds == 0;
  }
  friend bool operator==(const LifetimeLimits&, const LifetimeLimits&) = default;
};

// Soft limits raise an expire event (the IKE daemon rekeys); hard limits also stop the SA.
struct Lifetimes {
  LifetimeLimits soft;
  LifetimeLimits hard;
  friend bool operator==(const Lifetimes&, const Lifetimes&) = default;
};

// ESP in UDP (RFC 3948): the ports, and for transport mode behind NAT the original address of
// the peer, which the inner TCP/UDP checksums were computed with (`encap ... OADDR`).
struct UdpEncapsulation {
  std::uint16_t source_port = 4500;
  std::uint16_t destination_port = 4500;
  std::optional<IpAddress> original_address;
  friend bool operator==(const UdpEncapsulation&, const UdpEncapsulation&) = default;
};

// The addresses an SA uses on the wire; update_sa() replaces them without a rekey (NAT mapping
// changes, MOBIKE).
// An SA's current endpoints object (SecurityAssociation::endpoints) is read per packet: it comes
// from the shared HugeArena like the SA.
struct SaEndpoints {
  UIPSEC_HUGE_ARENA_ALLOCATED
  IpAddress source;
  IpAddress destination;
  std::optional<UdpEncapsulation> encapsulation;  // nullopt: raw ESP (IP protocol 50)
  friend bool operator==(const SaEndpoints&, const SaEndpoints&) = default;
};

// The `ip xfrm state ... flag` values uipsec implements so far. (ECN/DSCP handling and following
// a peer's new address come with the Linux backend.)
struct SaFlags {
  bool esn = false;  // `flag esn`: 64-bit sequence numbers
  // `flag follow-peer` (uipsec's own): when an authentic, new (anti-replay) ESP-in-UDP packet
  // arrives from another address or port than the SA's peer, the SA and the outbound SAs to that
  // peer move there (port float after a NAT rebinding; PeerFollower). Needs ESP in UDP and a
  // replay window: a replayed packet from elsewhere must not move the tunnel.
  bool follow_peer = false;
  // `flag nat-keepalive` (uipsec's own, set by the IKE daemon when it finds us behind a NAT):
  // on an outbound ESP-in-UDP SA, send NAT-keepalives (RFC 3948 §2.3) to its peer whenever no
  // ESP went there for uipsec.nat_keepalive_interval (backend/nat_keepalive.hpp).
  bool nat_keepalive = false;
  // Tunnel mode, DSCP and ECN between inner and outer header (esp/tunnel_tos.hpp, RFC 6040):
  bool no_ecn = false;           // `flag noecn`: no ECN in the outer header, outer ECN ignored
  bool decap_dscp = false;       // `flag decap-dscp`: the outer DSCP replaces the inner one
  bool dont_encap_dscp = false;  // `extra-flag dont-encap-dscp`: the outer DSCP is 0
  friend bool operator==(const SaFlags&, const SaFlags&) = default;
};

struct SaConfig {
  SaEndpoints endpoints;
  Spi spi;
  Reqid reqid;
  IpsecMode mode = IpsecMode::kTunnel;
  SaDirection direction = SaDirection::kAny;
  EspAlgorithms algorithms;
  std::uint32_t replay_window = 0;      // packets; 0 turns anti-replay off
  std::uint64_t inbound_sequence = 0;   // replay-seq-hi:replay-seq, the replay window's top
  std::uint64_t outbound_sequence = 0;  // replay-oseq-hi:replay-oseq, the last number sent
  SaFlags flags;
  Lifetimes lifetimes;
  std::optional<TrafficSelector> selector;  // `sel`: inner packets must match (RFC 4301 §5.2)

  SaId id() const { return SaId{endpoints.destination, spi}; }
  // Everything that does not depend on other SAs: addresses of one family, SPI >= 256, the
  // algorithms (validate()), window size, initial sequence numbers below the 32-bit limit
  // without ESN, soft limits below hard limits. Messages name the field.
  Result<void> validate() const;

  friend bool operator==(const SaConfig&, const SaConfig&) = default;
};

}  // namespace uipsec
