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
#include "base/result.hpp"
#include "esp/esp_transform.hpp"
#include "esp/replay_window.hpp"
#include "esp/sequence_number.hpp"
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

class SecurityAssociation {
 public:
  // Validates `config` and builds one crypto context per worker.
  static Result<std::unique_ptr<SecurityAssociation>> create(SaConfig config, std::size_t workers,
                                                             Timestamp now);
  ~SecurityAssociation();

  const SaConfig& config() const { return config_; }
  SaId id() const { return SaId{endpoints().destination, config_.spi}; }
  Spi spi() const { return config_.spi; }
  Reqid reqid() const { return config_.reqid; }
  IpsecMode mode() const { return config_.mode; }
  bool esn() const { return config_.flags.esn; }
  Timestamp added_at() const { return added_at_; }

  // Current wire addresses; valid until the caller's next quiescent point.
  const SaEndpoints& endpoints() const { return *endpoints_.load(std::memory_order_acquire); }
  // Control thread: installs new endpoints and returns the old object, which the caller retires.
  std::unique_ptr<const SaEndpoints> exchange_endpoints(std::unique_ptr<const SaEndpoints> next);

  // Precondition: worker < worker count given to create().
  EspTransform& transform(std::size_t worker) { return transforms_[worker]; }
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
  // Control path (timer): checks the time limits the same way.
  LifetimeEvent check_time(Timestamp now);
  // Control path: marks the sequence space as exhausted (hard) — returns kHard once.
  LifetimeEvent expire_hard();
  bool hard_expired() const { return hard_expired_.load(std::memory_order_relaxed); }
  bool soft_expired() const { return soft_fired_.load(std::memory_order_relaxed); }

 private:
  SecurityAssociation(SaConfig config, Timestamp now);
  LifetimeEvent raise(bool soft_crossed, bool hard_crossed);

  const SaConfig config_;
  const Timestamp added_at_;
  std::atomic<const SaEndpoints*> endpoints_;
  std::vector<EspTransform> transforms_;
  OutboundSequence outbound_sequence_;
  ReplayWindow replay_window_;
  SaCounters counters_;
  std::atomic<bool> soft_fired_{false};
  std::atomic<bool> hard_expired_{false};
};

}  // namespace uipsec
