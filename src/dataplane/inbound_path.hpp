// InboundPath: datagrams from the peer in (ESP in UDP or raw ESP), decrypted IP packets for the
// TUN device out — one batch at a time (RFC 4301 §5.2, RFC 3948 §3).
//
// Flow, per packet of a batch:
//   1. ESP in UDP: keepalive (0xff) -> kNatKeepalive; non-ESP marker -> IKE (kPassToIke, or
//      kIkeNoHandler without an IKE daemon); too short -> kTruncated
//   2. the SA by (SPI, local address) (SaDatabase::find_inbound)   none -> kUnknownSpi
//   3. ESP in UDP for a raw-ESP SA or the reverse -> kEncapsulationMismatch;
//      SA past its hard limit -> kSaExpired
//   4. esp_open: replay check, ICV, decrypt, trailer (esp_packet.hpp) — verdicts from there
//   5. decapsulate by mode: tunnel checks the inner packet, transport rebuilds the IP header
//   6. parse the inner packet                                     not IP -> kBadInnerPacket
//      it must match the SA's selector, when it has one -> kSelectorMismatch
//   7. the inbound policy check (RFC 4301 §5.2; the rule in docs/POLICY.md, check_policy): the
//      best IN policy for the inner packet, else the best FWD policy, must be PROTECT with a
//      template this SA fits (reqid, mode, tunnel addresses) — or BYPASS, for a transport-mode
//      SA. DISCARD -> kInboundPolicyDiscard; another SA's template, or BYPASS for a tunnel-mode
//      SA -> kInboundTemplateMismatch; no policy -> kInboundNoPolicy for a tunnel-mode SA
//      without a selector while the SPD has IN or FWD policies, else accepted
//   8. count on SA and policy (soft/hard expire events); a UDP-encapsulated packet from a new
//      address or port raises a mapping event (only now, after it authenticated)
//
// process() runs steps 1-2 for the whole batch first, in passes that start loading (prefetch)
// what the next pass reads — the SA's hash slot, the SA, its endpoints and EspTransform, the
// AEAD — so that the cache misses of all packets overlap (as OutboundPath does; with 100 000 SAs
// they are most of a packet's cost). Then steps 3-8 per packet in order, with the SA found.
// The inbound policy check (step 7) still looks up the SPD without prefetching: the inner
// addresses are known only after the packet was opened.
//
// Owner: one worker thread, an online QSBR reader. The replay windows of the SAs it opens are
// its own: the dataplane gives all packets of one inbound SA to one worker.
#pragma once

#include <array>
#include <optional>
#include <span>

#include "base/clock.hpp"
#include "dataplane/dataplane_context.hpp"
#include "dataplane/pending_counts.hpp"
#include "packet/packet_batch.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

class InboundPath {
 public:
  InboundPath(Dataplane& dataplane, std::size_t worker, WorkerCounters& counters)
      : dataplane_(dataplane), worker_(worker), counters_(counters) {}

  // Packets carry meta.encapsulation, meta.remote (sender) and meta.local (our address and
  // port). Fills batch.verdicts[i]; kDeliverToTun packets hold the inner IP packet.
  void process(PacketBatch& batch, Timestamp now);

 private:
  // What steps 1-2 found for one packet: a verdict already (not ESP, or too short), or the SPI
  // and the SA (nullptr: unknown SPI).
  struct Lookup {
    std::optional<Verdict> verdict;
    Spi spi;
    SecurityAssociation* sa = nullptr;
    const SecurityAssociation* likely_sa = nullptr;  // prefetching only: before find_inbound
  };
  // process() without flushing the pending counts.
  void process_batch(PacketBatch& batch, Timestamp now);
  // Step 1 for one packet: sets found.verdict, or found.spi for an ESP packet.
  void screen(PacketBuffer& packet, Lookup& found);
  // Steps 1-2 for a whole batch, in prefetching passes.
  void look_up_batch(PacketBatch& batch, std::span<Lookup> found);
  // Steps 3-8 for an ESP packet through `sa` (nullptr: unknown SPI).
  Verdict process_one(PacketBuffer& packet, SecurityAssociation* sa, Timestamp now);
  // Step 7 for an authentic inner packet that arrived through `sa`; counts the policy that
  // accepts it.
  Verdict check_policy(const SecurityAssociation& sa, const IpPacketInfo& inner, Timestamp now);
  void check_mapping(SecurityAssociation& sa, const PacketMeta& meta, Timestamp now);
  static Verdict combine_tos(const SecurityAssociation& sa, std::uint8_t outer_tos,
                             PacketBuffer& packet);

  Dataplane& dataplane_;
  const std::size_t worker_;
  WorkerCounters& counters_;
  // How many packets ahead of the one being opened process() prefetches the AEAD key block.
  static constexpr std::size_t kCryptoAhead = 4;
  // process()'s per-packet lookups (a member: no initialisation per call).
  std::array<Lookup, kMaxBatch> lookups_;
  // check_policy()'s last SPD answer, for the next packet with the same selectors; valid within
  // one process() call only.
  struct LastCheck {
    bool valid = false;
    IpPacketInfo inner;
    Policy* policy = nullptr;
  };
  LastCheck last_check_;
  // Policy and SA counts of the current run of packets (pending_counts.hpp); flushed before
  // process() returns.
  PendingPolicyCounts pending_policy_;
  PendingSaCounts pending_sa_;
};

}  // namespace uipsec
