// DropReason: why the packet path dropped (or quietly consumed) a packet. Every drop is a counted
// verdict with one of these reasons; `uipsec stats` shows each counter by its name.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uipsec {

// The X-macro keeps the enum and the names in one place. Names are stable: scripts read them.
#define UIPSEC_DROP_REASONS(X)                                                                \
  /* Inbound, before the SA is known */                                                       \
  X(kTruncated, "truncated")                  /* shorter than the headers it claims */        \
  X(kNatKeepalive, "nat-keepalive")           /* RFC 3948 single 0xff byte: consumed */       \
  X(kIkeNoHandler, "ike-no-handler")          /* non-ESP marker, no IKE daemon registered */  \
  X(kIkeQueueFull, "ike-queue-full")          /* IKE datagram, the handler's queue is full */ \
  X(kIkeTooBig, "ike-too-big")                /* IKE datagram above kMaxIkeMessage bytes */   \
  X(kUnknownSpi, "unknown-spi")               /* no inbound SA for this SPI and address */    \
  X(kEncapsulationMismatch, "encap-mismatch") /* raw ESP for a UDP SA, or the reverse */      \
  /* Inbound, per SA */                                                                       \
  X(kReplayDuplicate, "replay-duplicate")   /* sequence number already received */            \
  X(kReplayTooOld, "replay-too-old")        /* left of the anti-replay window */              \
  X(kAuthenticationFailed, "auth-failed")   /* ICV did not verify */                          \
  X(kBadPadding, "bad-padding")             /* pad bytes not 1, 2, 3, ... (RFC 4303 2.4) */   \
  X(kBadTrailer, "bad-trailer")             /* pad length beyond the payload */               \
  X(kBadNextHeader, "bad-next-header")      /* next header not allowed for the SA's mode */   \
  X(kDummyPacket, "dummy-packet")           /* next header 59: dropped silently */            \
  X(kBadInnerPacket, "bad-inner-packet")    /* decrypted packet is not a valid IP packet */   \
  X(kSelectorMismatch, "selector-mismatch") /* inner packet outside the SA's selectors */     \
  X(kEcnCeOnNotEct, "ecn-ce-not-ect")       /* outer CE, inner Not-ECT (RFC 6040 4.2) */      \
  /* the inner packet against the IN (else FWD) policies (RFC 4301 5.2, docs/POLICY.md) */    \
  X(kInboundNoPolicy, "inbound-no-policy")                 /* tunnel SA, no policy */         \
  X(kInboundPolicyDiscard, "inbound-policy-discard")       /* a DISCARD policy matched */     \
  X(kInboundTemplateMismatch, "inbound-template-mismatch") /* policy not for this SA */       \
  /* Outbound */                                                                              \
  X(kNotIp, "not-ip")                         /* TUN delivered something that is not IP */    \
  X(kNoPolicy, "no-policy")                   /* no policy matches the packet */              \
  X(kPolicyDiscard, "policy-discard")         /* a DISCARD policy matched */                  \
  X(kBypassViaTun, "bypass-via-tun")          /* BYPASS matched a packet routed to the TUN */ \
  X(kNoSa, "no-sa")                           /* PROTECT policy without an SA, not held */    \
  X(kAcquireExpired, "acquire-expired")       /* held for an acquire; no SA came in time */   \
  X(kSequenceExhausted, "sequence-exhausted") /* outbound sequence numbers used up */         \
  X(kNoRoom, "no-room")                       /* buffer lacks head- or tailroom */            \
  X(kTransportFragment, "transport-fragment") /* a fragment cannot go in transport mode */    \
  /* Outbound, over the path MTU (dataplane/path_mtu.hpp) */                                  \
  X(kPacketTooBig, "packet-too-big") /* answered with ICMP "too big" (or not answerable) */   \
  X(kPacketTooBigRateLimited, "packet-too-big-ratelimited") /* the ICMP rate was used up */   \
  /* Outbound, static SAs (daemon/sequence_store.hpp) */                                      \
  X(kSequenceUnreserved, "sequence-unreserved") /* beyond the reservation on disk */          \
  /* Either direction */                                                                      \
  X(kSaExpired, "sa-expired")         /* SA past a hard lifetime */                           \
  X(kCryptoFailure, "crypto-failure") /* the crypto library reported an error */              \
  X(kPoolExhausted, "pool-exhausted") /* no free packet buffer */                             \
  /* TUN offloads (src/offload/) */                                                           \
  X(kBadSuperPacket, "bad-super-packet") /* virtio-net header and packet disagree */          \
  X(kSegmentTooBig, "segment-too-big")   /* a segment does not fit a pool buffer */

enum class DropReason : std::uint8_t {
  kNone = 0,
#define UIPSEC_DROP_REASON_ENUM(name, text) name,
  UIPSEC_DROP_REASONS(UIPSEC_DROP_REASON_ENUM)
#undef UIPSEC_DROP_REASON_ENUM
      kCount
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);

constexpr std::string_view to_string(DropReason reason) {
  constexpr std::array<std::string_view, kDropReasonCount> kNames = {
      "none",
#define UIPSEC_DROP_REASON_NAME(name, text) text,
      UIPSEC_DROP_REASONS(UIPSEC_DROP_REASON_NAME)
#undef UIPSEC_DROP_REASON_NAME
  };
  const auto i = static_cast<std::size_t>(reason);
  return i < kNames.size() ? kNames[i] : "invalid";
}

}  // namespace uipsec
