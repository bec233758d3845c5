// SecurityAssociation: one installed SA as the packet path uses it — the immutable
// configuration, the crypto contexts, and the mutable state: outbound sequence, replay window,
// counters and lifetime status (RFC 4301 §4.4.2).
//
// Ownership of the mutable state:
// - outbound sequence, counters, lifetime flags: atomics; any worker may update them.
// - replay window: the one worker that opens this SA's packets (the dataplane sends all packets
//   of an inbound SA to one worker).
// - transform(w): worker w only.
// - endpoints: replaced by the control thread (update_sa); the old object is retired through QSBR.
// The SaDatabase (control thread) creates and retires SA objects; readers use them between
// quiescent points.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/clock.hpp"
#include "base/counter.hpp"
#include "base/huge_arena.hpp"
#include "base/prefetch.hpp"
#include "base/result.hpp"
#include "esp/esp_transform.hpp"
#include "esp/replay_window.hpp"
#include "esp/sequence_number.hpp"
#include "esp/tunnel_tos.hpp"
#include "sa/sa_config.hpp"

namespace uipsec {

struct SaCounters {
  SharedCounter bytes;    // inner bytes sealed or opened
  SharedCounter packets;  // packets sealed or opened
  SharedCounter replay_drops;
  SharedCounter authentication_failures;
  SharedCounter other_drops;  // padding, trailer, selector, no room ...
  // Highest sequence number opened, mirrored from the worker-owned replay window for queries.
  std::atomic<std::uint64_t> highest_inbound_sequence{0};
  std::atomic<std::int64_t> first_use_ns{0};  // 0: never used
  std::atomic<std::int64_t> last_use_ns{0};
  // Rate limit of mapping events: when the last one was raised.
  std::atomic<std::int64_t> last_mapping_event_ns{0};
};

// What a lifetime check found.
enum class LifetimeEvent : std::uint8_t { kNone, kSoft, kHard };

// How many outbound sequence numbers before the end of the space an SA raises its soft expire,
// so that the IKE daemon rekeys before the SA must stop (RFC 4303 §3.3.3: a new SA before the
// counter would wrap). 2^24 packets is 0.4 % of the 32-bit space and lasts about 10 s at one
// core's rate (the outbound path takes ~650 ns per packet; docs/BENCHMARKS.md), time enough for
// a CREATE_CHILD_SA exchange. With ESN the space is 2^64, so it practically never fires.
// 0 turns the check off (only the configured lifetimes raise soft expires).
inline constexpr std::uint64_t kDefaultSequenceMargin = std::uint64_t{1} << 24;

// SecurityAssociation::sequence_reserved() of an SA without a persisted reservation.
inline constexpr std::uint64_t kUnreservedSequence = ~std::uint64_t{0};

// Cache-line aligned: the hot fields (kHotBytes) start a line.
// Allocated from the shared HugeArena (base/huge_arena.hpp), as are its EspTransforms, its
// endpoints and (ipsec-mb) its key blocks: at 100 000 SAs a packet's SA objects lie in huge pages.
class alignas(kCacheLine) SecurityAssociation {
 public:
  UIPSEC_HUGE_ARENA_ALLOCATED
  // Validates `config` and builds one crypto context per worker. `sequence_margin`: see
  // kDefaultSequenceMargin.
  static Result<std::unique_ptr<SecurityAssociation>> create(
      SaConfig config, std::size_t workers, Timestamp now,
      std::uint64_t sequence_margin = kDefaultSequenceMargin);
  ~SecurityAssociation();

  const SaConfig& config() const { return config_; }
  SaId id() const { return SaId{endpoints().destination, spi_}; }
  // Copies of configuration the packet path reads, among its other hot fields (see the layout
  // note at the members).
  Spi spi() const { return spi_; }
  Reqid reqid() const { return reqid_; }
  IpsecMode mode() const { return mode_; }
  bool esn() const { return esn_; }
  TosOptions tos_options() const { return tos_options_; }
  // Whether config().selector is set (inner packets must match it).
  bool has_selector() const { return has_selector_; }
  Timestamp added_at() const { return added_at_; }

  // Current wire addresses; valid until the caller's next quiescent point.
  const SaEndpoints& endpoints() const { return *endpoints_.load(std::memory_order_acquire); }
  // Control thread: installs new endpoints and returns the old object, which the caller retires.
  std::unique_ptr<const SaEndpoints> exchange_endpoints(std::unique_ptr<const SaEndpoints> next);

  // Precondition: worker < worker count given to create().
  EspTransform& transform(std::size_t worker) { return transforms_[worker]; }
  // What the packet path reads of the object itself: its first kHotBytes (SaDatabase's
  // prefetch_*_sa load them).
  static constexpr std::size_t kHotBytes = 4 * kCacheLine;
  // Packet path, for batches: starts loading what a find and a packet read behind this SA's
  // pointers — its endpoints and worker `worker`'s EspTransform (whose AEAD comes a pass later:
  // EspTransform::prefetch_aead). Call it when the SA object itself is cached
  // (SaDatabase::prefetch_*_sa a pass earlier), or it waits for it.
  void prefetch_references(std::size_t worker) const {
    prefetch_object(endpoints_.load(std::memory_order_acquire));
    prefetch_object(&transforms_[worker]);
  }
  OutboundSequence& outbound_sequence() { return outbound_sequence_; }
  const OutboundSequence& outbound_sequence() const { return outbound_sequence_; }
  ReplayWindow& replay_window() { return replay_window_; }
  const ReplayWindow& replay_window() const { return replay_window_; }
  SaCounters& counters() { return counters_; }
  const SaCounters& counters() const { return counters_; }

  // Packet path: counts one packet of `bytes` and checks the byte and packet limits. Returns
  // kSoft or kHard exactly once each, when a limit is first crossed (the caller raises the
  // event); afterwards kNone.
  LifetimeEvent account(std::size_t bytes, Timestamp now);
  // Whether the SA has byte or packet limits: only then must account() see every packet as it
  // goes; otherwise a path may count a run of packets at once (account_run).
  bool has_volume_limits() const { return has_volume_limits_; }
  // Packet path, for an SA without volume limits: counts `packets` packets of `bytes` bytes in
  // all, used at `now` — one atomic add per counter for the whole run.
  void account_run(std::uint64_t packets, std::uint64_t bytes, Timestamp now);
  // Control path (timer): checks the time limits the same way.
  LifetimeEvent check_time(Timestamp now);
  // Packet path, after OutboundSequence::next() handed out `seq`: kSoft once, when at most the
  // sequence margin is left (remaining() <= margin); otherwise kNone. One comparison until then.
  LifetimeEvent check_sequence(std::uint64_t seq) {
    if (seq < soft_sequence_) return LifetimeEvent::kNone;
    if (soft_fired_.load(std::memory_order_relaxed)) return LifetimeEvent::kNone;
    return raise(true, false);
  }
  // The first sequence number that raises the soft expire (margin 0: 2^64 - 1, which only the
  // last packet of an ESN SA could carry).
  std::uint64_t soft_sequence() const { return soft_sequence_; }
  // Packet path: marks the sequence space as exhausted (hard) — returns kHard once.
  LifetimeEvent expire_hard();
  bool hard_expired() const { return hard_expired_.load(std::memory_order_relaxed); }
  bool soft_expired() const { return soft_fired_.load(std::memory_order_relaxed); }

  // The highest outbound sequence number that may be sent: a restart continues above a bound
  // persisted before it was raised (daemon/sequence_store.hpp). kUnreservedSequence: no bound.
  // The control thread raises it (release) after the bound is on disk; the packet path reads it.
  std::uint64_t sequence_reserved() const {
    return sequence_reserved_.load(std::memory_order_acquire);
  }
  void set_sequence_reserved(std::uint64_t bound) {
    sequence_reserved_.store(bound, std::memory_order_release);
  }
  // Packet path, before OutboundSequence::next(): true when the reserved numbers are used up
  // but the space is not (so an exhausted SA still reports its hard expire).
  bool sequence_unreserved() const {
    const std::uint64_t last = outbound_sequence_.last();
    return last >= sequence_reserved() && last < outbound_sequence_.limit();
  }

 private:
  SecurityAssociation(SaConfig config, Timestamp now, std::uint64_t sequence_margin);
  LifetimeEvent raise(bool soft_crossed, bool hard_crossed);
  // Adds to the byte and packet counters and notes the use (first and last).
  void count(std::uint64_t packets, std::uint64_t bytes, Timestamp now);

  // Layout: what a packet reads comes first, in kHotBytes (4 cache lines), so that a batch
  // prefetches 4 lines per SA instead of the whole object's 9; the configuration, of which the
  // packet path reads only the copies here, comes after.
  std::atomic<const SaEndpoints*> endpoints_;
  std::vector<EspTransform, HugeArenaAllocator<EspTransform>> transforms_;
  OutboundSequence outbound_sequence_;
  const std::uint64_t soft_sequence_;
  std::atomic<std::uint64_t> sequence_reserved_{kUnreservedSequence};
  ReplayWindow replay_window_;
  const Spi spi_;
  const Reqid reqid_;
  const IpsecMode mode_;
  const bool esn_;
  const bool has_selector_;
  const TosOptions tos_options_;
  std::atomic<bool> soft_fired_{false};
  std::atomic<bool> hard_expired_{false};
  SaCounters counters_;
  // Byte and packet limits (account() per packet); the time limits stay in config_.
  const LifetimeLimits soft_limits_;
  const LifetimeLimits hard_limits_;
  const bool has_volume_limits_;

  const SaConfig config_;
  const Timestamp added_at_;
};

}  // namespace uipsec
