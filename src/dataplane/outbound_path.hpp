// OutboundPath: cleartext IP packets from the TUN device in, ESP packets for the peer out — one
// batch at a time (RFC 4301 §5.1).
//
// Flow, per packet of a batch:
//   1. parse the IP header (parse_ip_packet)                       not IP      -> kNotIp
//   2. SPD lookup, direction out (PolicyDatabase::lookup)          no match    -> kNoPolicy
//      DISCARD -> kPolicyDiscard; BYPASS -> Disposition::kBypass
//   3. PROTECT: the SA by template — reqid plus the tunnel's outer addresses, or the packet's own
//      addresses in transport mode (SaDatabase::find_outbound)   none -> rate-limited acquire
//      event with the packet's selector; the packet waits in the AcquireHold (Disposition::kHold)
//      if its policy's share is not used up, else kNoSa
//   4. SA past its hard limit -> kSaExpired; next sequence number  used up -> hard expire,
//      kSequenceExhausted; at most the sequence margin left -> soft expire (once)
//   5. encapsulate in the SA's mode and seal (esp_encapsulation.hpp)
//   6. count on SA and policy (soft/hard expire events), address the packet to the SA's peer
//
// process() runs steps 1-3 for the whole batch first, in passes that start loading (prefetch)
// what the next pass reads — SPD hash slots, SourceSets and trie roots, the policy, the SA's
// slot, the SA, its endpoints and EspTransform, the AEAD — so that the cache misses of all
// packets overlap instead of queueing behind each packet's crypto (DPDK's bulk lookup; with
// 100 000 SAs and policies they are most of a packet's cost: docs/BENCHMARKS.md, "Policy and SA
// tables at scale"). Then steps 2-6 per packet in order, with the pointers found: each packet's
// verdict and counters are those of a packet processed alone.
//
// Held packets (release_held), oldest first, when the SA database changed or every
// kHoldRecheckNs: waited the hold's timeout -> kAcquireExpired; otherwise steps 1-6 again (the
// policy is looked up anew, so a policy that went or changed decides), and a packet whose
// PROTECT policy still has no SA stays where it is.
//
// Owner: one worker thread, an online QSBR reader; SA and policy pointers are used only inside
// process() and release_held(). No allocation, lock or log line per packet.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "base/clock.hpp"
#include "dataplane/acquire_hold.hpp"
#include "dataplane/dataplane_context.hpp"
#include "dataplane/pending_counts.hpp"
#include "packet/packet_batch.hpp"
#include "wire/ip_packet.hpp"

namespace uipsec {

class OutboundPath {
 public:
  // How often held packets are looked up again although the SA database did not change: to
  // notice a policy that went, and to expire them close to their timeout.
  static constexpr std::int64_t kHoldRecheckNs = 10'000'000;

  // `hold`: where packets wait for an acquire (owned by the worker, outliving this path);
  // nullptr: nothing waits, a packet without an SA is dropped (kNoSa).
  OutboundPath(Dataplane& dataplane, std::size_t worker, WorkerCounters& counters,
               AcquireHold* hold = nullptr)
      : dataplane_(dataplane), worker_(worker), counters_(counters), hold_(hold) {}

  // Fills batch.verdicts[i] for every packet; kSendToPeer packets hold ESP with meta set.
  // kHold packets are in the AcquireHold now: the caller must not release or reuse them.
  void process(PacketBatch& batch, Timestamp now);

  // Appends the held packets that leave the hold — sealed (kSendToPeer), or dropped and counted
  // (kAcquireExpired, or what their new lookup decided) — to `out`, oldest first, with their
  // verdicts; the caller then owns them. Does nothing (returns 0) unless something is held and
  // the SA database changed since the last retry or kHoldRecheckNs passed. Precondition: `out`
  // has room for AcquireHold::Limits::total packets.
  std::size_t release_held(PacketBatch& out, Timestamp now);
  // Whether packets are held: the worker then wakes up every kHoldRecheckNs.
  bool holding() const { return hold_ != nullptr && !hold_->empty(); }

 private:
  // A held packet's policy still has no SA: it stays (never returned by process()).
  static constexpr Verdict kStillWaiting{Disposition::kHold, DropReason::kNoSa};
  // How many packets ahead of the one being sealed process() prefetches the AEAD key block.
  static constexpr std::size_t kCryptoAhead = 4;

  // What steps 1-3 found for one packet: its header, its policy, and for a PROTECT policy the
  // SA (nullptr: none yet). Pointers valid until the worker's next quiescent point.
  struct Lookup {
    std::optional<IpPacketInfo> info;  // nullopt: not IP
    Policy* policy = nullptr;
    SecurityAssociation* sa = nullptr;
    const SecurityAssociation* likely_sa = nullptr;  // prefetching only: before find_outbound
  };
  // process() without flushing the pending counts.
  void process_batch(PacketBatch& batch, Timestamp now);
  // Adds the runs counted in pending_policy_ and pending_sa_ to their counters.
  void flush_counts();
  // Steps 1-3 for one packet without staging (held packets).
  Lookup look_up(const PacketBuffer& packet) const;
  // The same into `found`, which holds the previous packet's lookup (or none): a packet with the
  // same selectors (same_selectors) reuses its policy and SA.
  void look_up(const PacketBuffer& packet, Lookup& found) const;
  // The template whose SA a packet needs, when its policy is PROTECT; else nullptr.
  static const PolicyTemplate* protect_template(const Lookup& found);
  // Steps 1-3 for a whole batch, in prefetching passes.
  void look_up_batch(const PacketBatch& batch, std::span<Lookup> found) const;

  // Steps 2-6 with what look_up found. `first`: the packet is new (counted on its policy, may
  // be admitted to the hold); otherwise it is a held one looked up again, and `*waiting_for`
  // receives the index of the PROTECT policy it waits for when the result is kStillWaiting.
  Verdict process_one(PacketBuffer& packet, const Lookup& found, Timestamp now, bool first,
                      PolicyIndex* waiting_for);
  void raise_acquire(Policy& policy, const IpPacketInfo& packet, Timestamp now);

  Dataplane& dataplane_;
  const std::size_t worker_;
  WorkerCounters& counters_;
  AcquireHold* const hold_;
  // The SA database generation at the last retry, and when the next retry is due regardless.
  std::uint64_t retried_generation_ = 0;
  std::int64_t next_recheck_ns_ = 0;
  // Policy and SA counts of the current run of packets (pending_counts.hpp); flushed before
  // process() and release_held() return.
  PendingPolicyCounts pending_policy_;
  PendingSaCounts pending_sa_;
  // process()'s per-packet lookups: here rather than on the stack, where 12 KiB of them would be
  // initialised on every call.
  std::array<Lookup, kMaxBatch> lookups_;
  // look_up()'s parse of the packet before it knows whether the previous lookup serves it.
  mutable IpPacketInfo parse_target_;
};

}  // namespace uipsec
