#include "sa/security_association.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <limits>

namespace uipsec {

namespace {

// The sequence number from which at most `margin` numbers remain: limit - margin. With margin 0
// (off) a number no SA hands out before the very last one of a 64-bit space.
std::uint64_t soft_sequence_for(const OutboundSequence& sequence, std::uint64_t margin) {
  if (margin == 0) return std::numeric_limits<std::uint64_t>::max();
  return sequence.limit() - std::min(margin, sequence.limit());
}

// The byte and packet limits of `limits`, for the packet path's copy.
LifetimeLimits volume_only(const LifetimeLimits& limits) {
  LifetimeLimits volume;
  volume.bytes = limits.bytes;
  volume.packets = limits.packets;
  return volume;
}

}  // namespace

SecurityAssociation::SecurityAssociation(SaConfig config, Timestamp now,
                                         std::uint64_t sequence_margin)
    : endpoints_(new SaEndpoints(config.endpoints)),
      outbound_sequence_(config.outbound_sequence, config.flags.esn),
      soft_sequence_(soft_sequence_for(outbound_sequence_, sequence_margin)),
      replay_window_(config.replay_window, config.inbound_sequence),
      spi_(config.spi),
      reqid_(config.reqid),
      mode_(config.mode),
      esn_(config.flags.esn),
      has_selector_(config.selector.has_value()),
      tos_options_{config.flags.no_ecn, config.flags.decap_dscp, config.flags.dont_encap_dscp},
      soft_limits_(volume_only(config.lifetimes.soft)),
      hard_limits_(volume_only(config.lifetimes.hard)),
      has_volume_limits_(soft_limits_.bytes != 0 || soft_limits_.packets != 0 ||
                         hard_limits_.bytes != 0 || hard_limits_.packets != 0),
      config_(std::move(config)),
      added_at_(now) {
  // The hot fields fit the lines SaDatabase prefetches.
  assert(reinterpret_cast<const char*>(&has_volume_limits_) - reinterpret_cast<const char*>(this) <
         static_cast<std::ptrdiff_t>(kHotBytes));
}

SecurityAssociation::~SecurityAssociation() { delete endpoints_.load(std::memory_order_relaxed); }

Result<std::unique_ptr<SecurityAssociation>> SecurityAssociation::create(
    SaConfig config, std::size_t workers, Timestamp now, std::uint64_t sequence_margin) {
  UIPSEC_TRY(config.validate());
  auto first = EspTransform::create(config.algorithms);
  if (!first) return first.error().with_context("SA " + config.id().to_string());
  std::unique_ptr<SecurityAssociation> sa(
      new SecurityAssociation(std::move(config), now, sequence_margin));
  sa->transforms_.reserve(workers == 0 ? 1 : workers);
  sa->transforms_.push_back(std::move(*first));
  for (std::size_t w = 1; w < workers; ++w) {
    auto copy = sa->transforms_.front().clone();
    if (!copy) return copy.error();
    sa->transforms_.push_back(std::move(*copy));
  }
  return sa;
}

std::unique_ptr<const SaEndpoints> SecurityAssociation::exchange_endpoints(
    std::unique_ptr<const SaEndpoints> next) {
  return std::unique_ptr<const SaEndpoints>(
      endpoints_.exchange(next.release(), std::memory_order_acq_rel));
}

LifetimeEvent SecurityAssociation::raise(bool soft_crossed, bool hard_crossed) {
  if (hard_crossed && !hard_expired_.exchange(true, std::memory_order_relaxed)) {
    soft_fired_.store(true, std::memory_order_relaxed);  // a hard expire implies the soft one
    return LifetimeEvent::kHard;
  }
  if (soft_crossed && !soft_fired_.exchange(true, std::memory_order_relaxed)) {
    return LifetimeEvent::kSoft;
  }
  return LifetimeEvent::kNone;
}

void SecurityAssociation::account_run(std::uint64_t packets, std::uint64_t bytes, Timestamp now) {
  assert(!has_volume_limits_ && "an SA with volume limits counts every packet (account)");
  count(packets, bytes, now);
}

void SecurityAssociation::count(std::uint64_t packets, std::uint64_t bytes, Timestamp now) {
  counters_.bytes.add(bytes);
  counters_.packets.add(packets);
  const std::int64_t ns = now.nanoseconds();
  if (counters_.first_use_ns.load(std::memory_order_relaxed) == 0) {
    std::int64_t expected = 0;
    counters_.first_use_ns.compare_exchange_strong(expected, ns, std::memory_order_relaxed);
  }
  counters_.last_use_ns.store(ns, std::memory_order_relaxed);
}

LifetimeEvent SecurityAssociation::account(std::size_t bytes, Timestamp now) {
  count(1, bytes, now);
  if (!has_volume_limits_) return LifetimeEvent::kNone;
  const std::uint64_t total_bytes = counters_.bytes.get();
  const std::uint64_t total_packets = counters_.packets.get();
  auto crossed = [&](const LifetimeLimits& l) {
    return (l.bytes != 0 && total_bytes >= l.bytes) ||
           (l.packets != 0 && total_packets >= l.packets);
  };
  return raise(crossed(soft_limits_), crossed(hard_limits_));
}

LifetimeEvent SecurityAssociation::check_time(Timestamp now) {
  const std::int64_t since_add = (now.nanoseconds() - added_at_.nanoseconds()) / 1'000'000'000;
  const std::int64_t first_use = counters_.first_use_ns.load(std::memory_order_relaxed);
  const std::int64_t since_use =
      first_use == 0 ? -1 : (now.nanoseconds() - first_use) / 1'000'000'000;
  auto crossed = [&](const LifetimeLimits& l) {
    return (l.add_seconds != 0 && since_add >= static_cast<std::int64_t>(l.add_seconds)) ||
           (l.use_seconds != 0 && since_use >= static_cast<std::int64_t>(l.use_seconds));
  };
  return raise(crossed(config_.lifetimes.soft), crossed(config_.lifetimes.hard));
}

LifetimeEvent SecurityAssociation::expire_hard() { return raise(false, true); }

}  // namespace uipsec
